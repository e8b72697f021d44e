"""A tiny RealFin project for pytester: three one-line tasks, a verifier each, stub data and agent.

Nothing here needs the 400-stock default data: the project's conftest.py overrides
``realfin_market`` with a stub (the verifiers compute their answer without it) and
``realfin_agent`` with an agent that writes what the task text tells it to, so every outcome (pass,
wrong answer, no file, bad format, agent error, missing data) can be produced on purpose.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

TASK_YAML = """\
schema_version: 1
id: {id}
name: 测试任务
category: {category}
cutoff: 2024-04-08
data_needs: {needs}
prompt:
  zh: "写入: {action}"
  en: "write: {action}"
output:
  file: answer.txt
"""

VERIFIER = """\
from pytest_realfin.results import Predicate

def expected(market):
    return str(sum(range(7)) * 2)  # 42, computed, not stored

def check(output_text, answer):
    text = output_text.strip()
    return {
        "digits": Predicate(ok=text.isdigit(), kind="format",
                            detail=f"expected digits, observed {text[:20]!r}"),
        "value": Predicate(ok=text == answer, kind="answer",
                           detail=f"expected {answer}, observed {text[:20]!r}"),
    }
"""

PROJECT_CONFTEST = """\
from types import SimpleNamespace

import pytest

from pytest_realfin.errors import MissingDataError, ModelError
from pytest_realfin.results import Usage


class StubMarket:
    fingerprint = "stub"
    missing = frozenset({"profit"})

    def require(self, *needs):
        gone = [n for n in needs if n in self.missing]
        if gone:
            raise MissingDataError(f"the data set lacks {', '.join(gone)}")


class EchoAgent:
    \"\"\"Writes what follows 'write: '; 'nothing' writes no file, 'crash' fails.\"\"\"

    def run(self, attempt):
        action = attempt.prompt.split(": ", 1)[1]
        if action == "crash":
            raise ModelError("endpoint unreachable after 6 retries (secret-key-value)")
        if action != "nothing":
            attempt.output_path.write_text(action + "\\n", encoding="utf-8")
        return SimpleNamespace(
            usage=Usage(input_tokens=1000, cached_input_tokens=200, output_tokens=100, calls=2),
            turns=2,
            exit_status="submitted",
        )


@pytest.fixture(scope="session")
def realfin_market():
    return StubMarket()


@pytest.fixture(scope="session")
def realfin_agent():
    return EchoAgent()
"""

REGISTRY = """\
models:
  echo-agent:
    provider: custom
"""

DEFAULT_TASKS = {
    "task_01_good": "42",
    "task_02_wrong": "41",
    "task_03_nofile": "nothing",
}


def write_task(
    root: Path, task_id: str, action: str, *, needs: str = "[]", category: str = "demo"
) -> None:
    """Add ``tasks/<task_id>/task.yaml`` and ``verifiers/<task_id>.py`` under ``root``."""
    folder = root / "tasks" / task_id
    folder.mkdir(parents=True, exist_ok=True)
    text = TASK_YAML.format(id=task_id, action=action, needs=needs, category=category)
    (folder / "task.yaml").write_text(text, encoding="utf-8")
    (root / "verifiers").mkdir(exist_ok=True)
    (root / "verifiers" / f"{task_id}.py").write_text(VERIFIER, encoding="utf-8")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester tree: three tasks (pass, wrong answer, no file), a stub market, an echo agent."""
    for task_id, action in DEFAULT_TASKS.items():
        write_task(pytester.path, task_id, action)
    (pytester.path / "data").mkdir()
    pytester.makeconftest(PROJECT_CONFTEST)
    pytester.makefile(".yaml", models=REGISTRY)
    pytester.makeini(
        textwrap.dedent(
            """\
            [pytest]
            # pytest-benchmark, if installed, warns in every run under an xdist worker
            addopts = -p no:benchmark
            realfin_registry = models.yaml
            realfin_data = data
            realfin_sandbox = local
            """
        )
    )
    return pytester
