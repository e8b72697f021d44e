"""Run-level aggregation of task results: successes, accuracy, tokens, efficiency, failures.

A ``Summary`` is a sum of per-attempt summaries, and the sum is associative and commutative, so the
totals are the same however pytest-xdist split the attempts across workers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pytest_realfin.results import TaskResult, Usage

__all__ = ["Summary", "summarize", "wilson_interval"]


@dataclass(frozen=True)
class Summary:
    """Totals over a set of attempts.

    ``tasks`` counts every attempt, agent errors included (they stay in accuracy's denominator and
    are shown separately); ``unclassified`` counts failures without a class (a broken verifier).
    """

    tasks: int = 0
    successes: int = 0
    no_output_file: int = 0
    invalid_output: int = 0
    wrong_answer: int = 0
    agent_errors: int = 0
    unclassified: int = 0
    usage: Usage = field(default_factory=Usage)
    duration_s: float = 0.0

    @classmethod
    def of(cls, result: TaskResult) -> Summary:
        """The summary of one attempt."""
        failure = result.failure_class
        return cls(
            tasks=1,
            successes=int(result.success),
            no_output_file=int(failure == "no_output_file"),
            invalid_output=int(failure == "invalid_output"),
            wrong_answer=int(failure == "wrong_answer"),
            agent_errors=int(failure == "agent_error"),
            unclassified=int(not result.success and failure is None),
            usage=result.usage,
            duration_s=result.duration_s,
        )

    def __add__(self, other: Summary) -> Summary:
        return Summary(
            tasks=self.tasks + other.tasks,
            successes=self.successes + other.successes,
            no_output_file=self.no_output_file + other.no_output_file,
            invalid_output=self.invalid_output + other.invalid_output,
            wrong_answer=self.wrong_answer + other.wrong_answer,
            agent_errors=self.agent_errors + other.agent_errors,
            unclassified=self.unclassified + other.unclassified,
            usage=self.usage + other.usage,
            duration_s=self.duration_s + other.duration_s,
        )

    @property
    def failed(self) -> int:
        """Attempts that did not succeed, agent errors included."""
        return self.tasks - self.successes

    @property
    def accuracy(self) -> float:
        """Successes over attempts (0.0 for an empty run)."""
        return self.successes / self.tasks if self.tasks else 0.0

    @property
    def efficiency(self) -> float:
        """Successes per 1M total tokens, rounded to 2 places as in the seed (0.0 if no tokens)."""
        total = self.usage.total_tokens
        return round(self.successes / total * 1_000_000, 2) if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The seed's summary keys first (``input_tokens`` is the whole prompt), then ours."""
        low, high = wilson_interval(self.successes, self.tasks)
        usage = self.usage
        return {
            "tasks": self.tasks,
            "successes": self.successes,
            "accuracy": self.accuracy,
            "input_tokens": usage.prompt_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "efficiency": self.efficiency,
            "accuracy_ci95": [low, high],
            "failed": self.failed,
            "no_output_file": self.no_output_file,
            "invalid_output": self.invalid_output,
            "wrong_answer": self.wrong_answer,
            "agent_errors": self.agent_errors,
            "unclassified": self.unclassified,
            "uncached_input_tokens": usage.input_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "model_calls": usage.calls,
            "unknown_usage_calls": usage.unknown_calls,
            "duration_s": round(self.duration_s, 3),
        }


def summarize(results: Iterable[TaskResult]) -> Summary:
    """The sum of the attempts' summaries (an empty iterable gives the empty summary)."""
    total = Summary()
    for result in results:
        total = total + Summary.of(result)
    return total


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95% by default); ``(0.0, 1.0)`` when ``n`` is 0.

    Forty tasks make a coarse estimate; the interval keeps single-run accuracy from looking exact.
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)
