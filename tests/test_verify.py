"""verify.py: reading the output file, classifying failures, loading verifiers, caching answers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_realfin.errors import MissingDataError, VerifierError
from pytest_realfin.results import Predicate
from pytest_realfin.verify import VerifierSet, classify, grade_text, read_output

VERIFIER = """\
from pytest_realfin.results import Predicate

CALLS = []

def expected(market):
    CALLS.append(market.fingerprint)
    return str(len(market.fingerprint))

def check(output_text, answer):
    return {"value": Predicate(ok=output_text.strip() == answer, detail="", kind="answer")}
"""


def _verifiers(tmp_path: Path, source: str = VERIFIER, task_id: str = "task_01_x") -> VerifierSet:
    folder = tmp_path / "verifiers"
    folder.mkdir(exist_ok=True)
    (folder / f"{task_id}.py").write_text(source, encoding="utf-8")
    return VerifierSet(folder)


def test_missing_file_fails_file_created(tmp_path: Path):
    text, preds = read_output(tmp_path / "out.txt")
    assert text is None
    assert preds["file_created"].ok is False
    assert preds["file_created"].kind == "file"
    assert classify(preds) == "no_output_file"


def test_directory_in_place_of_the_file_is_no_output_file(tmp_path: Path):
    (tmp_path / "out.txt").mkdir()
    text, preds = read_output(tmp_path / "out.txt")
    assert text is None
    assert "a directory" in preds["file_created"].detail


def test_bom_is_stripped_and_text_decoded(tmp_path: Path):
    path = tmp_path / "out.txt"
    path.write_bytes("\ufeff无符合条件的股票\n".encode())
    text, preds = read_output(path)
    assert text == "无符合条件的股票\n"
    assert all(p.ok for p in preds.values())


def test_undecodable_output_is_a_failed_format_predicate(tmp_path: Path):
    path = tmp_path / "out.txt"
    path.write_bytes(b"300750,\xff\xfe\n")
    text, preds = read_output(path)
    assert text is None
    assert preds["utf8"].ok is False
    assert "offset 7" in preds["utf8"].detail
    assert classify(preds) == "invalid_output"


def test_oversized_output_is_rejected_unread(tmp_path: Path):
    path = tmp_path / "out.txt"
    path.write_bytes(b"1" * 101)
    text, preds = read_output(path, limit=100)
    assert text is None
    assert preds["output_size"].kind == "format"
    assert "observed 101 bytes" in preds["output_size"].detail


@given(st.binary(max_size=300))
def test_read_output_never_raises_on_arbitrary_bytes(tmp_path_factory, data: bytes):
    path = tmp_path_factory.mktemp("out") / "out.txt"
    path.write_bytes(data)
    text, preds = read_output(path, limit=200)
    assert preds["file_created"].ok
    if text is None:
        assert classify(preds) == "invalid_output"


_KINDS = st.sampled_from(["file", "format", "answer"])
_PREDS = st.dictionaries(
    st.text(min_size=1, max_size=5), st.builds(Predicate, ok=st.booleans(), kind=_KINDS)
)


@given(_PREDS)
def test_classify_is_decided_by_the_most_basic_failing_kind(preds: dict[str, Predicate]):
    failing = {p.kind for p in preds.values() if not p.ok}
    expected = next(
        (c for k, c in [("file", "no_output_file"), ("format", "invalid_output"),
                        ("answer", "wrong_answer")] if k in failing),
        None,
    )  # fmt: skip
    assert classify(preds) == expected
    assert classify(dict(reversed(list(preds.items())))) == expected


def test_check_that_raises_is_a_verifier_error():
    def check(text, answer):
        raise KeyError("boom")

    with pytest.raises(VerifierError, match=r"task_01_x\.py: check\(\) raised KeyError"):
        grade_text("task_01_x", "x", 1, check)


def test_check_returning_the_wrong_shape_is_a_verifier_error():
    with pytest.raises(VerifierError, match="expected dict\\[str, Predicate\\]"):
        grade_text("task_01_x", "x", 1, lambda t, a: {"ok": True})


def test_expected_answer_is_cached_per_task_and_fingerprint(tmp_path: Path):
    verifiers = _verifiers(tmp_path)
    a, b = SimpleNamespace(fingerprint="aaaa"), SimpleNamespace(fingerprint="bb")
    assert verifiers.expected("task_01_x", a) == "4"
    assert verifiers.expected("task_01_x", a) == "4"
    assert verifiers.expected("task_01_x", b) == "2"
    assert verifiers.module("task_01_x").CALLS == ["aaaa", "bb"]


def test_grade_adds_file_created_and_classifies(tmp_path: Path):
    verifiers = _verifiers(tmp_path)
    market = SimpleNamespace(fingerprint="abc")
    out = tmp_path / "out.txt"
    out.write_text("3\n")
    grade = verifiers.grade("task_01_x", out, market)
    assert grade.success
    assert list(grade.predicates) == ["file_created", "value"]
    out.write_text("4\n")
    assert verifiers.grade("task_01_x", out, market).failure_class == "wrong_answer"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "no verifier for task 'task_01_x'"),
        ("def expected(market):\n    return 1\n", "does not define check()"),
        ("import no_such_module_here\n", "import failed \\(ModuleNotFoundError"),
        (
            "def expected(market):\n    raise ValueError('bad')\ndef check(t, a):\n    return {}\n",
            "expected\\(market\\) raised ValueError: bad",
        ),
    ],
    ids=["missing", "no-check", "import-error", "expected-crash"],
)
def test_broken_verifier_modules_are_verifier_errors(tmp_path: Path, source, message):
    verifiers = (
        VerifierSet(tmp_path) if source is None else _verifiers(tmp_path, source, "task_01_x")
    )
    with pytest.raises(VerifierError, match=message):
        verifiers.expected("task_01_x", SimpleNamespace(fingerprint="f"))


def test_missing_data_in_expected_propagates_for_a_skip(tmp_path: Path):
    source = (
        "from pytest_realfin.errors import MissingDataError\n"
        "def expected(market):\n    raise MissingDataError('no profit table')\n"
        "def check(t, a):\n    return {}\n"
    )
    with pytest.raises(MissingDataError, match="no profit table"):
        _verifiers(tmp_path, source).expected("task_01_x", SimpleNamespace(fingerprint="f"))


@pytest.mark.parametrize(
    "source",
    [
        "raise ValueError('bad import\\nsecond line')\n",
        "def expected(market):\n    raise ValueError('bad\\nsecond line')\ndef check(t, a):\n"
        "    return {}\n",
        "def expected(market):\n    raise ValueError()\ndef check(t, a):\n    return {}\n",
    ],
    ids=["import", "expected", "expected-no-message"],
)
def test_verifier_crashes_are_one_line_errors(tmp_path: Path, source: str):
    verifiers = _verifiers(tmp_path, source)
    with pytest.raises(VerifierError) as info:
        verifiers.expected("task_01_x", SimpleNamespace(fingerprint="f"))
    assert "\n" not in str(info.value)
    assert "ValueError" in str(info.value)
    assert "second line" not in str(info.value)


def test_check_crash_is_one_line():
    def check(text, answer):
        raise ValueError("first\nsecond")

    with pytest.raises(VerifierError, match=r"check\(\) raised ValueError: first on") as info:
        grade_text("task_01_x", "x", 1, check)
    assert "\n" not in str(info.value)
