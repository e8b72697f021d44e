"""Across processes: ``-n 2`` totals equal ``-n 0`` totals; the pytest-html RealFin section."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest

from tests.plugin.conftest import write_task

MODEL = ("--realfin-model", "echo-agent")


def _totals(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    document = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    summary = dict(document["summaries"]["realfin_benchmark"])
    summary.pop("duration_s")
    records = [
        {k: v for k, v in r.items() if k != "duration_s"}
        for r in document["results"]["realfin_benchmark"]
    ]
    return summary, records


def test_two_workers_give_the_same_totals_as_one_process(project: pytest.Pytester):
    pytest.importorskip("xdist")
    write_task(project.path, "task_04_format", "forty-two")
    write_task(project.path, "task_05_crash", "crash")
    common = (*MODEL, "--realfin-repeats", "3", "-p", "no:cacheprovider")
    serial = project.runpytest(*common, "-n", "0", "--realfin-run-dir", "serial")
    parallel = project.runpytest_subprocess(*common, "-n", "2", "--realfin-run-dir", "parallel")
    serial.assert_outcomes(passed=3, failed=9, errors=3)
    parallel.assert_outcomes(passed=3, failed=9, errors=3)
    assert "2 workers" in parallel.stdout.str()
    summary, records = _totals(project.path / "serial")
    assert summary["tasks"] == 15
    assert summary["agent_errors"] == 3
    assert _totals(project.path / "parallel") == (summary, records)
    # the controller chose the run dir and every worker wrote its attempts into it
    assert len(list((project.path / "parallel").glob("task_*/r*/result.json"))) == 15
    parallel.stdout.fnmatch_lines(["*RealFin summary*", "| echo-agent | 3/15 *"])
    assert parallel.stdout.str().count("RealFin summary") == 1


def test_html_report_has_a_realfin_section_and_task_columns(project: pytest.Pytester):
    pytest.importorskip("pytest_html")
    result = project.runpytest(*MODEL, "--html=report.html")
    result.assert_outcomes(passed=1, failed=2)
    page = html.unescape((project.path / "report.html").read_text(encoding="utf-8"))
    assert "<h2>RealFin</h2>" in page
    assert "failed 2: no output file 1, invalid output 0, wrong answer 1, agent errors 0" in page
    assert "Predicates" in page
    assert "FAIL value" in page
    assert "expected 42, observed &#x27;41&#x27;" in page or "expected 42, observed '41'" in page
