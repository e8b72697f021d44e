"""The pilot verifiers on the default data: wrong outputs get the right failure class, plants land.

Every wrong output is derived from the rendered expected answer, which is computed from the data;
no answer is written down here.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_realfin.checks import Expected, plain_code, render
from pytest_realfin.market.generator import plant_assignments
from pytest_realfin.market.plant_specs import TASK_PLANTS
from pytest_realfin.spec import load_task
from pytest_realfin.verify import classify, read_output
from tests.pilots import PILOTS, ROOT, verifier


@pytest.fixture(scope="module")
def answers(default_market: Any) -> dict[str, Expected]:
    return {t: verifier(t).expected(default_market) for t in PILOTS}


@pytest.fixture(scope="module")
def planted() -> dict[str, tuple[str, ...]]:
    return {
        name: tuple(plain_code(c) for c in codes) for name, codes in plant_assignments().items()
    }


def decoys(task_id: str, planted: dict[str, tuple[str, ...]]) -> list[str]:
    return [c for p in TASK_PLANTS[task_id] if p.role == "decoy" for c in planted[p.name]]


def hits(task_id: str, planted: dict[str, tuple[str, ...]]) -> list[str]:
    return [c for p in TASK_PLANTS[task_id] if p.role == "hit" for c in planted[p.name]]


# --------------------------------------------------------------------------- wrong outputs
Mutation = Callable[[Expected, dict[str, tuple[str, ...]], Any], str]


def _lines(answer: Expected) -> list[str]:
    return render(answer).splitlines()


def _with_rows(answer: Expected, rows: list[tuple[Any, ...]]) -> str:
    return render(Expected(contract=answer.contract, rows=tuple(rows)))


def no_result(answer: Expected, planted: Any, market: Any) -> str:
    return (answer.contract.no_result_line or "无符合条件的股票") + "\n"


def fabricated(answer: Expected, planted: Any, market: Any) -> str:
    pool = sorted({plain_code(c) for c in market.codes} - set(answer.codes))
    rng = np.random.default_rng(0)
    fake = sorted(rng.choice(pool, size=len(answer.rows), replace=False).tolist())
    rows = [(code, *row[1:]) for code, row in zip(fake, answer.rows, strict=True)]
    return _with_rows(answer, rows)


def one_missing(answer: Expected, planted: Any, market: Any) -> str:
    return _with_rows(answer, list(answer.rows[:-1]))


def decoy_added(answer: Expected, planted: dict[str, tuple[str, ...]], market: Any) -> str:
    task = next(t for t in PILOTS if answer.contract.file == load_spec(t).output.file)
    decoy = decoys(task, planted)[0]
    rows = list(answer.rows)
    if answer.contract.max_rows is not None and len(rows) >= answer.contract.max_rows:
        rows = rows[:-1]  # keep the row cap: swap the decoy in for the last row
    rows.append((decoy, *answer.rows[0][1:]))
    if "code ascending" in answer.contract.ordering:
        rows.sort(key=lambda r: str(r[0]))
    return _with_rows(answer, rows)


def value_off(answer: Expected, planted: Any, market: Any) -> str:
    contract = answer.contract
    column = next(iter(contract.tolerances))
    k = contract.columns.index(column)
    bump = 3 * contract.tolerances[column] + 10.0 ** -contract.decimals[column]
    row = list(answer.rows[0])
    row[k] = float(row[k]) + bump
    return _with_rows(answer, [tuple(row), *answer.rows[1:]])


def reordered(answer: Expected, planted: Any, market: Any) -> str:
    return _with_rows(answer, list(reversed(answer.rows)))


def sz_prefix(answer: Expected, planted: Any, market: Any) -> str:
    return re.sub(r"^(30[01]\d{3})", r"sz.\1", render(answer), flags=re.M)


def fenced(answer: Expected, planted: Any, market: Any) -> str:
    return "```text\n" + render(answer) + "```\n"


def header_flipped(answer: Expected, planted: Any, market: Any) -> str:
    lines = _lines(answer)
    if answer.contract.header:
        return "\n".join(lines[1:]) + "\n"
    return "code\n" + "\n".join(lines) + "\n"


def too_many_rows(answer: Expected, planted: Any, market: Any) -> str:
    extra = (decoys(PILOTS[1], planted)[0], *answer.rows[0][1:])
    return _with_rows(answer, [*answer.rows, extra])


CASES: dict[str, Mutation] = {
    "no_result": no_result,
    "fabricated": fabricated,
    "one_missing": one_missing,
    "decoy_added": decoy_added,
    "value_off": value_off,
    "reordered": reordered,
    "sz_prefix": sz_prefix,
    "fenced": fenced,
    "header_flipped": header_flipped,
    "too_many_rows": too_many_rows,
}
EXPECTED_CLASS = {
    "no_result": "wrong_answer",
    "fabricated": "wrong_answer",
    "one_missing": "wrong_answer",
    "decoy_added": "wrong_answer",
    "value_off": "wrong_answer",
    "reordered": "wrong_answer",
    "sz_prefix": "invalid_output",
    "fenced": "invalid_output",
    "header_flipped": "invalid_output",
    "too_many_rows": "invalid_output",
}
APPLIES = {
    PILOTS[0]: [c for c in CASES if c not in ("value_off", "too_many_rows")],
    PILOTS[1]: list(CASES),
    PILOTS[2]: [c for c in CASES if c != "too_many_rows"],
}
# Task 03 allows no empty answer, so its no-result line breaks the contract.
OVERRIDE = {(PILOTS[1], "no_result"): "invalid_output"}


def load_spec(task_id: str) -> Any:
    return load_task(ROOT / "tasks" / task_id / "task.yaml")


@pytest.mark.parametrize("task_id", PILOTS)
def test_rendered_expected_answer_passes(task_id: str, answers: dict[str, Expected]) -> None:
    answer = answers[task_id]
    assert len(answer.rows) >= 2, "the default data must give a non-trivial answer"
    preds = verifier(task_id).check(render(answer), answer)
    assert classify(preds) is None, preds


@pytest.mark.parametrize(
    ("task_id", "case"), [(t, c) for t in PILOTS for c in APPLIES[t]], ids=lambda x: str(x)
)
def test_wrong_output_is_rejected_with_its_class(
    task_id: str,
    case: str,
    answers: dict[str, Expected],
    planted: dict[str, tuple[str, ...]],
    default_market: Any,
) -> None:
    answer = answers[task_id]
    text = CASES[case](answer, planted, default_market)
    assert text != render(answer)
    preds = verifier(task_id).check(text, answer)
    failing = {k: p.detail for k, p in preds.items() if not p.ok}
    assert classify(preds) == OVERRIDE.get((task_id, case), EXPECTED_CLASS[case]), failing


@pytest.mark.parametrize("task_id", PILOTS)
def test_verifier_constants_match_the_task_text(task_id: str) -> None:
    module, spec = verifier(task_id), load_spec(task_id)
    window = getattr(module, "WINDOW", None) or (module.WINDOW_START, module.CUTOFF)
    assert window[1] == spec.cutoff.isoformat()
    for text in (spec.prompt.zh, spec.prompt.en):
        assert window[0] in text
        assert window[1] in text
        if spec.output.no_result_line:
            assert spec.output.no_result_line in text
        if spec.output.header:
            assert ",".join(spec.output.columns) in text


def _numbers(answer: Expected, fmt: Callable[[float, float], str]) -> str:
    """The rendered answer with every numeric cell written as ``fmt(value, tolerance)``."""
    contract = answer.contract
    lines = [",".join(contract.columns)] if contract.header else []
    for row in answer.rows:
        cells = [
            fmt(v, contract.tolerances[col]) if isinstance(v, float) else str(v)
            for col, v in zip(contract.columns, row, strict=True)
        ]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


ACCEPTED: dict[str, Callable[[Expected], str]] = {
    "crlf": lambda a: render(a).replace("\n", "\r\n"),
    "bom": lambda a: "\ufeff" + render(a),
    "no_final_newline": lambda a: render(a).rstrip("\n"),
    "spaces_after_commas": lambda a: render(a).replace(",", ", "),
    "unrounded": lambda a: _numbers(a, lambda v, t: f"{v:.9f}"),
    "just_inside_tolerance_up": lambda a: _numbers(a, lambda v, t: f"{v + 0.98 * t:.6f}"),
    "just_inside_tolerance_down": lambda a: _numbers(a, lambda v, t: f"{v - 0.98 * t:.6f}"),
}


@pytest.mark.parametrize("case", ACCEPTED)
@pytest.mark.parametrize("task_id", PILOTS)
def test_output_the_text_allows_passes(
    task_id: str, case: str, answers: dict[str, Expected]
) -> None:
    preds = verifier_cache(task_id).check(ACCEPTED[case](answers[task_id]), answers[task_id])
    assert classify(preds) is None, {k: p.detail for k, p in preds.items() if not p.ok}


def _first_code_as(answer: Expected, code: str) -> str:
    return render(answer).replace(str(answer.rows[0][0]), code, 1)


def _spaced_code(answer: Expected, market: Any) -> str:
    code = answer.codes[0]
    return _first_code_as(answer, f"{code[:3]} {code[3:]}")


def _fullwidth_code(answer: Expected, market: Any) -> str:
    wide = {ord(d): ord(d) + 0xFEE0 for d in "0123456789"}
    return _first_code_as(answer, answer.codes[0].translate(wide))


def _header_zh(answer: Expected, market: Any) -> str:
    header = {"code": "代码", "volatility_pct": "波动率", "day1_date": "第一天日期"}
    names = ",".join(header.get(c, "量比") for c in answer.contract.columns)
    body = _lines(answer)[1:] if answer.contract.header else _lines(answer)
    return "\n".join([names, *body]) + "\n"


def _over_cap(answer: Expected, market: Any) -> str:
    cap = answer.contract.max_rows or 0
    pool = sorted({plain_code(c) for c in market.codes} - set(answer.codes))
    extra = [(c, *answer.rows[0][1:]) for c in pool[: cap + 1 - len(answer.rows)]]
    return _with_rows(answer, sorted([*answer.rows, *extra], key=lambda r: str(r[0])))


REJECTED: dict[str, tuple[Callable[[Expected, Any], str], str]] = {
    "duplicate_row": (lambda a, m: _with_rows(a, [a.rows[0], *a.rows]), "invalid_output"),
    "code_with_space": (_spaced_code, "invalid_output"),
    "code_fullwidth": (_fullwidth_code, "invalid_output"),
    "header_in_chinese": (_header_zh, "invalid_output"),
    "no_result_line_plus_rows": (lambda a, m: "无符合条件的股票\n" + render(a), "invalid_output"),
    "empty_file": (lambda a, m: "", "invalid_output"),
    "over_the_row_cap": (_over_cap, "invalid_output"),
    "nan_value": (lambda a, m: _numbers(a, lambda v, t: "nan"), "invalid_output"),
    "inf_value": (lambda a, m: _numbers(a, lambda v, t: "inf"), "invalid_output"),
    "percent_sign": (lambda a, m: _numbers(a, lambda v, t: f"{v:.2f}%"), "invalid_output"),
    "outside_tolerance_down": (
        lambda a, m: _numbers(a, lambda v, t: f"{v - t - 1e-3:.4f}"),
        "wrong_answer",
    ),
}
NUMERIC = ("nan_value", "inf_value", "percent_sign", "outside_tolerance_down")


@pytest.mark.parametrize(
    ("task_id", "case"),
    [
        (t, c)
        for t in PILOTS
        for c in REJECTED
        if (c not in NUMERIC or load_spec(t).output.decimals)
        and (c != "over_the_row_cap" or load_spec(t).output.max_rows)
    ],
)
def test_output_the_text_forbids_fails(
    task_id: str, case: str, answers: dict[str, Expected], default_market: Any
) -> None:
    mutate, failure = REJECTED[case]
    answer = answers[task_id]
    text = mutate(answer, default_market)
    assert text != render(answer)
    preds = verifier_cache(task_id).check(text, answer)
    assert classify(preds) == failure, {k: p.detail for k, p in preds.items() if not p.ok}


@pytest.mark.parametrize("task_id", PILOTS)
@given(data=st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_arbitrary_output_never_raises_never_passes(
    task_id: str, data: bytes | str, answers: dict[str, Expected]
) -> None:
    raw = data if isinstance(data, bytes) else data.encode("utf-8", errors="surrogatepass")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.txt"
        path.write_bytes(raw)
        text, preds = read_output(path)  # what the harness does: size cap, BOM, UTF-8 check
    if text is not None:
        preds.update(verifier_cache(task_id).check(text, answers[task_id]))
    assert classify(preds) in ("invalid_output", "wrong_answer")


_MODULES: dict[str, ModuleType] = {}


def verifier_cache(task_id: str) -> ModuleType:
    if task_id not in _MODULES:
        _MODULES[task_id] = verifier(task_id)
    return _MODULES[task_id]


# --------------------------------------------------------------------------- plants
def test_task01_plants(default_market: Any, planted: dict[str, tuple[str, ...]]) -> None:
    module = verifier(PILOTS[0])
    qualifying = module.qualifying(default_market)
    assert set(hits(PILOTS[0], planted)) <= set(qualifying)
    assert not set(decoys(PILOTS[0], planted)) & set(qualifying)
    cond = module.conditions(default_market)
    cond = {k: v.rename(columns=plain_code) for k, v in cond.items()}

    def col(name: str, code: str) -> np.ndarray:
        return cond[name][code].to_numpy(dtype=bool)

    for code in hits(PILOTS[0], planted):
        assert col("macd_cross", code).any()
        assert (col("rsi_signal", code) & col("volume_burst", code) & col("ma_cross", code)).any()
    # Each decoy breaks exactly one condition; the other two same-day ones meet on a day.
    (no_oversold,) = planted["t01_no_oversold"]
    assert not col("rsi_signal", no_oversold).any()
    assert (col("volume_burst", no_oversold) & col("ma_cross", no_oversold)).any()
    assert col("macd_cross", no_oversold).any()
    (weak,) = planted["t01_volume_1_9x"]
    assert (col("rsi_signal", weak) & col("ma_cross", weak)).any()
    assert not (col("rsi_signal", weak) & col("volume_burst", weak)).any()
    assert col("macd_cross", weak).any()
    (early,) = planted["t01_ma_cross_early"]
    assert (col("rsi_signal", early) & col("volume_burst", early)).any()
    assert col("ma_cross", early).any()
    assert not (col("rsi_signal", early) & col("ma_cross", early)).any()
    assert col("macd_cross", early).any()


def test_task03_plants(default_market: Any, planted: dict[str, tuple[str, ...]]) -> None:
    module = verifier(PILOTS[1])
    ranked = list(module.ranking(default_market).index)
    hit_names = [f"t03_hit_{i}" for i in range(1, 6)]
    assert ranked[:5] == [planted[n][0] for n in hit_names]
    assert ranked[5] == planted["t03_sixth"][0]
    # The zig-zag decoy has the most volatile *returns* of all but a close CV far from the top 5.
    (zig,) = planted["t03_zigzag"]
    close = default_market.panel("close").loc["2024-05-17":"2024-05-31"]
    ret_std = close.pct_change().iloc[1:].std().rename(index=plain_code)
    assert ret_std.idxmax() == zig
    assert ranked.index(zig) > 5


T03_SUSPENDED = ("t03_suspended", "t03_suspended_blank")


def _cv(x: Any) -> float:
    return float(x.std(ddof=1) / x.mean() * 100.0)


@pytest.mark.parametrize("name", T03_SUSPENDED)
def test_task03_suspended_decoy_is_excluded_but_would_rank(
    name: str, default_market: Any, planted: dict[str, tuple[str, ...]]
) -> None:
    """The rule "traded on all 10 days" decides: ignoring it puts the decoy in the top 5."""
    module = verifier(PILOTS[1])
    ranking = module.ranking(default_market)
    (code,) = planted[name]
    full = next(c for c in default_market.codes if plain_code(str(c)) == code)
    window = slice(*module.WINDOW)
    close = default_market.panel("close").loc[window, full]
    traded = default_market.traded.loc[window, full] & close.notna()
    # Its one broken condition: listed with a row on all 10 days, traded on only 9 of them.
    assert len(close) == 10
    assert int(traded.sum()) == 9
    assert code not in ranking.index
    # What an agent skipping the rule would compute: over the traded closes, or over every
    # non-blank close (the price carried through a tradestatus=0 row counts as a close).
    for cv in (_cv(close[traded]), _cv(close.dropna())):
        assert cv > ranking.iloc[4], (name, cv, ranking.iloc[:5].to_dict())
        assert int((ranking > cv).sum()) < 5


D22_BROKEN = {
    "t22_day2_drop": "day2",
    "t22_day2_up": "day2",
    "t22_volume": "volume",
    "t22_engulf": "engulfing",
    "t22_ma_order": "trend",
    "t22_early": "in_window",
}


def test_task22_plants(
    default_market: Any, planted: dict[str, tuple[str, ...]], answers: dict[str, Expected]
) -> None:
    module = verifier(PILOTS[2])
    got = {str(r[0]): r for r in answers[PILOTS[2]].rows}
    assert set(hits(PILOTS[2], planted)) <= set(got)
    assert not set(decoys(PILOTS[2], planted)) & set(got)
    (twice,) = planted["t22_hit_twice"]
    assert got[twice][1] == "2024-03-22", "the later of two patterns is reported"
    cond = module.conditions(default_market)
    plants = {p.name: p for p in TASK_PLANTS[PILOTS[2]]}
    for name, plant in plants.items():
        day = plant.end.isoformat()
        for code in planted[name]:
            flags = {
                c: bool(cond[c].rename(columns=plain_code).loc[day, code])
                for c in module.CONDITIONS
            }
            broken = [c for c, ok in flags.items() if not ok]
            assert broken == ([] if plant.role == "hit" else [D22_BROKEN[name]]), (name, flags)
    assert set(D22_BROKEN) == {n for n, p in plants.items() if p.role == "decoy"}


T22_SUSPENDED = {"t22_hit_over_suspension": 1, "t22_hit_over_blank": 2}
"""Hits with a suspension inside the pattern: after D1 (price carried) or after D2 (blank)."""


def _calendar_rows_pattern(market: Any, code: str, module: ModuleType) -> bool:
    """The pattern read over every listed row, suspended ones kept (what the text forbids)."""
    raw = {f: market.panel(f).loc[: module.CUTOFF, code] for f in module.FIELDS}
    o, c, v, p = (raw[f] for f in ("open", "close", "volume", "pctChg"))
    o1, c1, v1, p1 = (x.shift(2) for x in (o, c, v, p))
    o2, c2, v2, p2 = (x.shift(1) for x in (o, c, v, p))
    ma5, ma10, ma20 = (c.rolling(n).mean() for n in (5, 10, 20))
    ok = (
        (c1 > o1) & (p1 > 2) & (c2 < o2) & (p2 > -1) & (p2 < 0) & (c > o) & (p > 2)
        & (c > o2) & (o < c2) & (v2 > v1) & (v > v2) & (ma5 > ma10) & (ma10 > ma20)
    )  # fmt: skip
    return bool(ok.loc[module.WINDOW_START :].iloc[2:].any())


@pytest.mark.parametrize("name", T22_SUSPENDED)
def test_task22_pattern_over_a_suspension(
    name: str,
    default_market: Any,
    planted: dict[str, tuple[str, ...]],
    answers: dict[str, Expected],
) -> None:
    """D1, D2, D3 are consecutive *remaining* rows: the suspended day between them is dropped."""
    module = verifier(PILOTS[2])
    plant = next(p for p in TASK_PLANTS[PILOTS[2]] if p.name == name)
    (code,) = planted[name]
    full = next(c for c in default_market.codes if plain_code(str(c)) == code)
    dates = default_market.dates
    e = int(dates.searchsorted(np.datetime64(plant.end)))
    sessions = dates[e - 3 : e + 1]  # D1 .. D3 with the suspension somewhere between
    traded = default_market.traded.loc[sessions, full].to_numpy().tolist()
    gap = T22_SUSPENDED[name]
    assert traded == [k != gap for k in range(4)]
    assert default_market.panel("tradestatus").loc[sessions[gap], full] == 0
    blank = plant.bars[-4 + gap].blank
    assert bool(np.isnan(default_market.panel("close").loc[sessions[gap], full])) == blank
    assert got_day1(answers, code) == sessions[0].strftime("%Y-%m-%d")
    # MA over remaining rows (the text) differs from MA over every listed row on D3.
    c_all = default_market.panel("close").loc[: plant.end.isoformat(), full]
    c_kept = c_all[default_market.traded.loc[: plant.end.isoformat(), full]]
    if not blank:
        assert c_kept.iloc[-5:].mean() != c_all.iloc[-5:].mean()
    assert not _calendar_rows_pattern(default_market, full, module), "the rule must matter"


def got_day1(answers: dict[str, Expected], code: str) -> str:
    return next(str(r[1]) for r in answers[PILOTS[2]].rows if str(r[0]) == code)
