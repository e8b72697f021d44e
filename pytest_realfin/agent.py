"""The agent loop (mini-swe-agent's shape): query the model, run one bash action, observe, repeat.

Every way a run ends is a signal raised inside the step and caught in one place, and becomes a
named ``ExitStatus``; model and sandbox failures become outcomes, not exceptions. An unexpected
exception is recorded in the trajectory and re-raised. More than one tool call in a reply is a
format error and none is run: mini-swe-agent's text protocol does the same, and one action per turn
keeps turns comparable across protocols.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pytest_realfin.errors import ModelError, SandboxError
from pytest_realfin.model import Message, Model, ModelResponse, assistant_message
from pytest_realfin.prompts import (
    BASH_TOOL,
    SUBMIT_SENTINEL,
    parse_text_action,
    render_observation,
    system_message,
    truncate_middle,
)
from pytest_realfin.results import ExitStatus, Usage
from pytest_realfin.sandbox import SANDBOX_WORKSPACE, Environment
from pytest_realfin.trajectory import Scrubber, TrajectoryRecorder, utc_now

__all__ = ["NOT_ISOLATED", "AgentConfig", "AgentOutcome", "run_agent"]

NOT_ISOLATED = "UNSANDBOXED: commands ran as plain subprocesses; nothing was isolated"
"""The line an outcome and a trajectory carry when the environment isolates nothing."""


class AgentConfig(BaseModel):
    """Limits and protocol of one agent run (the seed's mini-swe-agent runs: 16 turns, 180 s)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_turns: int = Field(default=16, ge=1)
    """Model calls allowed, format errors included (mini-swe-agent's ``step_limit``)."""
    command_timeout_s: float = Field(default=180.0, gt=0)
    """Per-command timeout; the command and everything it started are killed."""
    wall_limit_s: float | None = Field(default=None, gt=0)
    """Wall time for the whole attempt, checked before each model call; None for no limit."""
    token_limit: int | None = Field(default=None, ge=1)
    """Total tokens (prompt + completion) allowed, checked before each model call; None for none."""
    protocol: Literal["tool", "text"] = "tool"
    """``tool``: native tool calling with one ``bash`` tool; ``text``: one fenced bash block."""
    max_format_errors: int = Field(default=3, ge=1)
    """Consecutive malformed replies that end the run (``format_errors``)."""
    observation_chars: int = Field(default=10_000, ge=100)
    """Characters of command output shown to the model; the middle is elided beyond this."""


@dataclass(frozen=True)
class AgentOutcome:
    """How a run ended, what it cost, and its last actions (for failure messages)."""

    exit_status: ExitStatus
    turns: int
    usage: Usage
    duration_s: float
    error: str | None = None
    """One line for every exit but ``submitted``: the limit hit or what failed (no secrets)."""
    format_errors: int = 0
    last_steps: tuple[tuple[str, str], ...] = ()
    """Up to three ``(command, shortened observation)`` pairs, oldest first."""
    warnings: tuple[str, ...] = ()


class _Stop(Exception):  # a control-flow signal, not an error
    def __init__(self, status: ExitStatus, error: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.error = error


class _FormatProblem(Exception):  # a control-flow signal, not an error
    pass


@dataclass
class _Run:
    model: Model
    env: Environment
    config: AgentConfig
    recorder: TrajectoryRecorder
    messages: list[Message]
    start: float = field(default_factory=time.monotonic)
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    format_errors: int = 0
    consecutive: int = 0
    executed: list[tuple[str, str]] = field(default_factory=list)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_limits(run: _Run) -> None:
    cfg = run.config
    if run.turns >= cfg.max_turns:
        raise _Stop(
            status="turn_limit",
            error=f"turn limit reached: {run.turns} model calls of {cfg.max_turns}",
        )
    elapsed = time.monotonic() - run.start
    if cfg.wall_limit_s is not None and elapsed >= cfg.wall_limit_s:
        raise _Stop(
            status="time_limit",
            error=f"wall limit reached: {elapsed:.1f} s of {cfg.wall_limit_s:g} s",
        )
    if cfg.token_limit is not None and run.usage.total_tokens > cfg.token_limit:
        used = run.usage.total_tokens
        raise _Stop(
            status="token_limit", error=f"token limit exceeded: {used} tokens of {cfg.token_limit}"
        )


def _parse(resp: ModelResponse, protocol: str) -> str:
    if protocol == "text":
        blocks = parse_text_action(resp.content or "")
        if len(blocks) != 1:
            msg = f"found {len(blocks)} ```bash blocks; reply with exactly one ```bash block"
            raise _FormatProblem(msg)
        command = blocks[0]
    else:
        calls = resp.tool_calls
        if len(calls) != 1:
            msg = f"found {len(calls)} tool calls; call the `bash` tool exactly once per reply"
            raise _FormatProblem(msg)
        if calls[0].name != "bash":
            msg = f"there is no tool {calls[0].name!r}; the only tool is `bash`"
            raise _FormatProblem(msg)
        try:
            args = json.loads(calls[0].arguments or "{}")
        except json.JSONDecodeError:
            args = None
        value = args.get("command") if isinstance(args, dict) else None
        if not isinstance(value, str):
            msg = 'the `bash` arguments must be a JSON object {"command": "<string>"}'
            raise _FormatProblem(msg)
        command = value
    if not command.strip():
        msg = "the command is empty"
        raise _FormatProblem(msg)
    return command


def _reply(run: _Run, resp: ModelResponse, text: str) -> None:
    if run.config.protocol == "tool" and resp.tool_calls:
        # Every tool call must be answered before the conversation may continue (OpenAI API rule).
        for call in resp.tool_calls:
            run.messages.append({"role": "tool", "tool_call_id": call.id, "content": text})
    else:
        run.messages.append({"role": "user", "content": text})


def _step(run: _Run) -> None:
    _check_limits(run)
    cfg = run.config
    tools = [BASH_TOOL] if cfg.protocol == "tool" else None
    t0 = time.monotonic()
    try:
        resp = run.model.query(run.messages, tools)
    except ModelError as exc:
        raise _Stop(status="model_error", error=_first_line(exc)) from None
    step: dict[str, Any] = {"turn": run.turns + 1, "model_s": round(time.monotonic() - t0, 4)}
    run.turns += 1
    run.usage = run.usage + resp.usage
    run.messages.append(assistant_message(resp))
    step.update(usage=resp.usage.model_dump(), finish_reason=resp.finish_reason)
    run.recorder.data["steps"].append(step)
    try:
        command = _parse(resp, cfg.protocol)
    except _FormatProblem as problem:
        run.format_errors += 1
        run.consecutive += 1
        step["format_error"] = str(problem)
        _reply(run, resp, f"Format error: {problem}. Nothing was run.")
        if run.consecutive >= cfg.max_format_errors:
            error = f"{run.consecutive} malformed replies in a row: {problem}"
            raise _Stop(status="format_errors", error=error) from None
        return
    run.consecutive = 0
    step["action"] = command
    timeout = cfg.command_timeout_s
    if cfg.wall_limit_s is not None:  # a command may not outlast the attempt
        timeout = max(0.0, min(timeout, cfg.wall_limit_s - (time.monotonic() - run.start)))
    try:
        result = run.env.execute(command, timeout)
    except SandboxError as exc:
        step["observation"] = None
        raise _Stop(status="sandbox_error", error=_first_line(exc)) from None
    observation = render_observation(
        result.output,
        result.returncode,
        timed_out=result.timed_out,
        timeout_s=timeout,
        limit=cfg.observation_chars,
    )
    step.update(
        observation=observation,
        returncode=result.returncode,
        timed_out=result.timed_out,
        exec_s=round(result.duration_s, 4),
    )
    _reply(run, resp, observation)
    run.executed.append((command, truncate_middle(result.output, 600)))
    if result.output.lstrip().startswith(SUBMIT_SENTINEL):
        raise _Stop(status="submitted")


def run_agent(
    model: Model,
    env: Environment,
    prompt: str,
    config: AgentConfig,
    trajectory_path: Path | None = None,
    *,
    task_id: str = "",
) -> AgentOutcome:
    """Run one attempt until the model submits or a limit or failure stops it.

    Args:
        model: answers each turn (an endpoint, a scripted fake or the oracle).
        env: where commands run; the caller creates and closes it.
        prompt: the first user message (``build_prompt``).
        config: limits and protocol.
        trajectory_path: where the trajectory is rewritten after every step; None for nowhere.
        task_id: recorded in the trajectory.

    Returns:
        The outcome; ``ModelError`` and ``SandboxError`` end the run with ``model_error`` and
        ``sandbox_error`` instead of propagating.
    """
    warnings = () if env.isolated else (NOT_ISOLATED,)
    host = dict(
        zip(env.host_paths, (SANDBOX_WORKSPACE, f"{SANDBOX_WORKSPACE}/api_cache"), strict=False)
    )
    recorder = TrajectoryRecorder(
        trajectory_path,
        {
            "task_id": task_id,
            "model": model.name,
            "environment": {"name": env.name, "isolated": env.isolated},
            "config": config.model_dump(mode="json"),
        },
        Scrubber.build(host, names=getattr(model, "secret_env", ())),
    )
    system = system_message(
        config.protocol, timeout_s=config.command_timeout_s, max_turns=config.max_turns
    )
    messages: list[Message] = [
        {"role": "system", "content": system},
        {"role": "user", "content": prompt},
    ]
    run = _Run(model, env, config, recorder, messages)
    recorder.update(messages=messages, warnings=list(warnings))
    recorder.save()
    try:
        while True:
            try:
                _step(run)
            finally:
                recorder.update(turns=run.turns, format_errors=run.format_errors)
                recorder.update(usage=run.usage.model_dump(), duration_s=_elapsed(run))
                recorder.save()
    except _Stop as stop:
        status, error = stop.status, stop.error
    except BaseException as exc:  # the documented boundary: record, then re-raise
        recorder.update(error=f"crashed: {type(exc).__name__}: {_first_line(exc)}")
        recorder.update(finished_at=utc_now())
        recorder.save()
        raise
    duration = _elapsed(run)
    recorder.update(exit_status=status, error=error, duration_s=duration, finished_at=utc_now())
    recorder.save()
    scrub = recorder.scrubber.text
    return AgentOutcome(
        exit_status=status,
        turns=run.turns,
        usage=run.usage,
        duration_s=duration,
        error=None if error is None else scrub(error),
        format_errors=run.format_errors,
        last_steps=tuple((scrub(c), scrub(o)) for c, o in run.executed[-3:]),
        warnings=warnings,
    )


def _elapsed(run: _Run) -> float:
    return round(time.monotonic() - run.start, 4)
