"""Run one shell command as its own process group: capped output, a timeout, nothing left behind.

Shared by the sandbox's environments; the policy (what is visible, which processes count as the
command's) lives in ``sandbox``.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from pytest_realfin.errors import SandboxError

__all__ = ["base_env", "python_path_var", "python_prefixes", "run_capped"]

_READ_CAP_BYTES = 512 * 1024
"""Head and tail kept from a command's output; the agent truncates far below this anyway."""
_BASH = shutil.which("bash") or "/bin/bash"
# `ulimit -f` runs in the command's own shell, on the command's first line (so bash's line numbers
# are the command's own). Measured from a worker-sized process, per command: this 3.7 ms of CPU,
# a wrapper shell exec'ing a second bash 5.6 ms, a preexec_fn setrlimit 12 ms (it forces a full
# fork of the pytest process instead of vfork).
_LIMIT = "ulimit -f {blocks} || exit 125; "


def base_env(home: str, path: str, marker: str | None = None) -> dict[str, str]:
    """The whole environment of a command, rebuilt from nothing so no API key reaches the agent."""
    env = {
        "PATH": path,
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "PAGER": "cat",
        "MANPAGER": "cat",
        "LESS": "-R",
        "PIP_PROGRESS_BAR": "off",
        "TQDM_DISABLE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        # xdist runs several agents per core: one BLAS thread each keeps them from thrashing.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
    }
    if marker is not None:
        env["REALFIN_SANDBOX_ID"] = marker
    return env


def python_prefixes() -> tuple[Path, ...]:
    """The running Python's prefixes outside /usr: what a sandbox must show for python3 to work."""
    prefixes = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return tuple(sorted(p for p in prefixes if not p.is_relative_to("/usr")))


def python_path_var() -> str:
    """PATH for commands: this Python's ``bin`` first (not a pyenv shim), then the system's."""
    bins = [str(p / "bin") for p in (Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve())]
    return ":".join(dict.fromkeys([*bins, "/usr/local/bin", "/usr/bin", "/bin"]))


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for exit without reaping (so the group id cannot be reused); True if it timed out."""
    try:
        fd = os.pidfd_open(proc.pid)
    except OSError:  # pragma: no cover - kernels before 5.3
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return True
        return False
    try:
        ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
        return not ready
    finally:
        os.close(fd)


def _read_capped(out: IO[bytes]) -> str:
    size = out.seek(0, os.SEEK_END)
    out.seek(0)
    if size <= 2 * _READ_CAP_BYTES:
        data = out.read()
    else:
        head = out.read(_READ_CAP_BYTES)
        out.seek(size - _READ_CAP_BYTES)
        elided = size - 2 * _READ_CAP_BYTES
        data = head + f"\n[... {elided} bytes not kept ...]\n".encode() + out.read()
    return data.decode("utf-8", errors="replace")


def run_capped(
    prefix: list[str],
    command: str,
    *,
    cwd: str,
    env: dict[str, str],
    timeout: float,
    cap_bytes: int,
) -> tuple[str, int, bool, float]:
    """Run ``command`` under ``prefix`` (e.g. bwrap's argv) in a new session.

    Returns:
        ``(output, returncode, timed_out, duration_s)``; every process left in the group is killed.

    Raises:
        SandboxError: the process could not be started.
    """
    limit = _LIMIT.format(blocks=max(1, cap_bytes // 1024))
    full = [*prefix, _BASH, "-c", limit + command]
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                full,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            msg = f"sandbox: cannot start {full[0]!r} ({exc}); check that it is installed"
            raise SandboxError(msg) from exc
        try:
            timed_out = _wait(proc, timeout)
        finally:
            _kill_group(proc.pid)
            returncode = proc.wait()
        duration = time.perf_counter() - start
        return _read_capped(out), returncode, timed_out, duration
