"""Collection: node ids, ``-k``, skipping without a model, malformed task files, paths."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import write_task

MODEL = ("--realfin-model", "echo-agent")


def test_collects_one_item_per_task_with_the_task_id_in_the_node_id(project: pytest.Pytester):
    result = project.runpytest(*MODEL, "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "tasks/task_01_good/task.yaml::task_01_good[[]r0[]]",
            "tasks/task_02_wrong/task.yaml::task_02_wrong[[]r0[]]",
            "tasks/task_03_nofile/task.yaml::task_03_nofile[[]r0[]]",
            "3 tests collected*",
        ]
    )


def test_repeats_give_one_item_per_task_per_repeat(project: pytest.Pytester):
    result = project.runpytest(*MODEL, "--realfin-repeats", "2", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["*task_01_good[[]r0[]]", "*task_01_good[[]r1[]]", "6 tests collected*"]
    )


def test_k_selects_exactly_one_task(project: pytest.Pytester):
    write_task(project.path, "task_22_other", "42")
    write_task(project.path, "task_02_second", "42")  # task_02_* must not match -k task_22
    result = project.runpytest(*MODEL, "-k", "task_22", "-q")
    result.assert_outcomes(passed=1, deselected=4)
    results = list((project.path / "realfin-results").rglob("results.json"))
    assert len(results) == 1
    assert '"task_22_other"' in results[0].read_text(encoding="utf-8")


def test_without_a_model_task_items_skip_naming_the_option(project: pytest.Pytester):
    result = project.runpytest("tasks", "-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*no model configured: pass --realfin-model NAME*"])
    assert not (project.path / "realfin-results").exists()


def test_model_without_paths_collects_tasks_and_explicit_tests_path_does_not(
    project: pytest.Pytester,
):
    project.mkdir("unit")
    project.path.joinpath("unit", "test_unit.py").write_text("def test_unit():\n    pass\n")
    benchmark = project.runpytest(*MODEL, "--collect-only", "-q")
    benchmark.stdout.fnmatch_lines(["3 tests collected*"])
    assert "test_unit" not in benchmark.stdout.str()
    own_tests = project.runpytest(*MODEL, "unit", "--collect-only", "-q")
    own_tests.stdout.fnmatch_lines(["unit/test_unit.py::test_unit", "1 test collected*"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("colour: red\n", "*task.yaml: key 'colour' is not allowed; remove it or fix its spelling"),
        ("", "*task_09_broken*"),
    ],
    ids=["unknown-key", "bad-id"],
)
def test_malformed_task_is_a_one_line_collection_error(
    project: pytest.Pytester, text: str, expected: str
):
    write_task(project.path, "task_09_broken", "42")
    path = project.path / "tasks" / "task_09_broken" / "task.yaml"
    body = path.read_text(encoding="utf-8") + text
    if not text:
        body = body.replace("id: task_09_broken", "id: task_10_broken")
    path.write_text(body, encoding="utf-8")
    result = project.runpytest(*MODEL)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting tasks/task_09_broken/task.yaml*", expected])
    out = result.stdout.str()
    assert "Traceback" not in out
    assert "pydantic" not in out


def test_model_without_paths_does_not_load_the_testpaths_conftest(project: pytest.Pytester):
    ini = project.path / "tox.ini"
    ini.write_text(ini.read_text() + "\ntestpaths = unit\n")
    project.mkdir("unit")
    (project.path / "unit" / "conftest.py").write_text("raise RuntimeError('heavy conftest')\n")
    result = project.runpytest(*MODEL, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["3 tests collected*"])
    assert "heavy conftest" not in result.stdout.str() + result.stderr.str()
