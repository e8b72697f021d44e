"""``realfin grade TASK_ID WORKSPACE``: re-scores a workspace and prints the predicates as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_realfin.cli import main
from tests.plugin.conftest import write_task


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_task(tmp_path, "task_01_tiny", "42")
    return tmp_path


def _grade(project: Path, workspace: Path, data: Path, capsys) -> tuple[int, str, str]:
    tasks = str(project / "tasks")
    code = main(["grade", "task_01_tiny", str(workspace), "--tasks", tasks, "--data", str(data)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("text", "code", "failure"), [("42\n", 0, None), ("41\n", 1, "wrong_answer")]
)
def test_grade_prints_predicates_and_exits_by_verdict(
    project: Path, default_api_cache: Path, capsys, text, code, failure
):
    workspace = project / "ws"
    workspace.mkdir()
    (workspace / "answer.txt").write_text(text, encoding="utf-8")
    got, out, _ = _grade(project, workspace, default_api_cache, capsys)
    report = json.loads(out)
    assert got == code
    assert report["failure_class"] == failure
    assert set(report["predicates"]) == {"file_created", "digits", "value"}
    assert report["predicates"]["value"]["ok"] is (code == 0)


def test_grade_of_an_empty_workspace_is_no_output_file(project, default_api_cache, capsys):
    (project / "ws").mkdir()
    code, out, _ = _grade(project, project / "ws", default_api_cache, capsys)
    assert code == 1
    assert json.loads(out)["failure_class"] == "no_output_file"


def test_grade_of_a_missing_workspace_is_a_one_line_error(project, default_api_cache, capsys):
    code, _, err = _grade(project, project / "nowhere", default_api_cache, capsys)
    assert code == 2
    assert err.startswith("realfin: error: workspace=")
    assert len(err.strip().splitlines()) == 1
