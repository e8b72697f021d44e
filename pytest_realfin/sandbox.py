"""Where agent commands run: a bubblewrap sandbox, or a plain subprocess that isolates nothing.

Each command is a fresh ``bash -c`` (mini-swe-agent's model: no persistent shell), stdout and stderr
folded into one capped text, file writes capped by ``RLIMIT_FSIZE``, and every process it started
killed when it ends or times out, so nothing an agent leaves behind outlives its turn.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import shutil
import signal
import tempfile
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from pytest_realfin._process import base_env, python_path_var, python_prefixes, run_capped
from pytest_realfin.errors import SandboxError

__all__ = [
    "DEFAULT_OUTPUT_CAP_BYTES",
    "SANDBOX_WORKSPACE",
    "BwrapEnvironment",
    "Environment",
    "EnvironmentKind",
    "ExecResult",
    "LocalEnvironment",
    "UnsandboxedWarning",
    "bwrap_problem",
    "make_environment",
]

SANDBOX_WORKSPACE = "/workspace"
"""The workspace path as the agent sees it, in every environment."""
DEFAULT_OUTPUT_CAP_BYTES = 64 * 1024 * 1024
"""Largest file a command may write (``RLIMIT_FSIZE``); stdout counts as a file too."""

EnvironmentKind = Literal["auto", "bwrap", "local"]
_BWRAP = "/usr/bin/bwrap"
_ETC_FILES = ("passwd", "group", "nsswitch.conf", "ld.so.cache", "localtime", "mime.types")
"""Copied into the sandbox's /etc (with the ``alternatives`` links): names, libraries, time zone."""


class UnsandboxedWarning(UserWarning):
    """Agent commands run as plain subprocesses: they reach whatever the user can."""


@dataclass(frozen=True)
class ExecResult:
    """What one command did, as the agent will be told."""

    output: str
    """stdout and stderr combined, decoded as UTF-8 (bad bytes replaced), host paths rewritten."""
    returncode: int
    timed_out: bool
    duration_s: float


@runtime_checkable
class Environment(Protocol):
    """A place to run one agent's bash commands; ``isolated`` is False when it protects nothing."""

    name: str
    isolated: bool
    host_paths: tuple[str, ...]
    """Host paths behind the sandbox's view, which must never appear in a trajectory."""

    def execute(self, command: str, timeout: float) -> ExecResult:
        """Run ``command`` in ``/workspace``; a timeout kills it and everything it started."""
        ...

    def close(self) -> None:
        """Kill anything left over; the environment is unusable afterwards."""
        ...


class _Folders:
    """The set-up both environments share: checked folders, the write cap, the open/closed state.

    A stale ``api_cache`` link (an earlier local environment's) is removed; each subclass then
    puts its own kind of mount point there.
    """

    def __init__(self, workspace: Path, data_dir: Path, output_cap_bytes: int) -> None:
        for what, path in (("workspace", workspace), ("data_dir", data_dir)):
            if not path.is_dir():
                msg = f"sandbox: {what}={str(path)!r} is not a directory; create it first"
                raise SandboxError(msg)
        self.workspace, self.data_dir = workspace.resolve(), data_dir.resolve()
        self.output_cap_bytes = output_cap_bytes
        self.host_paths: tuple[str, ...] = (str(self.workspace), str(self.data_dir))
        self._api_cache = self.workspace / "api_cache"
        if self._api_cache.is_symlink():
            self._api_cache.unlink()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            msg = "sandbox: execute() after close(); create a new environment per attempt"
            raise SandboxError(msg)


class BwrapEnvironment(_Folders):
    """Bubblewrap: the workspace read-write at /workspace, the data read-only, no network, no keys.

    Only ``/usr`` (with the ``/bin``, ``/lib*`` links), a few ``/etc`` files and the running
    Python's prefix are visible besides the workspace; ``/tmp`` is fresh per command. Each command
    gets its own PID namespace, so when it exits or is killed, every process it started dies too.
    """

    name = "bwrap"
    isolated = True

    def __init__(
        self, workspace: Path, data_dir: Path, *, output_cap_bytes: int = DEFAULT_OUTPUT_CAP_BYTES
    ) -> None:
        super().__init__(workspace, data_dir, output_cap_bytes)
        self._api_cache.mkdir(exist_ok=True)
        self._argv = _bwrap_argv(self.workspace, self.data_dir)
        self._env = base_env(SANDBOX_WORKSPACE, python_path_var())

    def execute(self, command: str, timeout: float) -> ExecResult:
        """Run one command in a fresh sandbox; see ``Environment.execute``."""
        self._check_open()
        text, rc, timed_out, duration = run_capped(
            self._argv,
            command,
            cwd=str(self.workspace),
            env=self._env,
            timeout=timeout,
            cap_bytes=self.output_cap_bytes,
        )
        if rc == 1 and text.startswith("bwrap:"):
            msg = f"sandbox: bwrap failed: {text.strip().splitlines()[0]}"
            raise SandboxError(msg)
        return ExecResult(text, rc, timed_out, duration)

    def close(self) -> None:
        """Nothing outlives a command here; only marks the environment closed."""
        self._closed = True


def _etc_stage() -> Path:
    """A private copy of the few /etc entries commands need, made once per process.

    One bind mount of this folder costs less than one per file (each mount is a measurable part of
    a sandboxed command's start-up) and shows nothing else of the host's /etc.
    """
    stage = _make_etc_stage(os.getpid())  # per pid: a forked child must not share the parent's
    if not stage.is_dir():  # removed under us (a tmp cleaner): make a new one
        _make_etc_stage.cache_clear()
        stage = _make_etc_stage(os.getpid())
    return stage


def _remove_stage(stage: Path, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(stage, ignore_errors=True)


@functools.cache
def _make_etc_stage(pid: int) -> Path:
    stage = Path(tempfile.mkdtemp(prefix="realfin-etc-"))
    atexit.register(_remove_stage, stage, pid)
    for name in _ETC_FILES:
        with contextlib.suppress(OSError):
            shutil.copyfile(Path("/etc", name), stage / name)  # follows links (localtime)
    (stage / "alternatives").mkdir()
    with contextlib.suppress(OSError):
        for entry in Path("/etc/alternatives").iterdir():
            if entry.is_symlink():
                (stage / "alternatives" / entry.name).symlink_to(entry.readlink())
    stage.chmod(0o755)
    return stage


def _bwrap_argv(workspace: Path, data_dir: Path) -> list[str]:
    argv = [_BWRAP, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    argv += ["--hostname", "realfin", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/", name)
        if top.is_symlink():
            argv += ["--symlink", str(top.readlink()), str(top)]
        elif top.is_dir():
            argv += ["--ro-bind", str(top), str(top)]
    argv += ["--ro-bind", str(_etc_stage()), "/etc"]
    for prefix in python_prefixes():
        argv += ["--ro-bind", str(prefix), str(prefix)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    argv += ["--bind", str(workspace), SANDBOX_WORKSPACE]
    argv += ["--ro-bind", str(data_dir), f"{SANDBOX_WORKSPACE}/api_cache"]
    return [*argv, "--chdir", SANDBOX_WORKSPACE, "--"]


_SANDBOX_PATH = re.compile(r"(?<![\w./-])/workspace(?![\w.-])")


class LocalEnvironment(_Folders):
    """A plain subprocess in the real workspace: an allow-listed environment and nothing else.

    It isolates nothing (the agent can read the repository, the verifiers and the network); it
    exists for machines without a working bubblewrap. Paths are translated both ways so that the
    agent and the trajectory see ``/workspace`` as in the sandbox. Processes are found for cleanup
    by a marker variable on a timeout and at ``close()``, so a daemon (``setsid``) started by a
    command that finished normally lives until the attempt ends; one that clears its environment
    escapes. Writes into
    ``api_cache/`` reach the shared data: nothing here stops them.
    """

    name = "local"
    isolated = False

    def __init__(
        self, workspace: Path, data_dir: Path, *, output_cap_bytes: int = DEFAULT_OUTPUT_CAP_BYTES
    ) -> None:
        super().__init__(workspace, data_dir, output_cap_bytes)
        link = self._api_cache
        if link.is_dir():
            link.rmdir()  # the empty mount point prepare_workspace made; fails loudly if not empty
        link.symlink_to(self.data_dir, target_is_directory=True)
        self._marker = uuid.uuid4().hex
        self._env = base_env(str(self.workspace), python_path_var(), self._marker)
        data_shown = f"{SANDBOX_WORKSPACE}/api_cache"
        shown = dict.fromkeys((str(data_dir), str(self.data_dir)), data_shown)
        shown.update(dict.fromkeys((str(workspace), str(self.workspace)), SANDBOX_WORKSPACE))
        self._out_paths = sorted(shown.items(), key=lambda kv: -len(kv[0]))

    def execute(self, command: str, timeout: float) -> ExecResult:
        """Run one command in the workspace; see ``Environment.execute``."""
        self._check_open()
        host_ws = str(self.workspace)
        command = _SANDBOX_PATH.sub(lambda _: host_ws, command)
        text, rc, timed_out, duration = run_capped(
            [],
            command,
            cwd=host_ws,
            env=self._env,
            timeout=timeout,
            cap_bytes=self.output_cap_bytes,
        )
        if timed_out:  # also daemons that left the group (after a normal exit: at close())
            self._kill_marked()
        for host, shown in self._out_paths:
            text = text.replace(host, shown)
        return ExecResult(text, rc, timed_out, duration)

    def _kill_marked(self) -> None:
        # Daemons (setsid, double fork) leave the process group; the marker variable finds them.
        needle = f"REALFIN_SANDBOX_ID={self._marker}".encode()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as fh:  # noqa: PTH123
                    if needle in fh.read():
                        os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                continue

    def close(self) -> None:
        """Kill every process this environment started that is still alive."""
        if not self._closed:
            self._kill_marked()
            self._closed = True


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot be used here, or None when it works (probed once per process)."""
    if not Path(_BWRAP).exists():
        return f"{_BWRAP} is not installed (apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="realfin-probe-") as tmp:
        ws, data = Path(tmp, "ws"), Path(tmp, "data")
        ws.mkdir()
        data.mkdir()
        try:
            result = BwrapEnvironment(ws, data).execute("python3 -c pass", timeout=30)
        except SandboxError as exc:
            return str(exc)
        if result.returncode != 0 or result.timed_out:
            first = (result.output.strip().splitlines() or ["no output"])[0]
            return f"a probe command failed with exit code {result.returncode}: {first}"
    return None


def make_environment(
    kind: EnvironmentKind,
    workspace: Path,
    data_dir: Path,
    *,
    output_cap_bytes: int = DEFAULT_OUTPUT_CAP_BYTES,
) -> Environment:
    """Create the environment one attempt's commands run in.

    Args:
        kind: ``bwrap`` (fail if unusable), ``local`` (no isolation), or ``auto``: bwrap where it
            works, else local with an ``UnsandboxedWarning``.
        workspace: the attempt's fresh workspace (from ``prepare_workspace``).
        data_dir: the market-data folder shown read-only as ``/workspace/api_cache``.
        output_cap_bytes: largest file a command may write.

    Raises:
        SandboxError: ``kind="bwrap"`` and bubblewrap does not work here.
    """
    if kind not in ("auto", "bwrap", "local"):
        msg = f"sandbox: kind={kind!r} is unknown; expected 'auto', 'bwrap' or 'local'"
        raise SandboxError(msg)
    if kind in ("auto", "bwrap"):
        problem = bwrap_problem()
        if problem is None:
            return BwrapEnvironment(workspace, data_dir, output_cap_bytes=output_cap_bytes)
        if kind == "bwrap":
            msg = f"sandbox: bubblewrap does not work here: {problem}; fix it or choose 'local'"
            raise SandboxError(msg)
        warnings.warn(
            f"bubblewrap is unusable ({problem}); agent commands run UNSANDBOXED: they can read "
            "the verifiers, the repository and the network",
            UnsandboxedWarning,
            stacklevel=2,
        )
    return LocalEnvironment(workspace, data_dir, output_cap_bytes=output_cap_bytes)
