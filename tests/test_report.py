"""report.py: the seed's formats, the failure message, results.json keys, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_realfin import report as rp
from pytest_realfin.results import Predicate, TaskResult, Usage
from pytest_realfin.summary import summarize


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (400, "0k"),
        (1_500, "2k"),
        (999_499, "999k"),
        (1_000_000, "1.00M"),
        (2_345_678, "2.35M"),
    ],
)
def test_token_format_is_the_seeds(value, text):
    assert rp.format_tokens(value) == text


@pytest.mark.parametrize(("ok", "n", "text"), [(25, 40, "62%"), (15, 40, "38%"), (29, 40, "72%")])
def test_accuracy_rounds_half_even_like_the_seed(ok, n, text):
    results = [
        TaskResult(task_id="task_01_x", model="m", success=i < ok, repeat=i) for i in range(n)
    ]
    assert rp.format_accuracy(summarize(results)) == text


@pytest.mark.parametrize(
    ("usage", "text"),
    [
        (Usage(calls=2), "n/a"),  # the oracle: no tokens, the ratio is undefined
        (Usage(input_tokens=400_000, output_tokens=100_000, calls=1), "2.00"),
        (Usage(input_tokens=400_000, output_tokens=100_000, calls=2, unknown_calls=1), "2.00*"),
    ],
)
def test_efficiency_is_successes_per_million_tokens_and_flags_unknowns(usage, text):
    result = TaskResult(task_id="task_01_x", model="m", success=True, usage=usage)
    summary = summarize([result])
    assert rp.format_efficiency(summary) == text
    notes = rp.usage_notes(summary)
    assert notes == (
        [] if usage.known else ["* token counts incomplete: 1 calls reported no usage"]
    )
    assert ("incomplete" in rp.table_markdown("m", summary)) == (not usage.known)
    terminal = rp.terminal_lines("m", "baseline", summary, None)
    assert sum("incomplete" in line for line in terminal) == (0 if usage.known else 1)


def _wrong() -> TaskResult:
    return TaskResult(
        task_id="task_22_x",
        model="m",
        repeat=1,
        success=False,
        failure_class="wrong_answer",
        predicates={
            "file_created": Predicate(ok=True, detail="out.txt exists", kind="file"),
            "codes": Predicate(ok=False, detail="expected {300001}, observed {300002}"),
        },
        exit_status="submitted",
        turns=4,
        usage=Usage(input_tokens=10, output_tokens=5),
        run_dir="task_22_x/r1",
    )


def test_failure_message_lists_predicates_class_and_steps():
    text = rp.failure_message(_wrong(), ["$ python3 a.py → done"])
    assert text.splitlines() == [
        "task_22_x[r1]: wrong_answer",
        "  ok   file_created [file]: out.txt exists",
        "  FAIL codes [answer]: expected {300001}, observed {300002}",
        "  agent: exit submitted, 4 turns, 15 tokens",
        "  last steps:",
        "    $ python3 a.py → done",
        "  attempt folder: task_22_x/r1",
    ]


def test_table_markdown_has_the_seed_columns_and_the_shape():
    table = rp.table_markdown("qwen", summarize([_wrong()]))
    head, rule, row, _blank, shape, _ = table.split("\n")
    assert [c.strip() for c in head.strip("|").split("|")] == list(rp.COLUMNS)
    assert set(rule) <= {"|", "-"}
    assert [c.strip() for c in row.strip("|").split("|")][:3] == ["qwen", "0/1", "0%"]
    assert shape.startswith("failed 1: no output file 0, invalid output 0, wrong answer 1")


def test_results_document_keeps_the_seed_keys_first(tmp_path: Path):
    s = summarize([_wrong()])
    doc = rp.results_document(
        model="qwen", mode="baseline", summary=s, results=[_wrong()], extra={"lang": "zh"}
    )
    assert list(doc)[:5] == ["model", "mode", "bench", "summaries", "results"]
    assert doc["bench"] == "realfin"
    assert doc["summaries"]["realfin_benchmark"]["tasks"] == 1
    assert doc["results"]["realfin_benchmark"][0]["predicates"]["codes"]["ok"] is False
    path = tmp_path / "deep" / "results.json"
    rp.write_json(path, doc)
    assert json.loads(path.read_text(encoding="utf-8")) == doc
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


def test_html_pieces_are_escaped():
    bad = _wrong().model_copy(update={"error": "<script>x</script>"})
    cell = rp.html_predicates(bad)
    assert "<script>" not in cell
    assert "FAIL codes" in cell
    assert "<h2>RealFin</h2>" in rp.html_summary("<m>", "baseline", summarize([bad]))
    assert "<m>" not in rp.html_summary("<m>", "baseline", summarize([bad]))
