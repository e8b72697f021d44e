"""The agent loop: each exit status from a scripted episode, both protocols, end to end."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_realfin.agent import NOT_ISOLATED, AgentConfig, AgentOutcome, run_agent
from pytest_realfin.errors import ModelError
from pytest_realfin.model import ModelResponse, ToolCall
from pytest_realfin.prompts import SUBMIT_SENTINEL, build_prompt, truncate_middle
from pytest_realfin.results import Usage
from pytest_realfin.sandbox import Environment, LocalEnvironment
from pytest_realfin.scripted import ScriptedModel, bash_reply
from pytest_realfin.spec import TaskSpec
from tests.fakeserver import FakeOpenAI, bash_call, text_reply

SUBMIT = f"echo {SUBMIT_SENTINEL}"


@pytest.fixture(params=["tool", "text"])
def protocol(request: pytest.FixtureRequest) -> str:
    """Every loop test runs under both protocols, as mini-swe-agent's tests do."""
    return str(request.param)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[LocalEnvironment]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "prices.csv").write_text("code,close\nsz.300750,200.0\n")
    ws = tmp_path / "ws"
    ws.mkdir()
    environment = LocalEnvironment(ws, data)
    yield environment
    environment.close()


def act(command: str, protocol: str, **kwargs: Any) -> ModelResponse:
    return bash_reply(command, tools=protocol == "tool", **kwargs)


def bad(protocol: str) -> ModelResponse:
    """A malformed reply: prose without a tool call, or prose without a bash block."""
    return ModelResponse(content="I think the answer is 42.", usage=Usage(calls=1))


def run(
    replies: Sequence[ModelResponse | BaseException],
    env: Environment,
    protocol: str,
    tmp_path: Path,
    **limits: Any,
) -> tuple[AgentOutcome, ScriptedModel, dict[str, Any]]:
    model = ScriptedModel(replies)
    config = AgentConfig(protocol=protocol, **limits)
    path = tmp_path / "trajectory.json"
    outcome = run_agent(model, env, "Write out.txt.", config, path, task_id="task_99_demo")
    return outcome, model, json.loads(path.read_text())


def test_submitted(env: Environment, protocol: str, tmp_path: Path) -> None:
    replies = [act("echo 42 > out.txt", protocol), act(SUBMIT, protocol)]
    outcome, _, traj = run(replies, env, protocol, tmp_path)
    assert outcome.exit_status == "submitted"
    assert outcome.turns == 2
    assert outcome.error is None
    assert (tmp_path / "ws" / "out.txt").read_text() == "42\n"
    assert traj["exit_status"] == "submitted"
    assert [s["action"] for s in traj["steps"]] == ["echo 42 > out.txt", SUBMIT]


def test_reasoning_is_echoed_in_later_requests(
    env: Environment, protocol: str, tmp_path: Path
) -> None:
    """DeepSeek's thinking mode rejects a history that drops a tool-calling turn's reasoning."""
    first = dataclasses.replace(act("echo 42 > out.txt", protocol), reasoning_content="think")
    _, model, _ = run([first, act(SUBMIT, protocol)], env, protocol, tmp_path)
    assistant = [m for m in model.calls[1] if m["role"] == "assistant"]
    assert [m.get("reasoning_content") for m in assistant] == ["think"]
    assert all("reasoning_content" not in m for m in model.calls[0])


def test_sentinel_must_start_the_output(env: Environment, protocol: str, tmp_path: Path) -> None:
    replies = [
        act(f"echo not yet {SUBMIT_SENTINEL}", protocol),
        act(f"printf '\\n   {SUBMIT_SENTINEL}\\nrest'", protocol),
    ]
    outcome, _, _ = run(replies, env, protocol, tmp_path)
    assert outcome.exit_status == "submitted"
    assert outcome.turns == 2


def test_turn_limit(env: Environment, protocol: str, tmp_path: Path) -> None:
    outcome, model, traj = run([act("true", protocol)] * 5, env, protocol, tmp_path, max_turns=3)
    assert outcome.exit_status == "turn_limit"
    assert outcome.turns == 3
    assert len(model.calls) == 3
    assert "turn limit" in (outcome.error or "")
    assert len(traj["steps"]) == 3


def test_time_limit(env: Environment, protocol: str, tmp_path: Path) -> None:
    replies = [act("sleep 20", protocol), act(SUBMIT, protocol)]
    outcome, model, traj = run(replies, env, protocol, tmp_path, wall_limit_s=0.5)
    assert outcome.exit_status == "time_limit"
    assert outcome.duration_s < 5
    assert len(model.calls) == 1
    assert traj["steps"][0]["timed_out"] is True


def test_token_limit(env: Environment, protocol: str, tmp_path: Path) -> None:
    costly = Usage(input_tokens=900, output_tokens=200, calls=1)
    replies = [act("true", protocol, usage=Usage(input_tokens=50, calls=1))] * 2
    replies += [act("true", protocol, usage=costly), act(SUBMIT, protocol)]
    outcome, model, _ = run(replies, env, protocol, tmp_path, token_limit=1000)
    assert outcome.exit_status == "token_limit"
    assert outcome.turns == 3
    assert outcome.usage.total_tokens == 1200
    assert len(model.calls) == 3


def test_format_errors_end_the_run(env: Environment, protocol: str, tmp_path: Path) -> None:
    outcome, _, traj = run([bad(protocol)] * 5, env, protocol, tmp_path)
    assert outcome.exit_status == "format_errors"
    assert outcome.turns == 3
    assert outcome.format_errors == 3
    corrections = [m for m in traj["messages"] if "Format error" in str(m.get("content"))]
    assert len(corrections) == 3
    assert all(m["role"] == "user" for m in corrections)


def test_format_errors_reset_after_a_good_reply(
    env: Environment, protocol: str, tmp_path: Path
) -> None:
    replies = [bad(protocol), bad(protocol), act("true", protocol), bad(protocol), bad(protocol)]
    outcome, _, _ = run([*replies, act(SUBMIT, protocol)], env, protocol, tmp_path)
    assert outcome.exit_status == "submitted"
    assert outcome.format_errors == 4


def test_model_error(env: Environment, protocol: str, tmp_path: Path) -> None:
    error = ModelError("model 'm': HTTP 401 Unauthorized; export ALI_API_KEY=<your key>\ndetails")
    outcome, _, traj = run([act("true", protocol), error], env, protocol, tmp_path)
    assert outcome.exit_status == "model_error"
    assert outcome.error == "model 'm': HTTP 401 Unauthorized; export ALI_API_KEY=<your key>"
    assert outcome.turns == 1
    assert traj["exit_status"] == "model_error"


def test_sandbox_error(env: Environment, protocol: str, tmp_path: Path) -> None:
    env.close()
    outcome, _, traj = run([act("true", protocol)], env, protocol, tmp_path)
    assert outcome.exit_status == "sandbox_error"
    assert "after close" in (outcome.error or "")
    assert traj["error"] == outcome.error


def test_unexpected_exception_is_recorded_and_raised(
    env: Environment, protocol: str, tmp_path: Path
) -> None:
    model = ScriptedModel([act("true", protocol), ZeroDivisionError("boom")])
    path = tmp_path / "t.json"
    with pytest.raises(ZeroDivisionError):
        run_agent(model, env, "p", AgentConfig(protocol=protocol), path)
    traj = json.loads(path.read_text())
    assert traj["error"] == "crashed: ZeroDivisionError: boom"
    assert traj["exit_status"] is None
    assert len(traj["steps"]) == 1


def test_long_output_is_truncated_head_and_tail(
    env: Environment, protocol: str, tmp_path: Path
) -> None:
    command = "python3 -c \"print('HEAD' + 'x' * 30000 + 'TAIL')\""
    outcome, model, _ = run(
        [act(command, protocol), act(SUBMIT, protocol)],
        env,
        protocol,
        tmp_path,
        observation_chars=1000,
    )
    observation = str(model.calls[1][-1]["content"])
    assert "HEAD" in observation
    assert "TAIL" in observation
    assert "characters elided" in observation
    assert len(observation) < 1400
    assert outcome.last_steps[0][0] == command


def test_unsandboxed_run_says_so(env: Environment, protocol: str, tmp_path: Path) -> None:
    outcome, _, traj = run([act(SUBMIT, protocol)], env, protocol, tmp_path)
    assert outcome.warnings == (NOT_ISOLATED,)
    assert traj["warnings"] == [NOT_ISOLATED]
    assert traj["environment"] == {"name": "local", "isolated": False}


def test_observations_carry_returncode_and_timeouts(
    env: Environment, protocol: str, tmp_path: Path
) -> None:
    replies = [act("exit 7", protocol), act("sleep 5", protocol), act(SUBMIT, protocol)]
    _, model, _ = run(replies, env, protocol, tmp_path, command_timeout_s=0.3)
    assert "<returncode>7</returncode>" in str(model.calls[1][-1]["content"])
    assert "stopped after 0.3 seconds" in str(model.calls[2][-1]["content"])


# --- tool-protocol specifics -------------------------------------------------------------------


def _calls(*pairs: tuple[str, str]) -> ModelResponse:
    calls = tuple(ToolCall(id=f"c{i}", name=n, arguments=a) for i, (n, a) in enumerate(pairs))
    return ModelResponse(content=None, tool_calls=calls, usage=Usage(calls=1))


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (_calls(("bash", '{"command": "true"}'), ("bash", '{"command": "true"}')), "2 tool calls"),
        (_calls(("python", '{"command": "true"}')), "no tool 'python'"),
        (_calls(("bash", "{not json")), "JSON object"),
        (_calls(("bash", '{"cmd": "true"}')), "JSON object"),
        (_calls(("bash", '{"command": "   "}')), "empty"),
    ],
)
def test_tool_format_errors_answer_every_call(
    env: Environment, tmp_path: Path, reply: ModelResponse, problem: str
) -> None:
    replies = [reply, act(SUBMIT, "tool")]
    outcome, model, _ = run(replies, env, "tool", tmp_path)
    assert outcome.exit_status == "submitted"
    assert outcome.format_errors == 1
    answers = model.calls[1][3:]
    assert [m["tool_call_id"] for m in answers] == [c.id for c in reply.tool_calls]
    assert all(problem in m["content"] for m in answers)


def test_text_protocol_needs_exactly_one_block(env: Environment, tmp_path: Path) -> None:
    two = ModelResponse(content="```bash\ntrue\n```\n```bash\ntrue\n```", usage=Usage(calls=1))
    outcome, model, _ = run([two, act(SUBMIT, "text")], env, "text", tmp_path)
    assert outcome.format_errors == 1
    assert "found 2 ```bash blocks" in str(model.calls[1][-1]["content"])


# --- prompt ------------------------------------------------------------------------------------


def _spec() -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "id": "task_99_demo",
            "name": "演示",
            "category": "demo",
            "cutoff": "2026-03-31",
            "prompt": {"zh": "列出股票。", "en": "List the stocks."},
            "output": {"file": "answer_99.csv"},
        }
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_build_prompt(lang: str) -> None:
    prompt = build_prompt(_spec(), lang=lang, skill_context="## Skill\nCheck dates.")  # type: ignore[arg-type]
    assert prompt.startswith("## Skill\nCheck dates.")
    assert "/workspace/answer_99.csv" in prompt
    assert "realfin_cache_manifest.json" in prompt
    assert SUBMIT_SENTINEL in prompt
    assert ("列出股票。" in prompt) == (lang == "zh")
    assert ("List the stocks." in prompt) == (lang == "en")


def test_prompt_never_coaches_keywords() -> None:
    prompt = build_prompt(_spec(), lang="en") + build_prompt(_spec(), lang="zh")
    for word in ("MACD", "RSI", "KDJ", "Bollinger", "ATR", "OBV", "均线", "OHLCV", "kline"):
        assert word not in prompt


def test_truncate_middle_keeps_short_text() -> None:
    assert truncate_middle("abc", 10) == "abc"
    cut = truncate_middle("a" * 50 + "b" * 50, 20)
    assert cut.startswith("a" * 10)
    assert cut.endswith("b" * 10)
    assert "80 of 100 characters elided" in cut


# --- end to end through the real openai client -------------------------------------------------


def test_end_to_end_against_fake_server(
    fake_openai: FakeOpenAI, env: Environment, protocol: str, tmp_path: Path
) -> None:
    from pytest_realfin.model import OpenAIModel
    from pytest_realfin.registry import ModelConfig

    if protocol == "tool":
        fake_openai.enqueue(
            bash_call("echo 42 > answer.txt", content="Writing the answer."),
            bash_call("cat answer.txt"),
            bash_call(SUBMIT),
        )
    else:
        fake_openai.enqueue(
            text_reply("```bash\necho 42 > answer.txt\n```"),
            text_reply("Checking.\n```bash\ncat answer.txt\n```"),
            text_reply(f"```bash\n{SUBMIT}\n```"),
        )
    config = ModelConfig(name="fake-model", base_url=fake_openai.base_url, max_retries=0)
    with OpenAIModel(config, api_key="sk-e2e-secret-value") as model:
        outcome = run_agent(
            model,
            env,
            "Write 42.",
            AgentConfig(protocol=protocol),
            tmp_path / "t.json",
        )
    assert outcome.exit_status == "submitted"
    assert outcome.turns == 3
    assert outcome.usage.calls == 3
    assert outcome.usage.total_tokens == 3 * 15
    assert (tmp_path / "ws" / "answer.txt").read_text() == "42\n"
    last = fake_openai.requests[-1]
    assert ("tools" in last.body) == (protocol == "tool")
    observation = last.messages[-1]
    assert observation["role"] == ("tool" if protocol == "tool" else "user")
    assert "42" in observation["content"]
    if protocol == "tool":
        assert observation["tool_call_id"] == last.messages[-2]["tool_calls"][0]["id"]
    assert "sk-e2e-secret-value" not in (tmp_path / "t.json").read_text()


def test_key_in_any_named_variable_never_reaches_the_trajectory(
    fake_openai: FakeOpenAI, env: Environment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key variable may be called anything (``--realfin-api-key-env``), not only ``*_KEY``."""
    from pytest_realfin.model import OpenAIModel
    from pytest_realfin.registry import ModelConfig

    secret = "cred-4f9a1c77e2b0d3"
    monkeypatch.setenv("MY_LLM_CRED", secret)
    # A model that repeats the key (e.g. echoed by a proxy into the reply) in text and command.
    fake_openai.enqueue(
        bash_call(f"echo {secret}", content=f"my key is {secret}"),
        bash_call(SUBMIT),
    )
    config = ModelConfig(
        name="fake-model", base_url=fake_openai.base_url, api_key_env="MY_LLM_CRED", max_retries=0
    )
    with OpenAIModel(config) as model:
        outcome = run_agent(model, env, "Go.", AgentConfig(), tmp_path / "t.json")
    assert outcome.exit_status == "submitted"
    assert fake_openai.requests[0].headers["authorization"] == f"Bearer {secret}"
    text = (tmp_path / "t.json").read_text()
    assert secret not in text
    assert "[REDACTED:MY_LLM_CRED]" in text


def test_harness_agent_makes_one_client_and_freezes_the_sdk_heap(tmp_path: Path) -> None:
    # After the openai import the SDK's long-lived objects leave the cyclic collector's walks
    # (pytest runs five full collections at exit); the client is made once per agent.
    import gc

    from pytest_realfin.registry import ModelConfig
    from pytest_realfin.runner import HarnessAgent

    config = ModelConfig(name="m", base_url="http://127.0.0.1:9/v1")
    agent = HarnessAgent(config, tasks_dir=tmp_path)
    spec = TaskSpec.model_validate(
        {
            "id": "task_99_demo",
            "name": "演示",
            "category": "demo",
            "cutoff": "2026-03-31",
            "prompt": {"zh": "写出 out.csv", "en": "Write out.csv"},
            "output": {"file": "out.csv"},
        }
    )
    model = agent._model_for(spec)
    assert agent._model_for(spec) is model
    assert gc.get_freeze_count() > 10_000
