"""Outcomes: pass, failure messages, agent errors, missing data, the files a run leaves behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plugin.conftest import write_task

MODEL = ("--realfin-model", "echo-agent")


def _run_dir(project: pytest.Pytester) -> Path:
    (found,) = list((project.path / "realfin-results").glob("echo-agent/baseline/*"))
    return found


def test_pass_and_failures_show_predicates_not_tracebacks(project: pytest.Pytester):
    result = project.runpytest(*MODEL)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ task_02_wrong[[]r0[]] _*",
            "task_02_wrong[[]r0[]]: wrong_answer",
            "  ok   file_created [[]file[]]: answer.txt exists*",
            "  ok   digits [[]format[]]: expected digits, observed '41'",
            "  FAIL value [[]answer[]]: expected 42, observed '41'",
            "  agent: exit submitted, 2 turns, 1300 tokens",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "task_03_nofile[[]r0[]]: no_output_file",
            "  FAIL file_created [[]file[]]: expected the file answer.txt*; found nothing",
        ]
    )
    out = result.stdout.str()
    assert "Traceback" not in out
    assert "def realfin_task" not in out


def test_invalid_output_is_its_own_class(project: pytest.Pytester):
    write_task(project.path, "task_04_format", "forty-two")
    result = project.runpytest(*MODEL, "-k", "task_04")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["task_04_format[[]r0[]]: invalid_output", "*FAIL digits*"])


def test_terminal_summary_has_the_seed_columns_and_failure_shape(project: pytest.Pytester):
    result = project.runpytest(*MODEL)
    result.stdout.fnmatch_lines(
        [
            "*RealFin summary*",
            "| Model * | Success | Accuracy | Input Tokens | Output Tokens | Total Tokens *",
            "|-*",
            "| echo-agent | 1/3 * | 33% * | 4k * | 0k * | 4k * | 256.41 * |",
            "failed 2: no output file 1, invalid output 0, wrong answer 1, agent errors 0",
        ]
    )


def test_agent_error_is_a_pytest_error_and_counted_apart(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DEMO_API_KEY", "secret-key-value")
    write_task(project.path, "task_05_crash", "crash")
    result = project.runpytest(*MODEL)
    result.assert_outcomes(passed=1, failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of task_05_crash[[]r0[]]*",
            "task_05_crash[[]r0[]]: agent_error",
            "  error: ModelError: endpoint unreachable after 6 retries (***)",
        ]
    )
    result.stdout.fnmatch_lines(["failed 3: *, agent errors 1"])
    run_dir = _run_dir(project)
    for path in run_dir.rglob("*.json"):
        assert "secret-key-value" not in path.read_text(encoding="utf-8"), path
    assert "secret-key-value" not in result.stdout.str()
    record = json.loads((run_dir / "task_05_crash" / "r0" / "result.json").read_text())
    assert record["failure_class"] == "agent_error"
    assert record["exit_status"] == "model_error"


def test_missing_data_skips_naming_the_dataset(project: pytest.Pytester):
    write_task(project.path, "task_06_profit", "42", needs="[daily, profit]")
    result = project.runpytest(*MODEL, "-k", "task_06", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*task_06_profit: the data set lacks profit"])


def test_run_files_results_json_table_md_and_attempt_records(project: pytest.Pytester):
    project.runpytest(*MODEL, "--realfin-repeats", "2")
    run_dir = _run_dir(project)
    document = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert {"model", "mode", "bench", "summaries", "results"} <= document.keys()
    assert (document["model"], document["mode"], document["bench"]) == (
        "echo-agent",
        "baseline",
        "realfin",
    )
    summary = document["summaries"]["realfin_benchmark"]
    assert summary["tasks"] == 6
    assert summary["successes"] == 2
    assert summary["input_tokens"] == 6 * 1200
    assert summary["total_tokens"] == 6 * 1300
    assert summary["efficiency"] == round(2 / (6 * 1300) * 1e6, 2)
    records = document["results"]["realfin_benchmark"]
    assert [(r["task_id"], r["repeat"]) for r in records] == sorted(
        (t, k) for t in ("task_01_good", "task_02_wrong", "task_03_nofile") for k in (0, 1)
    )
    table = (run_dir / "table.md").read_text(encoding="utf-8")
    assert "| echo-agent | 2/6" in table
    attempt = json.loads((run_dir / "task_02_wrong" / "r1" / "result.json").read_text())
    assert attempt["failure_class"] == "wrong_answer"
    assert attempt["run_dir"] == "task_02_wrong/r1"
    assert (run_dir / "task_02_wrong" / "r1" / "workspace" / "task.json").is_file()


def test_overridden_agent_in_a_tasks_conftest_is_the_one_used(project: pytest.Pytester):
    (project.path / "tasks" / "conftest.py").write_text(
        "import pytest\n\n"
        "class Always42:\n"
        "    def run(self, attempt):\n"
        "        attempt.output_path.write_text('42')\n\n"
        "@pytest.fixture(scope='session')\n"
        "def realfin_agent():\n"
        "    return Always42()\n",
        encoding="utf-8",
    )
    result = project.runpytest(*MODEL)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["| echo-agent | 3/3 * | 100% * | 0 * | 0 * | 0 * | n/a * |"])


def test_junit_xml_carries_task_properties(project: pytest.Pytester):
    project.runpytest(*MODEL, "--junitxml=junit.xml")
    xml = (project.path / "junit.xml").read_text(encoding="utf-8")
    assert '<property name="realfin_task" value="task_02_wrong"' in xml
    assert '<property name="realfin_failure_class" value="wrong_answer"' in xml
    assert '<property name="realfin_total_tokens" value="1300"' in xml


def test_verifier_crash_is_reported_as_a_verifier_bug(project: pytest.Pytester):
    write_task(project.path, "task_07_buggy", "42")
    (project.path / "verifiers" / "task_07_buggy.py").write_text(
        "def expected(market):\n    return 1\n\ndef check(text, answer):\n    return 1 / 0\n"
    )
    result = project.runpytest(*MODEL, "-k", "task_07")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*check() raised ZeroDivisionError*fix the verifier"])
