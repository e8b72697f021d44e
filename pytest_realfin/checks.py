"""Parsing and comparison helpers shared by verifiers: output contract, codes, order, tolerances.

A verifier computes an `Expected` table from the market and hands it with the agent's text to
`check_table`, which returns named predicates: ``format`` ones for the contract (plain text, header,
row shape, codes without exchange prefixes, row count) and ``answer`` ones for the truth (the code
set, the values within the task's tolerances, the order). Nothing here raises on hostile text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pytest_realfin.results import Predicate
from pytest_realfin.spec import OutputContract, load_task

__all__ = [
    "CODE_RE",
    "Expected",
    "Parsed",
    "check_codes",
    "check_order",
    "check_table",
    "check_values",
    "contract_for",
    "find_fence",
    "find_prefixed_code",
    "parse_output",
    "plain_code",
    "render",
    "text_lines",
]

CODE_RE = re.compile(r"\A30[01][0-9]{3}\Z")
"""A ChiNext code as the outputs must write it: six ASCII digits, 300xxx or 301xxx, no prefix."""

_PREFIXED = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:(?:sz|sh|bj)[.:_-]?\d{6}|\d{6}\.(?:sz|sh|bj))(?![A-Za-z0-9])"
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_NUMBER = re.compile(r"\A-?[0-9]+(?:\.[0-9]+)?\Z")
"""A number as the tasks ask for it: plain ASCII decimal notation (no exponent, `_`, `%`, inf)."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters, including those `str.splitlines` would take for line breaks."""
_SHOW = 8
"""How many items a detail lists before eliding the rest."""
_EPS = 1e-9
"""Slack added to every tolerance so a value rounded exactly half a unit away still passes."""

Value = str | float
"""A cell of an expected row: the code or a date as text, a number as float (unrounded)."""


@dataclass(frozen=True)
class Expected:
    """The truth a verifier compares the output with.

    Attributes:
        contract: the task's output contract (columns, header, no-result line, tolerances).
        rows: the expected rows in the required order, after any top-N cut; column 0 is the code,
            numeric columns hold unrounded floats.
        qualifying: how many stocks qualified before the cut (for details and tests).
    """

    contract: OutputContract
    rows: tuple[tuple[Value, ...], ...]
    qualifying: int = 0

    @property
    def codes(self) -> tuple[str, ...]:
        """The expected codes in order."""
        return tuple(str(r[0]) for r in self.rows)


@dataclass(frozen=True)
class Parsed:
    """What `parse_output` made of a text: data rows (None when unusable) and format predicates."""

    rows: tuple[tuple[str, ...], ...] | None
    no_result: bool
    predicates: dict[str, Predicate]


@cache
def contract_for(verifier_file: str) -> OutputContract:
    """The output contract of the task a verifier module belongs to.

    ``verifiers/<task_id>.py`` reads ``tasks/<task_id>/task.yaml`` next to it, so the task text and
    the verifier cannot drift apart on columns, decimals or tolerances.
    """
    path = Path(verifier_file)
    return load_task(path.parents[1] / "tasks" / path.stem / "task.yaml").output


def plain_code(code: str) -> str:
    """``sz.300750`` / ``300750.SZ`` / ``300750`` → ``300750``."""
    return re.sub(r"(?i)^(sz|sh|bj)[.:_-]?|\.(sz|sh|bj)$", "", code.strip())


def text_lines(text: str) -> list[str]:
    """Non-blank lines of ``text``, right-stripped; CRLF, a BOM and trailing blanks are ignored."""
    return [line.rstrip() for line in text.removeprefix("\ufeff").splitlines() if line.strip()]


def find_fence(lines: Sequence[str]) -> int | None:
    """1-based number of the first Markdown fence line (```` ``` ```` or ``~~~``), or None."""
    return next((i for i, line in enumerate(lines, 1) if _FENCE.match(line)), None)


def find_prefixed_code(text: str) -> str | None:
    """The first code written with an exchange prefix or suffix (``sz.300750``, ``300750.SZ``)."""
    found = _PREFIXED.search(text)
    return found.group(0) if found else None


def _short(items: Sequence[object]) -> str:
    shown = ", ".join(str(i) for i in items[:_SHOW])
    more = f", ... (+{len(items) - _SHOW})" if len(items) > _SHOW else ""
    return f"[{shown}{more}]"


def _clip(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def _cell_error(column: str, cell: str, contract: OutputContract) -> str | None:
    if column == "code":
        prefixed = find_prefixed_code(cell)
        if prefixed:
            return f"code {cell!r} carries an exchange prefix; write the 6 digits only"
        if not CODE_RE.match(cell):
            return f"code {_clip(cell)} is not a 6-digit ChiNext code (300xxx/301xxx)"
    elif column in contract.decimals:
        if not _NUMBER.match(cell):
            return f"{column} {_clip(cell)} is not a plain decimal number such as 12.34"
    elif column.endswith("date"):
        if not _DATE.match(cell):
            return f"{column} {_clip(cell)} is not a YYYY-MM-DD date"
        try:
            dt.date.fromisoformat(cell)
        except ValueError:
            return f"{column} {cell!r} is not a calendar date"
    return None


def parse_output(text: str, contract: OutputContract) -> Parsed:
    """Read ``text`` by the output contract; every breach becomes a failed ``format`` predicate."""
    lines = text_lines(text)
    preds: dict[str, Predicate] = {}
    fence = find_fence(lines)
    control = _CONTROL.search(text)
    if fence is not None:
        detail = f"expected plain text; observed a Markdown fence on line {fence}"
    elif control is not None:
        detail = f"expected plain text; observed control character {control.group(0)!r}"
    else:
        detail = "plain text, no Markdown fence"
    preds["plain_text"] = Predicate(
        ok=fence is None and control is None, detail=detail, kind="format"
    )
    if contract.no_result_line is not None and [s.strip() for s in lines] == [
        contract.no_result_line
    ]:
        preds["rows"] = Predicate(ok=True, detail="the no-result line", kind="format")
        return Parsed(rows=(), no_result=True, predicates=preds)

    body = lines
    if contract.header:
        want = ",".join(contract.columns)
        got = re.sub(r"\s*,\s*", ",", lines[0].strip()) if lines else ""
        ok = got == want
        detail = f"expected header {want!r}; observed {_clip(lines[0]) if lines else 'no line'}"
        preds["header"] = Predicate(ok=ok, detail=detail, kind="format")
        body = lines[1:] if ok else lines

    errors: list[str] = []
    rows: list[tuple[str, ...]] = []
    width = len(contract.columns)
    for number, line in enumerate(body, len(lines) - len(body) + 1):
        cells = tuple(c.strip() for c in line.split(","))
        if len(cells) != width:
            errors.append(
                f"line {number}: expected {width} comma-separated fields, observed {len(cells)}"
            )
            continue
        for column, cell in zip(contract.columns, cells, strict=True):
            problem = _cell_error(column, cell, contract)
            if problem:
                errors.append(f"line {number}: {problem}")
                break
        else:
            rows.append(cells)
    detail = "; ".join(errors[:3]) if errors else f"{len(rows)} well-formed rows"
    preds["row_format"] = Predicate(ok=not errors, detail=detail, kind="format")

    codes = [r[0] for r in rows]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if not body:
        no_result = contract.no_result_line
        want_rows = (
            f"at least one row or the line {no_result!r}" if no_result else "at least one row"
        )
        count_detail, count_ok = f"expected {want_rows}; observed no data row", False
    elif contract.max_rows is not None and len(body) > contract.max_rows:
        count_detail = f"expected at most {contract.max_rows} rows; observed {len(body)}"
        count_ok = False
    elif dupes:
        count_detail, count_ok = f"expected one row per code; repeated: {_short(dupes)}", False
    else:
        count_detail, count_ok = f"{len(body)} rows", True
    preds["row_count"] = Predicate(ok=count_ok, detail=count_detail, kind="format")
    usable = all(p.ok for p in preds.values())
    return Parsed(rows=tuple(rows) if usable else None, no_result=False, predicates=preds)


def check_codes(observed: Sequence[str], expected: Sequence[str]) -> Predicate:
    """The observed codes equal the expected ones as sets; the detail lists missing and extra."""
    missing = [c for c in expected if c not in set(observed)]
    extra = [c for c in observed if c not in set(expected)]
    ok = not missing and not extra
    detail = f"expected {len(expected)} codes, observed {len(observed)}" + (
        "" if ok else f"; missing: {_short(missing)}, extra: {_short(extra)}"
    )
    return Predicate(ok=ok, detail=detail, kind="answer")


def check_order(observed: Sequence[str], expected: Sequence[str], ordering: str) -> Predicate:
    """The codes both lists share appear in the expected relative order."""
    common = set(observed) & set(expected)
    seen = [c for c in observed if c in common]
    want = [c for c in expected if c in common]
    first = next((i for i, (a, b) in enumerate(zip(seen, want, strict=True)) if a != b), None)
    if first is None:
        return Predicate(ok=True, detail=f"rows in the required order ({ordering})", kind="answer")
    detail = f"expected {ordering}: {want[first]} at position {first + 1}, observed {seen[first]}"
    return Predicate(ok=False, detail=detail, kind="answer")


def check_values(observed: Sequence[Sequence[str]], expected: Expected) -> Predicate:
    """Every non-code cell of a shared code matches: numbers within tolerance, text exactly."""
    contract = expected.contract
    truth = {str(r[0]): r for r in expected.rows}
    bad: list[str] = []
    compared = 0
    for row in observed:
        want = truth.get(row[0])
        if want is None:
            continue
        for column, cell, value in zip(contract.columns[1:], row[1:], want[1:], strict=True):
            compared += 1
            if isinstance(value, float):
                tol = contract.tolerances.get(column, 0.0)
                if abs(float(cell) - value) > tol + _EPS:
                    bad.append(
                        f"{row[0]} {column}: expected {value:.6g} ± {tol:g}, observed {cell}"
                    )
            elif cell != value:
                bad.append(f"{row[0]} {column}: expected {value}, observed {cell}")
    if bad:
        return Predicate(ok=False, detail="; ".join(bad[:3]), kind="answer")
    return Predicate(ok=True, detail=f"{compared} values match within tolerance", kind="answer")


def render(expected: Expected) -> str:
    """The output file that follows the contract for ``expected`` exactly (numbers rounded).

    Tests derive their wrong outputs from it; it is never written into a workspace.
    """
    contract = expected.contract
    if not expected.rows and contract.no_result_line is not None:
        return contract.no_result_line + "\n"
    lines = [",".join(contract.columns)] if contract.header else []
    for row in expected.rows:
        cells = []
        for column, value in zip(contract.columns, row, strict=True):
            places = contract.decimals.get(column, 6)
            cells.append(f"{value:.{places}f}" if isinstance(value, float) else str(value))
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def check_table(text: str, expected: Expected) -> dict[str, Predicate]:
    """All predicates of a table-shaped output: the contract first, then the truth.

    Answer predicates are only compared when the output is well-formed; otherwise they fail with a
    pointer to the format predicates, and the failure class stays ``invalid_output``.
    """
    parsed = parse_output(text, expected.contract)
    preds = dict(parsed.predicates)
    has_values = len(expected.contract.columns) > 1
    if parsed.rows is None:
        skipped = Predicate(
            ok=False, detail="not compared: the output breaks its contract", kind="answer"
        )
        names = ("codes", "values", "order") if has_values else ("codes", "order")
        return {**preds, **dict.fromkeys(names, skipped)}
    observed = [r[0] for r in parsed.rows]
    preds["codes"] = check_codes(observed, expected.codes)
    if has_values:
        preds["values"] = check_values(parsed.rows, expected)
    preds["order"] = check_order(observed, expected.codes, expected.contract.ordering)
    return preds
