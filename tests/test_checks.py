"""pytest_realfin.checks: the output contract parser and the comparisons every verifier shares."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_realfin.checks import (
    Expected,
    check_codes,
    check_order,
    check_table,
    find_fence,
    find_prefixed_code,
    parse_output,
    plain_code,
    render,
)
from pytest_realfin.spec import OutputContract
from pytest_realfin.verify import classify

TABLE = OutputContract(
    file="out.txt",
    columns=("code", "day1_date", "ratio"),
    header=True,
    no_result_line="无符合条件的股票",
    max_rows=3,
    ordering="code ascending",
    decimals={"ratio": 2},
    tolerances={"ratio": 0.005},
)
CODES_ONLY = OutputContract(file="out.txt", columns=("code",), no_result_line="NONE", max_rows=2)
ANSWER = Expected(
    contract=TABLE,
    rows=(("300001", "2024-03-01", 1.234), ("301002", "2024-03-05", 2.5)),
)
GOOD = "code,day1_date,ratio\n300001,2024-03-01,1.23\n301002,2024-03-05,2.50\n"

codes = st.from_regex(r"30[01][0-9]{3}", fullmatch=True)


def outcome(text: str, answer: Expected = ANSWER) -> str | None:
    return classify(check_table(text, answer))


def test_rendered_answer_passes() -> None:
    assert render(ANSWER) == GOOD
    assert outcome(GOOD) is None


@pytest.mark.parametrize(
    "text",
    [
        GOOD.replace("\n", "\r\n"),
        GOOD + "\n\n",
        GOOD.replace(",", ", "),
        "\ufeff" + GOOD,
        "code,day1_date,ratio\n300001,2024-03-01,1.234\n301002,2024-03-05,2.5\n",
        GOOD.rstrip("\n"),
        GOOD.replace("\n", "\r"),
        GOOD.replace("\n", "  \n"),
        "\n\n" + GOOD,
        GOOD.replace("1.23", "1.2300001"),
        GOOD.replace("2.50", "2.495"),
    ],
    ids=[
        "crlf",
        "trailing-blank-lines",
        "spaces-after-commas",
        "bom",
        "more-or-fewer-decimals",
        "no-final-newline",
        "cr-only",
        "trailing-spaces",
        "leading-blank-lines",
        "many-decimals",
        "half-a-unit-below",
    ],
)
def test_harmless_variations_pass(text: str) -> None:
    assert outcome(text) is None


@pytest.mark.parametrize(
    ("text", "failing", "failure"),
    [
        ("```\n" + GOOD + "```\n", "plain_text", "invalid_output"),
        (GOOD.replace("300001", "sz.300001"), "row_format", "invalid_output"),
        (GOOD.replace("300001", "300001.SZ"), "row_format", "invalid_output"),
        (GOOD.replace("300001", "600001"), "row_format", "invalid_output"),
        (GOOD.split("\n", 1)[1], "header", "invalid_output"),
        (GOOD.replace("2024-03-01", "2024/03/01"), "row_format", "invalid_output"),
        (GOOD.replace("2024-03-01", "2024-02-30"), "row_format", "invalid_output"),
        (GOOD.replace("1.23", "nan"), "row_format", "invalid_output"),
        (GOOD.replace("1.23", "abc"), "row_format", "invalid_output"),
        (GOOD + "300003,2024-03-06,1.00\n300004,2024-03-06,1.00\n", "row_count", "invalid_output"),
        (GOOD + "300001,2024-03-01,1.23\n", "row_count", "invalid_output"),
        ("code,day1_date,ratio\n", "row_count", "invalid_output"),
        (GOOD.replace("1.23", "1.24"), "values", "wrong_answer"),
        (GOOD.replace("2024-03-05", "2024-03-04"), "values", "wrong_answer"),
        (GOOD.replace("301002", "300999"), "codes", "wrong_answer"),
        ("无符合条件的股票\n", "codes", "wrong_answer"),
        ("code,day1_date,ratio\n301002,2024-03-05,2.50\n300001,2024-03-01,1.23\n", "order", None),
        ("code,day1_date,ratio\n300001,2024-03-01,1.23\0\n", "plain_text", "invalid_output"),
    ],
    ids=[
        "fence",
        "sz-prefix",
        "sz-suffix",
        "not-chinext",
        "no-header",
        "date-format",
        "impossible-date",
        "nan",
        "not-a-number",
        "too-many-rows",
        "duplicate",
        "header-only",
        "value-off",
        "date-off",
        "wrong-code",
        "no-result-line",
        "reordered",
        "nul-byte",
    ],
)
def test_breaches_fail_the_named_predicate(text: str, failing: str, failure: str | None) -> None:
    preds = check_table(text, ANSWER)
    assert not preds[failing].ok, preds[failing]
    assert outcome(text) == (failure or "wrong_answer")


ROWS = GOOD.split("\n", 1)[1]


@pytest.mark.parametrize(
    ("text", "failing"),
    [
        pytest.param("代码,日期,比值\n" + ROWS, "header", id="header-in-chinese"),
        pytest.param("Code,Day1_Date,Ratio\n" + ROWS, "header", id="header-capitalised"),
        pytest.param("code;day1_date;ratio\n" + ROWS, "header", id="header-semicolons"),
        pytest.param(GOOD.replace("300001", "300 001"), "row_format", id="code-inner-space"),
        pytest.param(
            GOOD.replace("300001", "300\u0660\u0660\u0661"), "row_format", id="code-arabic"
        ),
        pytest.param(GOOD.replace("300001", "３００００１"), "row_format", id="code-fullwidth"),
        pytest.param(GOOD.replace("300001", "300001.0"), "row_format", id="code-as-float"),
        pytest.param(GOOD.replace("300001", '"300001"'), "row_format", id="code-quoted"),
        pytest.param(GOOD.replace("1.23", "inf"), "row_format", id="inf"),
        pytest.param(GOOD.replace("1.23", "-Infinity"), "row_format", id="minus-infinity"),
        pytest.param(GOOD.replace("1.23", "NaN"), "row_format", id="NaN"),
        pytest.param(GOOD.replace("1.23", "1.23%"), "row_format", id="percent-sign"),
        pytest.param(GOOD.replace("1.23", "1.2_3"), "row_format", id="underscore-digits"),
        pytest.param(GOOD.replace("1.23", "1.23e0"), "row_format", id="exponent"),
        pytest.param(GOOD.replace("1.23", "\u0661.\u0662\u0663"), "row_format", id="value-arabic"),
        pytest.param(GOOD.replace("1.23", "１.２３"), "row_format", id="value-fullwidth"),
        pytest.param(GOOD.replace("2024-03-01", "2024-3-1"), "row_format", id="date-unpadded"),
        pytest.param(GOOD.replace("\n300001", "\n300001,x"), "row_format", id="extra-column"),
        pytest.param(GOOD.replace("1.23\n", "1.23,\n"), "row_format", id="trailing-comma"),
        pytest.param(GOOD.replace(",", "\t"), "header", id="tab-separated"),
        pytest.param("无符合条件的股票\n" + GOOD, "header", id="no-result-line-then-table"),
        pytest.param(GOOD + "无符合条件的股票\n", "row_format", id="table-then-no-result-line"),
        pytest.param("", "row_count", id="empty-file"),
        pytest.param(" \n\t\n\n", "row_count", id="whitespace-only"),
        pytest.param(GOOD.replace("\n", "\u2028"), "plain_text", id="unicode-line-separator"),
        pytest.param(GOOD.replace("\n", "\x85"), "plain_text", id="next-line-control"),
    ],
)
def test_contract_breaches_are_invalid_output(text: str, failing: str) -> None:
    preds = check_table(text, ANSWER)
    assert not preds[failing].ok, preds[failing]
    assert outcome(text) == "invalid_output"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("NONE\n300001\n300002\n", id="no-result-line-then-codes"),
        pytest.param("300001\n300002\nNONE\n", id="codes-then-no-result-line"),
        pytest.param("NONE\nNONE\n", id="no-result-line-twice"),
        pytest.param("", id="empty-file"),
        pytest.param("300001 300002\n", id="codes-on-one-line"),
        pytest.param("300001,300002\n", id="codes-comma-separated"),
    ],
)
def test_codes_only_breaches_are_invalid_output(text: str) -> None:
    answer = Expected(contract=CODES_ONLY, rows=(("300001",), ("300002",)))
    empty = Expected(contract=CODES_ONLY, rows=())
    assert outcome(text, answer) == "invalid_output"
    assert outcome(text, empty) == "invalid_output"


def test_tolerance_is_half_a_unit_of_the_last_place() -> None:
    answer = Expected(contract=TABLE, rows=(("300001", "2024-03-01", 1.235),))
    for written, ok in (("1.24", True), ("1.23", True), ("1.241", False), ("1.229", False)):
        text = f"code,day1_date,ratio\n300001,2024-03-01,{written}\n"
        assert check_table(text, answer)["values"].ok is ok, written


def test_no_result_line_passes_only_when_the_answer_is_empty() -> None:
    empty = Expected(contract=TABLE, rows=())
    assert render(empty) == "无符合条件的股票\n"
    assert outcome("无符合条件的股票\n", empty) is None
    assert outcome("code,day1_date,ratio\n无符合条件的股票\n", empty) == "invalid_output"
    assert outcome(GOOD, empty) == "wrong_answer"


def test_codes_only_contract() -> None:
    answer = Expected(contract=CODES_ONLY, rows=(("300001",), ("300002",)))
    assert outcome("300001\n300002\n", answer) is None
    assert "values" not in check_table("300001\n300002\n", answer)
    assert outcome("code\n300001\n300002\n", answer) == "invalid_output"
    assert outcome("300002\n300001\n", answer) == "wrong_answer"


def test_set_detail_names_missing_and_extra() -> None:
    pred = check_codes(["300001", "300003"], ["300001", "300002"])
    assert not pred.ok
    assert pred.kind == "answer"
    assert "missing: [300002]" in pred.detail
    assert "extra: [300003]" in pred.detail


def test_order_ignores_codes_that_the_set_check_reports() -> None:
    assert check_order(["300001", "300009", "300002"], ["300001", "300002"], "x").ok
    assert not check_order(["300002", "300001"], ["300001", "300002"], "x").ok


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("sz.300750", "sz.300750"),
        ("x SH600000 y", "SH600000"),
        ("300750.SZ", "300750.SZ"),
        ("300750", None),
        ("dsz.3007501", None),
    ],
)
def test_prefixed_codes_are_found(text: str, found: str | None) -> None:
    assert find_prefixed_code(text) == found


def test_plain_code_and_fence() -> None:
    assert plain_code("sz.300750") == plain_code("300750.SZ") == "300750"
    assert find_fence(["a", "  ```python", "b"]) == 2
    assert find_fence(["a", "b"]) is None


@given(
    st.lists(st.tuples(codes, st.dates(), st.floats(0, 1e6)), max_size=3, unique_by=lambda r: r[0])
)
def test_render_round_trips_through_the_parser(rows: list[tuple[str, object, float]]) -> None:
    rows.sort()
    answer = Expected(contract=TABLE, rows=tuple((c, d.isoformat(), v) for c, d, v in rows))
    preds = check_table(render(answer), answer)
    assert all(p.ok for p in preds.values()), preds


@given(st.text())
def test_arbitrary_text_never_raises_and_never_passes(text: str) -> None:
    preds = check_table(text, ANSWER)
    assert all(isinstance(p.ok, bool) for p in preds.values())
    assert not all(p.ok for p in preds.values())
    parse_output(text, CODES_ONLY)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("code,day1_date,ratio\n300001,2024-03-01\n", "line 2:"),  # header right: rows from 2
        ("300001,2024-03-01\n", "line 1:"),  # header missing: the first line is a row
        ("无符合条件的股票 plus\n", "line 1:"),
    ],
)
def test_row_errors_name_the_line_they_are_on(text: str, line: str) -> None:
    detail = check_table(text, ANSWER)["row_format"].detail
    assert detail.startswith(f"{line} expected 3 comma-separated fields")
