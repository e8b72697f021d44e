"""Options and ini keys: bad values are one-line usage errors that say how to fix them."""

from __future__ import annotations

import pytest

MODEL = ("--realfin-model", "echo-agent")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--realfin-repeats", "zero"), "*--realfin-repeats='zero' is not a positive int*"),
        (("--realfin-repeats", "0"), "*--realfin-repeats='0' is not a positive int*"),
        (("--realfin-lang", "fr"), "*--realfin-lang='fr' is not one of zh, en; pick one"),
        (("--realfin-mode", "greedy"), "*--realfin-mode='greedy' is not one of baseline, *"),
        (("--realfin-sandbox", "docker"), "*--realfin-sandbox='docker' is not one of auto, bwrap*"),
        (("--realfin-command-timeout", "-1"), "*--realfin-command-timeout='-1' is not a positive*"),
        (("--realfin-data", "nowhere"), "*--realfin-data='nowhere': * does not exist*"),
        (
            ("--realfin-model", "no-such-model"),
            "*--realfin-model='no-such-model' is not in the model registry*",
        ),
        (
            ("--realfin-model", "x", "--realfin-base-url", "ftp://h"),
            "*--realfin-base-url='ftp://h' must start with http:// or https://*",
        ),
    ],
    ids=[
        "repeats-word",
        "repeats-zero",
        "lang",
        "mode",
        "sandbox",
        "timeout",
        "data",
        "model",
        "url",
    ],
)
def test_bad_option_value_is_a_usage_error(project: pytest.Pytester, args, message):
    result = project.runpytest(*MODEL, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message.lstrip('*')}"])
    assert "Traceback" not in result.stderr.str()


def test_bad_ini_value_names_the_ini_key(project: pytest.Pytester):
    ini = project.path / "tox.ini"
    ini.write_text(ini.read_text() + "\nrealfin_max_turns = many\n")
    result = project.runpytest(*MODEL)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: ini realfin_max_turns='many' is not a positive int*"])


def test_command_line_overrides_ini(project: pytest.Pytester):
    ini = project.path / "tox.ini"
    ini.write_text(ini.read_text() + "\nrealfin_repeats = 3\n")
    result = project.runpytest(*MODEL, "--realfin-repeats", "1", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["3 tests collected*"])
    result = project.runpytest(*MODEL, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["9 tests collected*"])


@pytest.mark.parametrize("mode", ["bayesian-full", "bayesian-incremental"])
def test_non_baseline_modes_run_with_an_empty_skill_context(project: pytest.Pytester, mode):
    project.makeconftest(
        (project.path / "conftest.py").read_text()
        + "\n\n@pytest.fixture(autouse=True)\n"
        + "def _check_skills(request):\n"
        + "    if 'realfin_skills' in request.fixturenames:\n"
        + "        skills = request.getfixturevalue('realfin_skills')\n"
        + f"        assert (skills.mode, skills.text) == ({mode!r}, '')\n"
    )
    result = project.runpytest(*MODEL, "--realfin-mode", mode, "-k", "task_01")
    result.assert_outcomes(passed=1)
    assert list((project.path / "realfin-results" / "echo-agent").glob(f"{mode}/*/results.json"))


def test_run_dir_option_places_the_run(project: pytest.Pytester):
    project.runpytest(*MODEL, "--realfin-run-dir", "myrun", "-k", "task_01")
    assert (project.path / "myrun" / "results.json").is_file()
    assert (project.path / "myrun" / "task_01_good" / "r0" / "result.json").is_file()


def test_tasks_option_points_at_another_folder(project: pytest.Pytester):
    (project.path / "tasks").rename(project.path / "bench")
    result = project.runpytest(*MODEL, "--realfin-tasks", "bench", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["bench/task_01_good/task.yaml::task_01_good[[]r0[]]", "3 tests*"])


def test_missing_api_key_is_one_usage_error_before_any_task(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("DEMO_CRED", raising=False)
    args = ("--realfin-model", "keyed", "--realfin-base-url", "http://127.0.0.1:9")
    result = project.runpytest(*args, "--realfin-api-key-env", "DEMO_CRED")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --realfin-model='keyed' reads its API key from $DEMO_CRED, which is not set; *"]
    )
    assert "Traceback" not in result.stderr.str()
    # Listing the tasks needs no key; a keyless endpoint (vLLM, Ollama) needs none either.
    listed = project.runpytest(*args, "--realfin-api-key-env", "DEMO_CRED", "--collect-only")
    assert listed.ret == pytest.ExitCode.OK
    assert project.runpytest(*args, "--collect-only").ret == pytest.ExitCode.OK
