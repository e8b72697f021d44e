"""Run one task attempt: workspace → environment → agent → verify → TaskResult + result.json.

The attempt is split in two phases so the plugin can map them onto pytest's: the agent phase (an
infrastructure failure there is a pytest *error*) and the grading phase (a wrong output is a pytest
*failure*). ``run_attempt`` chains both for callers outside pytest (the CLI, benchmarks).
"""

from __future__ import annotations

import functools
import gc
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

from pytest_realfin.errors import ModelError, SandboxError, VerifierError
from pytest_realfin.report import write_json
from pytest_realfin.results import ExitStatus, TaskResult, Usage
from pytest_realfin.spec import Lang, TaskSpec
from pytest_realfin.trajectory import Scrubber
from pytest_realfin.verify import VerifierSet

if TYPE_CHECKING:
    from pytest_realfin.registry import ModelConfig
    from pytest_realfin.sandbox import EnvironmentKind

__all__ = [
    "MODES",
    "Agent",
    "AgentRun",
    "Attempt",
    "HarnessAgent",
    "Lang",
    "Mode",
    "SkillContext",
    "agent_error_result",
    "attempt_dir",
    "fresh_workspace",
    "grade_attempt",
    "run_agent_phase",
    "run_attempt",
]

Mode = Literal["baseline", "bayesian-full", "bayesian-incremental"]
MODES: tuple[str, ...] = get_args(Mode)
_AGENT_ERRORS = ("model_error", "sandbox_error")


@dataclass(frozen=True)
class SkillContext:
    """The Skill state one attempt sees; empty in baseline mode (the seam Skill evolution fills)."""

    mode: str = "baseline"
    text: str = ""
    """The model-facing Skill text put before the harness instructions ("" for none)."""


@dataclass(frozen=True)
class Attempt:
    """Everything an agent needs for one attempt; the output file goes into ``workspace``."""

    spec: TaskSpec
    repeat: int
    workspace: Path
    attempt_dir: Path
    data_dir: Path
    lang: Lang = "zh"
    skills: SkillContext = field(default_factory=SkillContext)

    @property
    def prompt(self) -> str:
        """The task prompt in the chosen language (the harness adds its own instructions)."""
        return self.spec.prompt.text(self.lang)

    @property
    def output_path(self) -> Path:
        """Where the verifier looks for the answer."""
        return self.workspace / self.spec.output.file

    @property
    def trajectory_path(self) -> Path:
        """Where the built-in agent saves its trajectory after every step."""
        return self.attempt_dir / "trajectory.json"


@runtime_checkable
class Agent(Protocol):
    """What ``realfin_agent`` provides: run one attempt, leaving the output file in the workspace.

    ``run`` may return None (no usage known); an object with ``usage``, ``turns`` and
    ``exit_status`` attributes (such as ``agent.AgentOutcome``) is recorded in the result. Raise
    ``ModelError`` or ``SandboxError`` for infrastructure failures: they become agent errors, not
    wrong answers.
    """

    def run(self, attempt: Attempt) -> Any:
        """Work on ``attempt`` until the output file is written or the agent gives up."""
        ...


@dataclass(frozen=True)
class AgentRun:
    """How the agent phase of one attempt ended."""

    attempt: Attempt
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    exit_status: ExitStatus | None = None
    error: str | None = None
    """One line when the infrastructure failed (an agent error); never contains a secret."""
    duration_s: float = 0.0
    last_steps: tuple[str, ...] = ()
    """The agent's last commands and the start of their output, for the failure message."""


def attempt_dir(run_dir: Path, task_id: str, repeat: int) -> Path:
    """``<run_dir>/<task_id>/r<repeat>``: the attempt's workspace, trajectory.json, result.json."""
    return run_dir / task_id / f"r{repeat}"


def _line(text: str, mask: Scrubber) -> str:
    """``text`` masked, on one line, at most 500 characters: how an agent error is recorded."""
    return " ".join(mask.text(text).split())[:500]


def run_agent_phase(agent: Agent, attempt: Attempt, secrets: tuple[str, ...] = ()) -> AgentRun:
    """Run the agent; infrastructure failures become ``AgentRun.error``, not exceptions.

    Args:
        agent: the built-in ``HarnessAgent`` or a user's agent.
        attempt: the prepared attempt.
        secrets: values (API keys) removed from any error text before it is recorded.
    """
    start = time.monotonic()
    mask = Scrubber.of(dict.fromkeys(secrets, "***"))
    try:
        outcome = agent.run(attempt)
    except (ModelError, SandboxError) as exc:
        status: ExitStatus = "model_error" if isinstance(exc, ModelError) else "sandbox_error"
        text = _line(f"{type(exc).__name__}: {exc}", mask)
        return AgentRun(attempt, exit_status=status, error=text, duration_s=_since(start))
    usage = getattr(outcome, "usage", None)
    status_value = getattr(outcome, "exit_status", None)
    error: str | None = None
    if status_value in _AGENT_ERRORS:
        error = _line(str(getattr(outcome, "error", None) or status_value), mask)
    return AgentRun(
        attempt,
        usage=usage if isinstance(usage, Usage) else Usage(),
        turns=int(getattr(outcome, "turns", 0) or 0),
        exit_status=status_value,
        error=error,
        duration_s=_since(start),
        last_steps=_steps(getattr(outcome, "last_steps", ()), mask),
    )


def _steps(pairs: Any, mask: Scrubber, width: int = 160) -> tuple[str, ...]:
    lines = []
    for pair in pairs or ():
        command, output = (pair[0], pair[1]) if isinstance(pair, tuple | list) else (pair, "")
        text = _line(f"$ {command}" + (f" → {output}" if output else ""), mask)
        lines.append(text if len(text) <= width else text[: width - 1] + "…")
    return tuple(lines)


def _since(start: float) -> float:
    return round(time.monotonic() - start, 3)


def _result(run: AgentRun, model: str, mode: str, run_dir: Path | None, **kw: Any) -> TaskResult:
    rel = None
    if run_dir is not None:
        try:
            rel = str(run.attempt.attempt_dir.relative_to(run_dir))
        except ValueError:
            rel = str(run.attempt.attempt_dir)
    return TaskResult(
        task_id=run.attempt.spec.id,
        model=model,
        mode=mode,
        repeat=run.attempt.repeat,
        exit_status=run.exit_status,
        turns=run.turns,
        usage=run.usage,
        duration_s=run.duration_s,
        run_dir=rel,
        **kw,
    )


def agent_error_result(run: AgentRun, model: str, mode: str, run_dir: Path | None) -> TaskResult:
    """The record of an attempt whose infrastructure failed; written to ``result.json``."""
    result = _result(
        run, model, mode, run_dir, success=False, failure_class="agent_error", error=run.error
    )
    write_json(run.attempt.attempt_dir / "result.json", result.model_dump(mode="json"))
    return result


def grade_attempt(
    run: AgentRun,
    verifiers: VerifierSet,
    market: Any,
    *,
    model: str,
    mode: str,
    run_dir: Path | None = None,
) -> TaskResult:
    """Grade the output file and write ``result.json`` into the attempt folder.

    An agent error short-circuits to an ``agent_error`` record. A broken verifier gives a failed
    record without a class and with the ``VerifierError`` text, so the run still accounts for it.
    """
    if run.error is not None:
        return agent_error_result(run, model, mode, run_dir)
    spec = run.attempt.spec
    try:
        grade = verifiers.grade(spec.id, run.attempt.output_path, market)
    except VerifierError as exc:
        result = _result(run, model, mode, run_dir, success=False, error=str(exc))
    else:
        result = _result(
            run,
            model,
            mode,
            run_dir,
            success=grade.success,
            failure_class=grade.failure_class,
            predicates=grade.predicates,
        )
    write_json(run.attempt.attempt_dir / "result.json", result.model_dump(mode="json"))
    return result


class HarnessAgent:
    """The built-in agent: the model (or the oracle) through the sandboxed bash loop.

    Args:
        model_config: the resolved registry entry (provider ``oracle`` runs the solution).
        sandbox: ``auto``, ``bwrap`` or ``local``.
        tasks_dir: where ``<task_id>/solution.py`` lives (for the oracle).
        max_turns: the turn limit, or None for the harness default.
        command_timeout: the per-command timeout in seconds, or None for the harness default.
    """

    def __init__(
        self,
        model_config: ModelConfig,
        *,
        sandbox: EnvironmentKind = "auto",
        tasks_dir: Path,
        max_turns: int | None = None,
        command_timeout: float | None = None,
    ) -> None:
        self.model_config = model_config
        self.sandbox = sandbox
        self.tasks_dir = tasks_dir
        self.max_turns = max_turns
        self.command_timeout = command_timeout
        self._model: Any = None

    def _model_for(self, spec: TaskSpec) -> Any:
        if self.model_config.provider == "oracle":
            from pytest_realfin.scripted import OracleModel

            return OracleModel(self.tasks_dir / spec.id / "solution.py", spec.output.file)
        if self._model is None:
            from pytest_realfin.model import OpenAIModel

            self._model = OpenAIModel(self.model_config)
            _settle_heap()
        return self._model

    def run(self, attempt: Attempt) -> Any:
        """Run the agent loop in a fresh environment; the environment is closed whatever happens."""
        from pytest_realfin.agent import AgentConfig, run_agent
        from pytest_realfin.prompts import build_prompt
        from pytest_realfin.sandbox import make_environment

        spec = attempt.spec
        limits: dict[str, Any] = {"wall_limit_s": float(spec.timeout_seconds)}
        if self.max_turns is not None:
            limits["max_turns"] = self.max_turns
        if self.command_timeout is not None:
            limits["command_timeout_s"] = self.command_timeout
        config = AgentConfig(**limits)
        prompt = build_prompt(spec, lang=attempt.lang, skill_context=attempt.skills.text)
        model = self._model_for(spec)
        env = make_environment(self.sandbox, attempt.workspace, attempt.data_dir)
        try:
            return run_agent(model, env, prompt, config, attempt.trajectory_path, task_id=spec.id)
        finally:
            env.close()


@functools.cache  # once per process: later freezes would also keep earlier tests' garbage
def _settle_heap() -> None:
    """Take the long-lived objects the SDK import made out of the cyclic collector's walks.

    Importing ``openai`` leaves ~85,000 tracked objects (its pydantic types) that live as long as
    the process. Every full collection walks them all, ~60 ms each, and pytest runs five at exit
    to surface unraisable exceptions: 0.3 s of CPU per xdist worker. Garbage is collected first so
    nothing collectable is frozen; objects made later (the tests') are collected as usual.
    """
    gc.collect()
    gc.freeze()


def fresh_workspace(path: Path) -> Path:
    """An empty folder at ``path`` (a re-run in the same run directory starts clean)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def run_attempt(
    attempt: Attempt,
    agent: Agent,
    verifiers: VerifierSet,
    market: Any,
    *,
    model: str,
    mode: str = "baseline",
    run_dir: Path | None = None,
    secrets: tuple[str, ...] = (),
) -> TaskResult:
    """Both phases: run the agent, then grade (an agent error is recorded, not raised)."""
    run = run_agent_phase(agent, attempt, secrets)
    return grade_attempt(run, verifiers, market, model=model, mode=mode, run_dir=run_dir)
