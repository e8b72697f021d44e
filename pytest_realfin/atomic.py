"""Atomic file writes: every file a run writes is replaced whole, never seen half-written.

One helper for results, trajectories and workspace files, so they share one temp-file scheme and
get the same, ordinary permissions (``mkstemp`` alone would leave ``0600`` files behind).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()
"""What ``open()`` would have created: read-write for the owner, readable as the umask allows."""


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a unique temp file in the same folder.

    The temp file is renamed over ``path`` with ``os.replace``, so a reader (resume, a crashed
    run's post-mortem, another xdist worker) sees the old file or the new one, never a mix.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).chmod(_MODE)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
