"""ScriptedModel and the oracle, run through the real loop and sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_realfin.agent import AgentConfig, run_agent
from pytest_realfin.errors import ConfigError, ModelError
from pytest_realfin.model import ModelResponse
from pytest_realfin.prompts import SUBMIT_SENTINEL
from pytest_realfin.results import Usage
from pytest_realfin.sandbox import bwrap_problem, make_environment
from pytest_realfin.scripted import OracleModel, ScriptedModel, bash_reply

SOLUTION = """\
from pathlib import Path

import pandas as pd

prices = pd.read_csv(Path("api_cache") / "prices.csv")
top = prices.sort_values("close", ascending=False).head(1)
top[["code"]].to_csv("answer.csv", index=False)
print("rows", len(top))
"""


def test_scripted_replays_in_order_and_raises_scripted_errors() -> None:
    first = ModelResponse(content="a")
    model = ScriptedModel([first, ModelError("gone")], name="s")
    assert model.query([{"role": "user", "content": "x"}], None) is first
    with pytest.raises(ModelError, match="gone"):
        model.query([], None)
    with pytest.raises(IndexError, match="call 3 but only 2 replies were scripted"):
        model.query([], None)
    assert model.name == "s"
    assert model.calls[0] == [{"role": "user", "content": "x"}]


@pytest.mark.parametrize("tools", [True, False])
def test_bash_reply_shapes(tools: bool) -> None:
    reply = bash_reply("ls -l", tools=tools)
    if tools:
        assert reply.content is None
        assert json.loads(reply.tool_calls[0].arguments) == {"command": "ls -l"}
    else:
        assert reply.content == "```bash\nls -l\n```"
        assert reply.tool_calls == ()
    assert reply.usage == Usage(calls=1)


@pytest.fixture
def attempt(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "prices.csv").write_text("code,close\nsz.300001,10.5\nsz.300750,200.0\n")
    ws = tmp_path / "ws"
    (ws / "api_cache").mkdir(parents=True)
    solution = tmp_path / "tasks" / "task_99_demo" / "solution.py"
    solution.parent.mkdir(parents=True)
    solution.write_text(SOLUTION)
    return ws, data, solution


@pytest.mark.parametrize("protocol", ["tool", "text"])
@pytest.mark.parametrize("kind", ["bwrap", "local"])
def test_oracle_runs_solution_then_submits(
    attempt: tuple[Path, Path, Path], protocol: str, kind: str, tmp_path: Path
) -> None:
    if kind == "bwrap" and bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable: {bwrap_problem()}")
    ws, data, solution = attempt
    env = make_environment(kind, ws, data)  # type: ignore[arg-type]
    oracle = OracleModel(solution, "answer.csv")
    path = tmp_path / "trajectory.json"
    outcome = run_agent(oracle, env, "p", AgentConfig(protocol=protocol), path)
    env.close()
    assert outcome.exit_status == "submitted", outcome.last_steps
    assert outcome.turns == 2
    assert outcome.usage == Usage(calls=2)
    assert outcome.usage.known
    assert (ws / "answer.csv").read_text() == "code\nsz.300750\n"
    text = path.read_text()
    assert str(solution) not in text
    assert str(tmp_path) not in text
    assert "rows 1" in text


def test_oracle_is_stateless_and_protocol_agnostic(attempt: tuple[Path, Path, Path]) -> None:
    _, _, solution = attempt
    oracle = OracleModel(solution)
    first = oracle.query([{"role": "user", "content": "p"}], None)
    assert first.content is not None
    assert "python3 - <<'REALFIN_EOF'" in first.content
    assert 'pd.read_csv(Path("api_cache")' in first.content
    history = [{"role": "user", "content": "p"}, {"role": "assistant", "content": "x"}]
    second = oracle.query(history, [{"type": "function"}])
    assert json.loads(second.tool_calls[0].arguments) == {"command": f"echo {SUBMIT_SENTINEL}"}
    assert oracle.query([{"role": "user", "content": "p"}], None).content == first.content


def test_oracle_heredoc_survives_its_own_delimiter(tmp_path: Path) -> None:
    solution = tmp_path / "solution.py"
    solution.write_text('x = """\nREALFIN_EOF\n"""\nprint(len(x))')
    ws, data = tmp_path / "ws", tmp_path / "data"
    ws.mkdir()
    data.mkdir()
    env = make_environment("local", ws, data)
    command = json.loads(OracleModel(solution).query([], [{}]).tool_calls[0].arguments)["command"]
    result = env.execute(command, timeout=30)
    env.close()
    assert result.returncode == 0, result.output
    assert result.output.strip() == "13"


def test_oracle_missing_solution_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"solution_path=.*nope\.py.* cannot be read"):
        OracleModel(tmp_path / "nope.py", "out.csv")
