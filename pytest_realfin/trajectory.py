"""The trajectory: a versioned JSON record of one agent run, rewritten atomically after each step.

A crash leaves the file current up to the last finished step (mini-swe-agent saves in ``finally``;
we also save as we go). Everything written passes through a ``Scrubber``, so API-key values and the
sandbox's host paths never reach the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_realfin.atomic import write_text_atomic

__all__ = [
    "SECRET_SUFFIXES",
    "TRAJECTORY_FORMAT",
    "TRAJECTORY_SCHEMA_VERSION",
    "Scrubber",
    "TrajectoryRecorder",
    "scrub",
    "secret_values",
    "utc_now",
]

TRAJECTORY_SCHEMA_VERSION = 1
"""Bumped on any incompatible change to the file's keys."""
TRAJECTORY_FORMAT = "pytest-realfin-trajectory"
SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET")
"""Environment variables whose names end so are treated as secrets."""
_MIN_SECRET_LEN = 8
"""Shorter values (``1``, ``true``) would blank out ordinary text and are too weak to be keys."""


def secret_values(
    environ: Mapping[str, str] | None = None, names: Sequence[str] = ()
) -> dict[str, str]:
    """Values of the secret variables in ``environ`` (default: ``os.environ``), by name.

    A variable is secret when its name ends in a ``SECRET_SUFFIXES`` entry, or when it is one of
    ``names``: the variable the user named for the API key (``--realfin-api-key-env``) may be
    called anything, and its value must be hidden whatever it is called.
    """
    env = os.environ if environ is None else environ
    named = set(names)
    return {
        name: value
        for name, value in env.items()
        if (name in named or name.upper().endswith(SECRET_SUFFIXES))
        and len(value) >= _MIN_SECRET_LEN
    }


@dataclass(frozen=True)
class Scrubber:
    """Replaces secrets and host paths in every string of a JSON-able value.

    Attributes:
        replacements: ``(needle, shown)`` pairs, longest needle first so that a path is replaced
            before any path it contains.
    """

    replacements: tuple[tuple[str, str], ...] = ()

    @classmethod
    def build(
        cls,
        paths: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        names: Sequence[str] = (),
    ) -> Scrubber:
        """Scrub ``paths`` (host path to what is shown instead) and the secrets of ``environ``.

        ``names`` are variables that are secret whatever their names (see ``secret_values``).
        """
        secrets = secret_values(environ, names)
        pairs = {value: f"[REDACTED:{name}]" for name, value in secrets.items()}
        for host, shown in (paths or {}).items():
            if host != shown:
                pairs[host] = shown
        return cls.of(pairs)

    @classmethod
    def of(cls, pairs: Mapping[str, str]) -> Scrubber:
        """From ``needle -> shown`` pairs, longest needle first; empty needles are dropped."""
        kept = ((needle, shown) for needle, shown in pairs.items() if needle)
        return cls(tuple(sorted(kept, key=lambda kv: -len(kv[0]))))

    def text(self, value: str) -> str:
        """``value`` with every needle replaced."""
        for needle, shown in self.replacements:
            if needle in value:
                value = value.replace(needle, shown)
        return value

    def dumps(self, obj: Any) -> str:
        """``obj`` as scrubbed compact JSON, replacing needles in the encoded text.

        Needles are replaced in their JSON-escaped form, which is how any string containing them is
        encoded, so nothing is missed; walking the value is the fallback when a replacement would
        break the document (a digits-only secret inside a number). This keeps the per-step save
        to the C encoder's speed.
        """
        text = json.dumps(obj, ensure_ascii=False)
        scrubbed = text
        for needle, shown in self.replacements:
            encoded = json.dumps(needle, ensure_ascii=False)[1:-1]
            if encoded in scrubbed:
                scrubbed = scrubbed.replace(encoded, json.dumps(shown, ensure_ascii=False)[1:-1])
        if scrubbed != text:
            try:
                json.loads(scrubbed)
            except ValueError:
                return json.dumps(self.value(obj), ensure_ascii=False)
        return scrubbed

    def value(self, obj: Any) -> Any:
        """A copy of a JSON-able value with every string (keys included) scrubbed."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in obj.items()}
        if isinstance(obj, Sequence) and not isinstance(obj, bytes | bytearray):
            return [self.value(v) for v in obj]
        return obj


def scrub(
    obj: Any,
    *,
    paths: Mapping[str, str] | Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Any:
    """Remove secret values (``*_KEY``, ``*_TOKEN``, ``*_SECRET`` variables) and host paths.

    Args:
        obj: a string or a JSON-able value.
        paths: host paths to hide, either mapped to what is shown instead or as a plain sequence
            (shown as ``<host-path>``).
        environ: where the secrets are read from (default: ``os.environ``).
    """
    mapping = paths if isinstance(paths, Mapping) else dict.fromkeys(paths, "<host-path>")
    return Scrubber.build(mapping, environ).value(obj)


def utc_now() -> str:
    """The current UTC time as an ISO 8601 string with milliseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class TrajectoryRecorder:
    """Holds one run's trajectory and rewrites its file after every change that matters.

    The file is written to a temporary sibling and renamed over the old one, so a reader (or a
    crash) only ever sees a complete JSON document. With ``path=None`` nothing is written.
    """

    def __init__(self, path: Path | None, header: Mapping[str, Any], scrubber: Scrubber) -> None:
        self.path = path
        self.scrubber = scrubber
        self.data: dict[str, Any] = {
            "schema_version": TRAJECTORY_SCHEMA_VERSION,
            "format": TRAJECTORY_FORMAT,
            **header,
            "started_at": utc_now(),
            "finished_at": None,
            "exit_status": None,
            "error": None,
            "turns": 0,
            "format_errors": 0,
            "usage": None,
            "duration_s": None,
            "warnings": [],
            "messages": [],
            "steps": [],
        }
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def update(self, **fields: Any) -> None:
        """Set top-level fields (not yet written)."""
        self.data.update(fields)

    def save(self) -> None:
        """Write the scrubbed trajectory atomically (temp file, then ``os.replace``)."""
        if self.path is None:
            return
        write_text_atomic(self.path, self.scrubber.dumps(self.data) + "\n")
