"""Pure rendering of results: the seed's table, the failure shape, failure messages, results.json.

Nothing here touches pytest or the network; ``plugin`` decides when and where these are written.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_realfin.atomic import write_text_atomic
from pytest_realfin.results import TaskResult
from pytest_realfin.summary import Summary

__all__ = [
    "BENCH",
    "COLUMNS",
    "failure_message",
    "format_accuracy",
    "format_tokens",
    "html_predicates",
    "html_summary",
    "results_document",
    "shape_line",
    "table_markdown",
    "table_rows",
    "terminal_lines",
    "write_json",
]

BENCH = "realfin"
"""The seed's ``bench`` value."""
BENCHMARK_KEY = "realfin_benchmark"
"""The seed's key for RealFin inside ``summaries`` and ``results``."""
COLUMNS = (
    "Model",
    "Success",
    "Accuracy",
    "Input Tokens",
    "Output Tokens",
    "Total Tokens",
    "Efficiency",
)


def format_tokens(value: int) -> str:
    """The seed's token format: ``x.xxM`` from a million, else ``round(v/1000)k``, and ``0``."""
    if value == 0:
        return "0"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f}M"
    return f"{round(value / 1000)}k"


def format_accuracy(summary: Summary) -> str:
    """``:.0%`` as in the seed (round-half-even: 25/40 shows 62%)."""
    return f"{summary.accuracy:.0%}"


def table_rows(model: str, summary: Summary) -> list[str]:
    """The seed's columns for one model."""
    usage = summary.usage
    return [
        model,
        f"{summary.successes}/{summary.tasks}",
        format_accuracy(summary),
        format_tokens(usage.prompt_tokens),
        format_tokens(usage.output_tokens),
        format_tokens(usage.total_tokens),
        format_efficiency(summary),
    ]


def format_efficiency(summary: Summary) -> str:
    """The seed's ``%.2f``, except where the seed's number would mislead.

    ``n/a`` when no token was counted (the oracle): the ratio is undefined, not zero. A ``*`` when
    some calls reported no usage: the token total is then a floor, so the ratio is a ceiling.
    """
    usage = summary.usage
    if usage.total_tokens == 0:
        return "n/a"
    return f"{summary.efficiency:.2f}" + ("" if usage.known else "*")


def shape_line(summary: Summary) -> str:
    """The failure shape in one line."""
    line = (
        f"failed {summary.failed}: no output file {summary.no_output_file}, "
        f"invalid output {summary.invalid_output}, wrong answer {summary.wrong_answer}, "
        f"agent errors {summary.agent_errors}"
    )
    if summary.unclassified:
        line += f", verifier errors {summary.unclassified}"
    return line


def _markdown(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines


def table_markdown(model: str, summary: Summary) -> str:
    """``table.md``: the seed's single-row table, then the failure shape."""
    lines = _markdown([list(COLUMNS), table_rows(model, summary)])
    return "\n".join([*lines, "", shape_line(summary), *usage_notes(summary), ""])


def usage_notes(summary: Summary) -> list[str]:
    """A line when some calls reported no usage (the ``*`` on the efficiency), else nothing."""
    if summary.usage.known:
        return []
    return [f"* token counts incomplete: {summary.usage.unknown_calls} calls reported no usage"]


def terminal_lines(model: str, mode: str, summary: Summary, run_dir: Path | None) -> list[str]:
    """The terminal summary: the table, the failure shape, where the files are."""
    lines = [f"RealFin-Bench: model {model}, mode {mode}"]
    lines += _markdown([list(COLUMNS), table_rows(model, summary)])
    lines.append(shape_line(summary))
    lines += usage_notes(summary)
    if run_dir is not None:
        lines.append(f"results: {run_dir / 'results.json'}")
    return lines


def failure_message(result: TaskResult, last_steps: Sequence[str] = ()) -> str:
    """The failure text of one attempt: each predicate, the class, the agent's last steps.

    This replaces the traceback: what was expected and what was observed is the whole story.
    """
    head = f"{result.task_id}[r{result.repeat}]: {result.failure_class or 'verifier error'}"
    lines = [head]
    if result.error:
        lines.append(f"  error: {result.error}")
    for name, pred in result.predicates.items():
        mark = "ok  " if pred.ok else "FAIL"
        lines.append(f"  {mark} {name} [{pred.kind}]: {pred.detail}")
    lines.append(
        f"  agent: exit {result.exit_status or 'unknown'}, {result.turns} turns, "
        f"{result.usage.total_tokens} tokens"
    )
    if last_steps:
        lines.append("  last steps:")
        lines += [f"    {step}" for step in last_steps]
    if result.run_dir:
        lines.append(f"  attempt folder: {result.run_dir}")
    return "\n".join(lines)


def results_document(
    *, model: str, mode: str, summary: Summary, results: Iterable[TaskResult], extra: dict[str, Any]
) -> dict[str, Any]:
    """``results.json``: the seed's keys (model, mode, bench, summaries, results), then ours."""
    records = sorted(
        (r.model_dump(mode="json") for r in results),
        key=lambda r: (r["task_id"], r["repeat"], r["attempt"]),
    )
    return {
        "model": model,
        "mode": mode,
        "bench": BENCH,
        "summaries": {BENCHMARK_KEY: summary.to_dict()},
        "results": {BENCHMARK_KEY: records},
        "schema": "realfin-run/1",
        **extra,
    }


def html_summary(model: str, mode: str, summary: Summary) -> str:
    """The RealFin section of the pytest-html report (escaped HTML)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    row = "".join(f"<td>{html.escape(c)}</td>" for c in table_rows(model, summary))
    return (
        f'<div class="realfin"><h2>RealFin</h2><p>mode {html.escape(mode)}</p>'
        f"<table><tr>{head}</tr><tr>{row}</tr></table>"
        f"<p>{html.escape(shape_line(summary))}</p></div>"
    )


def html_predicates(result: TaskResult) -> str:
    """The pytest-html predicate cell: ``ok``/``FAIL`` and the name, the detail on hover."""
    parts = [
        f'<span title="{html.escape(p.detail)}">{"ok" if p.ok else "FAIL"} {html.escape(n)}</span>'
        for n, p in result.predicates.items()
    ]
    if result.failure_class:
        parts.append(f"<b>{html.escape(result.failure_class)}</b>")
    if result.error:
        parts.append(html.escape(result.error))
    return "<br>".join(parts)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically so a reader (resume, the controller) never sees half a file."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
