"""The sandbox: escapes that must fail, process hygiene, caps, the local fallback, workspaces."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pytest_realfin
from pytest_realfin import _process, sandbox, workspace
from pytest_realfin.errors import SandboxError
from pytest_realfin.sandbox import (
    BwrapEnvironment,
    Environment,
    LocalEnvironment,
    UnsandboxedWarning,
    bwrap_problem,
    make_environment,
)
from pytest_realfin.spec import TaskSpec
from pytest_realfin.workspace import build_cache_manifest, prepare_workspace

REPO = Path(pytest_realfin.__file__).resolve().parents[1]
needs_bwrap = pytest.mark.skipif(
    bwrap_problem() is not None, reason=f"bubblewrap unusable: {bwrap_problem()}"
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "baostock" / "daily_qfq_20200102_20260331").mkdir(parents=True)
    (data / "baostock" / "daily_qfq_20200102_20260331" / "sz.300750.csv").write_text(
        "date,code,close\n2026-03-31,sz.300750,200.0\n"
    )
    (data / "macro").mkdir()
    (data / "macro" / "cgb_yield_10y.csv").write_text("date,yield\n2026-03-31,1.8\n")
    return data


def _workspace(root: Path, name: str = "ws") -> Path:
    ws = root / name
    (ws / "api_cache").mkdir(parents=True)
    return ws


@pytest.fixture
def bwrap_env(tmp_path: Path, data_dir: Path) -> Iterator[BwrapEnvironment]:
    if bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    env = BwrapEnvironment(_workspace(tmp_path), data_dir)
    yield env
    env.close()


@pytest.fixture(params=["bwrap", "local"])
def env(request: pytest.FixtureRequest, tmp_path: Path, data_dir: Path) -> Iterator[Environment]:
    if request.param == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    cls = BwrapEnvironment if request.param == "bwrap" else LocalEnvironment
    environment = cls(_workspace(tmp_path), data_dir, output_cap_bytes=1 << 20)
    yield environment
    environment.close()


def _alive_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def _wait_gone(token: str, seconds: float = 2.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := _alive_with(token)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive


# --- escape attempts that must fail (bubblewrap) -------------------------------------------------


@needs_bwrap
@pytest.mark.parametrize("target", ["pyproject.toml", "tasks", "verifiers", "pytest_realfin"])
def test_repo_is_invisible(bwrap_env: BwrapEnvironment, target: str) -> None:
    path = REPO / target
    assert path.exists(), f"test precondition: {path} exists on the host"
    result = bwrap_env.execute(f"ls {path} && cat {path}", timeout=10)
    assert result.returncode != 0
    assert "No such file or directory" in result.output


@needs_bwrap
def test_home_is_invisible(bwrap_env: BwrapEnvironment) -> None:
    home = Path.home()
    visible_needed = {
        p.relative_to(home).parts[0]
        for p in map(Path, _process.python_prefixes())
        if p.is_relative_to(home)
    }
    entries = [p.name for p in home.iterdir() if p.name not in visible_needed]
    assert entries, "test precondition: the home directory has entries"
    result = bwrap_env.execute(f"ls -A {home}", timeout=10)
    listed = set(result.output.split())
    assert not listed & set(entries)


@needs_bwrap
def test_other_workspace_is_invisible(tmp_path: Path, data_dir: Path) -> None:
    other = _workspace(tmp_path, "other")
    (other / "answer.csv").write_text("secret-answer-42\n")
    env = BwrapEnvironment(_workspace(tmp_path, "mine"), data_dir)
    result = env.execute(f"cat {other}/answer.csv; ls {tmp_path}; cat ../other/answer.csv", 10)
    assert "secret-answer-42" not in result.output
    assert result.returncode != 0


@needs_bwrap
def test_api_cache_is_read_only(bwrap_env: BwrapEnvironment, data_dir: Path) -> None:
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    result = bwrap_env.execute(
        "echo x > api_cache/new.txt; rm -f api_cache/macro/cgb_yield_10y.csv; "
        "echo y >> api_cache/macro/cgb_yield_10y.csv",
        timeout=10,
    )
    assert "Read-only file system" in result.output
    assert sorted(p.relative_to(data_dir) for p in data_dir.rglob("*")) == before
    assert (data_dir / "macro" / "cgb_yield_10y.csv").read_text().endswith("1.8\n")


@needs_bwrap
def test_network_is_unreachable(bwrap_env: BwrapEnvironment) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        server.settimeout(0.2)
        result = bwrap_env.execute(
            "python3 -c \"import socket; socket.create_connection(('127.0.0.1', "
            f"{port}), timeout=3); print('CONNECTED')\"",
            timeout=20,
        )
        with pytest.raises(TimeoutError):
            server.accept()
    assert result.returncode != 0
    assert "CONNECTED" not in result.output


@needs_bwrap
def test_host_processes_are_invisible(bwrap_env: BwrapEnvironment) -> None:
    result = bwrap_env.execute(f"cat /proc/{os.getpid()}/environ; ls /proc", timeout=10)
    assert str(os.getpid()) not in result.output.split()


@needs_bwrap
def test_capabilities_are_dropped(bwrap_env: BwrapEnvironment) -> None:
    result = bwrap_env.execute("grep CapEff /proc/self/status; mount -t tmpfs x api_cache", 10)
    assert "CapEff:\t0000000000000000" in result.output
    assert result.returncode != 0


@needs_bwrap
def test_sandbox_sees_only_workspace_paths(bwrap_env: BwrapEnvironment) -> None:
    result = bwrap_env.execute("pwd; echo $HOME; ls api_cache", timeout=10)
    assert result.output.split()[:2] == ["/workspace", "/workspace"]
    assert "baostock" in result.output


# --- both environments ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["FAKE_API_KEY", "OPENAI_API_KEY", "DEEPSEEK_API_KEY"])
def test_api_keys_do_not_reach_commands(
    env: Environment, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    value = f"sk-test-{uuid.uuid4().hex}"
    monkeypatch.setenv(name, value)
    result = env.execute(f"env; echo ${name}; cat /proc/self/environ", timeout=10)
    assert value not in result.output
    assert "HOME=/workspace" in result.output


def test_numpy_and_pandas_work(env: Environment) -> None:
    result = env.execute("python3 -c 'import numpy, pandas; print(pandas.__version__)'", 60)
    assert result.returncode == 0, result.output
    assert result.output.strip().split(".")[0].isdigit()


def test_workspace_is_writable(env: Environment, tmp_path: Path) -> None:
    result = env.execute("echo 42 > out.csv && python3 -c \"open('b.txt','w').write('ok')\"", 30)
    assert result.returncode == 0, result.output
    assert (tmp_path / "ws" / "out.csv").read_text() == "42\n"
    assert (tmp_path / "ws" / "b.txt").read_text() == "ok"


def test_file_size_is_capped(env: Environment, tmp_path: Path) -> None:
    result = env.execute("head -c 3000000 /dev/zero > big.bin; echo rc=$?", timeout=10)
    assert "rc=0" not in result.output
    assert (tmp_path / "ws" / "big.bin").stat().st_size <= 1 << 20
    code = "open('p.bin','wb').write(bytes(3_000_000))"
    result = env.execute(f'python3 -c "{code}"', timeout=30)
    assert result.returncode != 0
    assert "File too large" in result.output


def test_size_cap_keeps_the_command_as_written(env: Environment) -> None:
    # The cap is set in the command's own shell, on its first line: line numbers and $0 are as
    # if the agent's text ran alone, and both the soft and the hard limit are set.
    result = env.execute("echo $0 $LINENO\nnot_a_command_xyz", timeout=10)
    assert result.output.startswith(f"{_process._BASH} 1\n")
    assert "line 2: not_a_command_xyz" in result.output
    result = env.execute("ulimit -f; ulimit -H -f", timeout=10)
    assert result.output.split() == [str((1 << 20) // 1024)] * 2


def test_captured_output_is_bounded(env: Environment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_process, "_READ_CAP_BYTES", 1000)
    result = env.execute("echo BEGIN; head -c 90000 /dev/zero | tr '\\0' a; echo; echo END", 10)
    assert result.output.startswith("BEGIN")
    assert result.output.rstrip().endswith("END")
    assert len(result.output) < 2 * 1000 + 100
    assert "bytes not kept" in result.output


def test_output_is_combined_text(env: Environment) -> None:
    result = env.execute("echo out; echo err >&2; printf '\\xff\\n'; exit 3", timeout=10)
    assert result.returncode == 3
    assert "out" in result.output
    assert "err" in result.output
    assert "\ufffd" in result.output
    assert not result.timed_out


@pytest.mark.parametrize(
    "spawn",
    [
        "sleep {t} &",
        "setsid sleep {t} &",
        "(setsid sh -c 'sleep {t} & sleep {t}' &)",
        "nohup sleep {t} >/dev/null 2>&1 &",
    ],
)
def test_timeout_kills_everything(env: Environment, spawn: str) -> None:
    token = f"{1000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    start = time.monotonic()
    result = env.execute(f"{spawn.format(t=token)}\nsleep 30", timeout=0.5)
    assert result.timed_out
    assert time.monotonic() - start < 5
    assert _wait_gone(token) == []


def test_background_jobs_die_with_a_finished_command(env: Environment) -> None:
    token = f"{2000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    result = env.execute(f"sleep {token} >/dev/null 2>&1 & echo started", 10)
    assert not result.timed_out
    assert "started" in result.output
    assert _wait_gone(token) == []


def test_daemons_die_at_the_latest_on_close(env: Environment) -> None:
    token = f"{3000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    env.execute(f"setsid sleep {token} >/dev/null 2>&1 & echo started", 10)
    if env.isolated:  # the PID namespace ended with the command
        assert _wait_gone(token) == []
    env.close()
    assert _wait_gone(token) == []


def test_execute_after_close_raises(env: Environment) -> None:
    env.close()
    with pytest.raises(SandboxError, match="after close"):
        env.execute("true", timeout=5)


# --- the local fallback and make_environment ---------------------------------------------------


def test_local_translates_paths_both_ways(tmp_path: Path, data_dir: Path) -> None:
    env = LocalEnvironment(_workspace(tmp_path), data_dir)
    result = env.execute(
        "pwd; cat /workspace/api_cache/macro/cgb_yield_10y.csv; readlink api_cache", 10
    )
    assert result.returncode == 0, result.output
    assert result.output.splitlines()[0] == "/workspace"
    assert "1.8" in result.output
    assert str(tmp_path) not in result.output
    assert not env.isolated
    env.close()


def test_auto_falls_back_loudly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path
) -> None:
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bwrap is not installed")
    with pytest.warns(UnsandboxedWarning, match="UNSANDBOXED"):
        env = make_environment("auto", _workspace(tmp_path), data_dir)
    assert isinstance(env, LocalEnvironment)
    assert env.isolated is False
    with pytest.raises(SandboxError, match="bubblewrap does not work here"):
        make_environment("bwrap", tmp_path / "ws", data_dir)


@needs_bwrap
def test_auto_prefers_bwrap(tmp_path: Path, data_dir: Path) -> None:
    env = make_environment("auto", _workspace(tmp_path), data_dir)
    assert isinstance(env, BwrapEnvironment)
    assert env.isolated


def test_bad_arguments_are_clear(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(SandboxError, match="kind='docker' is unknown"):
        make_environment("docker", tmp_path, data_dir)  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match=r"data_dir=.* is not a directory"):
        make_environment("local", _workspace(tmp_path), tmp_path / "nope")


# --- workspace ---------------------------------------------------------------------------------


def _spec() -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "id": "task_99_demo",
            "name": "演示",
            "category": "demo",
            "cutoff": "2026-03-31",
            "prompt": {"zh": "写出 out.csv", "en": "Write out.csv"},
            "output": {"file": "out.csv", "columns": ["code"], "tolerances": {"x": 0.005}},
        }
    )


def test_prepare_workspace_writes_public_files_only(tmp_path: Path, data_dir: Path) -> None:
    ws = prepare_workspace(tmp_path / "attempt", _spec(), data_dir, lang="en")
    task = json.loads((ws / "task.json").read_text())
    assert task["id"] == "task_99_demo"
    assert task["language"] == "en"
    assert "tolerances" not in json.dumps(task)
    assert (ws / "api_cache").is_dir()
    assert not any((ws / "api_cache").iterdir())
    manifest_text = (ws / "realfin_cache_manifest.json").read_text()
    assert str(tmp_path) not in manifest_text
    assert str(data_dir) not in manifest_text


def test_manifest_describes_what_exists(data_dir: Path) -> None:
    manifest = build_cache_manifest(data_dir)
    by_name = {d["name"]: d for d in manifest["datasets"]}
    assert by_name["daily"]["path"] == "api_cache/baostock/daily_qfq_20200102_20260331"
    assert by_name["daily"]["files"] == 1
    assert by_name["daily"]["columns"] == ["date", "code", "close"]
    assert by_name["cgb_yield"]["columns"] == ["date", "yield"]
    assert "profit" in manifest["missing"]
    assert "daily" not in manifest["missing"]
    for entry in manifest["datasets"]:
        assert not entry["path"].startswith("/")


def _age(root: Path, seconds: float = 60.0) -> None:
    """Date every entry under ``root`` back, as data that has been still for a while."""
    when = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (when, when))


def _manifest_in(tmp_path: Path, data_dir: Path, name: str) -> dict[str, Any]:
    ws = prepare_workspace(tmp_path / name, _spec(), data_dir)
    return json.loads((ws / "realfin_cache_manifest.json").read_text())


def test_cached_manifest_follows_changes_in_the_data(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[Path] = []
    build = workspace._build
    monkeypatch.setattr(workspace, "_build", lambda d, s: builds.append(d) or build(d, s))
    _age(data_dir)
    first = _manifest_in(tmp_path, data_dir, "a1")
    assert first == build_cache_manifest(data_dir)
    assert _manifest_in(tmp_path, data_dir, "a2") == first
    assert len(builds) == 2  # a1 and build_cache_manifest; a2 was served from the cache
    (data_dir / "baostock" / "dividend.csv").write_text("code,plan\n")  # a dataset appears
    daily = data_dir / "baostock" / "daily_qfq_20200102_20260331"
    (daily / "sz.300001.csv").write_text("date,code,close\n")  # a file in a known folder
    (data_dir / "macro" / "notes.txt").write_text("x")  # a file outside the layout
    (data_dir / "macro" / "cgb_yield_10y.csv").write_text("date,yield,extra\n")  # a new header
    _age(data_dir, 30.0)  # settled again, with different times
    second = _manifest_in(tmp_path, data_dir, "a3")
    assert second == build_cache_manifest(data_dir)
    assert len(builds) == 4  # a3 was built anew
    by_name = {d["name"]: d for d in second["datasets"]}
    assert "dividend" in by_name
    assert by_name["daily"]["files"] == 2
    assert by_name["cgb_yield"]["columns"] == ["date", "yield", "extra"]
    assert second["other_files"] == ["macro/notes.txt"]


def test_manifest_of_fresh_data_is_never_stale(tmp_path: Path, data_dir: Path) -> None:
    # Changes within the file system's timestamp granularity cannot be seen in mtimes: data that
    # changed in the last seconds is described anew every time.
    assert _manifest_in(tmp_path, data_dir, "b1")["other_files"] == []
    (data_dir / "macro" / "notes.txt").write_text("x")
    assert _manifest_in(tmp_path, data_dir, "b2")["other_files"] == ["macro/notes.txt"]


def test_manifest_lists_other_files_in_path_order(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for rel in ("a-b/x.txt", "a/b/y.txt", "a/z.txt", "baostock/daily_qfq_1/f.csv", ".hidden"):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_text("x")
    (data / "a" / "link").symlink_to(data / "a-b", target_is_directory=True)
    other = build_cache_manifest(data)["other_files"]
    assert other == sorted(other, key=lambda rel: Path(rel).parts)
    assert set(other) == {"a-b/x.txt", "a/b/y.txt", "a/z.txt", ".hidden"}
