"""Trajectories: versioned, rewritten after every step, and free of secrets and host paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_realfin.agent import AgentConfig, run_agent
from pytest_realfin.model import Message, ModelResponse
from pytest_realfin.prompts import SUBMIT_SENTINEL
from pytest_realfin.sandbox import LocalEnvironment, bwrap_problem, make_environment
from pytest_realfin.scripted import ScriptedModel, bash_reply
from pytest_realfin.trajectory import (
    TRAJECTORY_SCHEMA_VERSION,
    Scrubber,
    TrajectoryRecorder,
    scrub,
    secret_values,
)


def _env(tmp_path: Path, kind: str = "local") -> Any:
    ws, data = tmp_path / "ws", tmp_path / "data"
    (ws / "api_cache").mkdir(parents=True)
    data.mkdir(exist_ok=True)
    return make_environment(kind, ws, data)  # type: ignore[arg-type]


class _Spy:
    """Reads the trajectory file at every call, then crashes at the third."""

    name = "spy"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: list[int] = []

    def query(self, messages: list[Message], tools: list[dict[str, Any]] | None) -> ModelResponse:
        self.seen.append(len(json.loads(self.path.read_text())["steps"]))
        if len(self.seen) == 3:
            msg = "the model process died"
            raise RuntimeError(msg)
        return bash_reply(f"echo step{len(self.seen)}", tools=tools is not None)


def test_written_after_every_step_and_on_crash(tmp_path: Path) -> None:
    path = tmp_path / "run" / "trajectory.json"
    spy = _Spy(path)
    env = _env(tmp_path)
    with pytest.raises(RuntimeError, match="model process died"):
        run_agent(spy, env, "task", AgentConfig(), path, task_id="task_99_demo")
    env.close()
    assert spy.seen == [0, 1, 2]
    traj = json.loads(path.read_text())
    assert len(traj["steps"]) == 2
    assert [s["observation"].split("\n")[2] for s in traj["steps"]] == ["step1", "step2"]
    assert traj["error"] == "crashed: RuntimeError: the model process died"
    assert traj["schema_version"] == TRAJECTORY_SCHEMA_VERSION
    assert traj["task_id"] == "task_99_demo"
    assert traj["model"] == "spy"
    assert traj["config"]["max_turns"] == 16
    assert list(path.parent.iterdir()) == [path], "no temporary files left behind"


def test_records_usage_timing_and_messages(tmp_path: Path) -> None:
    from pytest_realfin.results import Usage

    usage = Usage(input_tokens=30, cached_input_tokens=10, output_tokens=5, calls=1)
    replies = [bash_reply("echo hi", tools=True, usage=usage)]
    replies.append(bash_reply(f"echo {SUBMIT_SENTINEL}", tools=True, usage=usage))
    path = tmp_path / "t.json"
    env = _env(tmp_path)
    run_agent(ScriptedModel(replies), env, "task", AgentConfig(), path)
    env.close()
    traj = json.loads(path.read_text())
    assert traj["exit_status"] == "submitted"
    assert traj["usage"]["input_tokens"] == 60
    assert traj["steps"][0]["usage"]["cached_input_tokens"] == 10
    assert traj["steps"][0]["exec_s"] >= 0
    assert traj["steps"][0]["model_s"] >= 0
    assert [m["role"] for m in traj["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]


@pytest.mark.parametrize("kind", ["local", "bwrap"])
def test_no_secret_or_host_path_reaches_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    if kind == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("FAKE_API_KEY", secret)
    env = _env(tmp_path, kind)
    host_ws = str(tmp_path / "ws")
    replies = [
        bash_reply(f"echo {secret}; echo {host_ws}/x; ls {tmp_path / 'data'}", tools=True),
        ModelResponse(content=f"my key is {secret}, my dir {host_ws}"),
        bash_reply(f"echo {SUBMIT_SENTINEL}", tools=True),
    ]
    path = tmp_path / "t.json"
    outcome = run_agent(ScriptedModel(replies), env, f"prompt {secret}", AgentConfig(), path)
    env.close()
    text = path.read_text()
    assert outcome.exit_status == "submitted"
    assert secret not in text
    assert host_ws not in text
    assert str(tmp_path / "data") not in text
    assert "[REDACTED:FAKE_API_KEY]" in text
    assert "/workspace/x" in text
    assert all(secret not in c and secret not in o for c, o in outcome.last_steps)


def test_secret_values_selects_by_suffix() -> None:
    env = {
        "ALI_API_KEY": "sk-ali-123456",
        "GH_TOKEN": "ghp_abcdef",
        "MY_SECRET": "hunter22",
        "SHORT_KEY": "1",
        "PATH": "/usr/bin",
        "KEYBOARD": "us-layout",
    }
    assert secret_values(env) == {
        "ALI_API_KEY": "sk-ali-123456",
        "GH_TOKEN": "ghp_abcdef",
        "MY_SECRET": "hunter22",
    }


def test_scrub_paths_and_nested_values() -> None:
    value = {"a": ["/host/ws/out.csv", ("/host/data/x.csv",)], "/host/ws": 3, "n": None}
    out = scrub(
        value, paths={"/host/ws": "/workspace", "/host/data": "/workspace/api_cache"}, environ={}
    )
    assert out == {
        "a": ["/workspace/out.csv", ["/workspace/api_cache/x.csv"]],
        "/workspace": 3,
        "n": None,
    }
    assert scrub("at /srv/run/ws", paths=["/srv/run"], environ={}) == "at <host-path>/ws"


def test_longer_paths_are_replaced_first() -> None:
    scrubber = Scrubber.build({"/a": "/A", "/a/b": "/B"}, environ={})
    assert scrubber.text("/a/b/c and /a/c") == "/B/c and /A/c"


@given(
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=8, max_size=40),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_scrub_removes_any_secret(secret: str, before: str, after: str) -> None:
    text = f"{before}{secret}{after}{secret}"
    cleaned = scrub(text, environ={"X_TOKEN": secret})
    assert secret not in cleaned
    assert "[REDACTED:X_TOKEN]" in cleaned


def test_recorder_without_path_writes_nothing(tmp_path: Path) -> None:
    recorder = TrajectoryRecorder(None, {"task_id": "t"}, Scrubber())
    recorder.save()
    assert recorder.data["task_id"] == "t"
    assert list(tmp_path.iterdir()) == []


def test_local_env_is_closed_by_owner(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert isinstance(env, LocalEnvironment)
    env.close()
    env.close()  # idempotent


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(value=json_values, secret=st.sampled_from(['sk-"quoted\\key', "12345678", "/host/ws/é"]))
def test_dumps_equals_walking_the_value(value: Any, secret: str) -> None:
    scrubber = Scrubber.build({"/host/ws": "/workspace"}, environ={"A_KEY": secret})
    doc = {"v": value, "s": f"x{secret}y", "n": 123456789, "p": "/host/ws/out"}
    assert json.loads(scrubber.dumps(doc)) == scrubber.value(doc)
    assert secret not in json.loads(scrubber.dumps(doc))["s"]
