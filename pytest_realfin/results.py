"""Result records: token usage, predicates, one attempt's ``TaskResult``.

These are the values that cross process boundaries (xdist workers to the controller, attempts to
``results.json``), so they are frozen pydantic models that round-trip through JSON. Aggregation is a
plain sum (``Usage.__add__`` is associative and commutative), which keeps run totals independent of
how tests were split across workers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ExitStatus",
    "FailureClass",
    "Predicate",
    "PredicateKind",
    "TaskResult",
    "Usage",
]

FailureClass = Literal["no_output_file", "invalid_output", "wrong_answer", "agent_error"]
"""Every failed attempt gets exactly one (see DESIGN.md, failure classes)."""

PredicateKind = Literal["file", "format", "answer"]
"""What a predicate guards; the first failing kind decides the failure class."""

ExitStatus = Literal[
    "submitted",
    "turn_limit",
    "time_limit",
    "token_limit",
    "format_errors",
    "model_error",
    "sandbox_error",
]
"""How an agent loop ended."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Usage(_Frozen):
    """Token usage normalised across providers.

    ``input_tokens`` are uncached prompt tokens and ``cached_input_tokens`` the cached part, so the
    prompt is their sum; ``reasoning_tokens`` are a part of ``output_tokens``. A call whose response
    carried no usage adds to ``unknown_calls`` and to no count: unknown is never reported as zero.
    """

    input_tokens: int = 0
    """Prompt tokens not served from the provider's cache."""
    cached_input_tokens: int = 0
    """Prompt tokens served from the provider's cache."""
    output_tokens: int = 0
    """Completion tokens, reasoning included."""
    reasoning_tokens: int = 0
    """The reasoning part of ``output_tokens``."""
    calls: int = 0
    """Model calls counted in this record."""
    unknown_calls: int = 0
    """Calls whose response had no usage block."""

    @property
    def prompt_tokens(self) -> int:
        """Uncached plus cached input."""
        return self.input_tokens + self.cached_input_tokens

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion, the seed's "Total Tokens"."""
        return self.prompt_tokens + self.output_tokens

    @property
    def known(self) -> bool:
        """True when every counted call reported its usage."""
        return self.unknown_calls == 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            calls=self.calls + other.calls,
            unknown_calls=self.unknown_calls + other.unknown_calls,
        )


class Predicate(_Frozen):
    """One named check of a verifier: whether it held, and what was expected versus observed."""

    ok: bool
    """Whether the check held."""
    detail: str = ""
    """Short text: expected ..., observed ... (shown in the failure message)."""
    kind: PredicateKind = "answer"
    """``file`` (the output exists), ``format`` (the output contract), ``answer`` (the truth)."""


class TaskResult(_Frozen):
    """The record of one task attempt: what ran, how it ended, how it was graded, what it cost."""

    task_id: str
    model: str
    mode: str = "baseline"
    repeat: int = 0
    attempt: int = 0
    success: bool
    failure_class: FailureClass | None = None
    predicates: dict[str, Predicate] = {}
    exit_status: ExitStatus | None = None
    turns: int = 0
    usage: Usage = Usage()
    duration_s: float = 0.0
    error: str | None = None
    """One line on an ``agent_error``: what broke (never a secret)."""
    run_dir: str | None = None
    """The attempt's folder, relative to the run directory."""
