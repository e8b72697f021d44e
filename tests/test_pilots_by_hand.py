"""A third reading of the pilot prompts: plain loops over the CSV files, no pandas, no numpy.

The verifiers and the reference solutions were written together, so their agreement cannot catch
a misreading they share. This module was written from the English prompts alone, as a careful
agent would, with exact arithmetic where the prompt's inequalities could tie: moving averages are
exact fractions of the file's decimal prices (MA5 = MA8 happens with 2-decimal prices, and the
cross needs ``<=`` the day before); integer volumes are compared as integers. It recomputes the
whole answer of each pilot over every stock of the default data and compares it with the
verifier's.
"""

from __future__ import annotations

import csv
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.pilots import verifier

pytestmark = pytest.mark.slow
Row = dict[str, str]


@pytest.fixture(scope="module")
def files(default_api_cache: Path) -> dict[str, list[Row]]:
    """Every stock's rows (as text), keyed by the 6-digit code, in file order."""
    folder = default_api_cache / "baostock" / "daily_qfq_20200102_20260331"
    out = {}
    for path in sorted(folder.glob("sz.3*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            out[path.stem.split(".")[-1]] = list(csv.DictReader(fh))
    assert len(out) > 100
    return out


def _kept(rows: list[Row], fields: tuple[str, ...], cutoff: str) -> list[Row]:
    """Rows with tradestatus = 1, every field non-blank, dated on or before the cutoff."""
    kept = [
        r
        for r in rows
        if r["tradestatus"] == "1" and all(r[f].strip() for f in fields) and r["date"] <= cutoff
    ]
    return sorted(kept, key=lambda r: r["date"])


def _flags(panel: Any, start: str) -> dict[tuple[str, str], bool]:
    """A verifier's bool panel from ``start`` on, as {(YYYY-MM-DD, 6-digit code): flag}."""
    stacked = panel.loc[start:].stack()
    return {(d.strftime("%Y-%m-%d"), str(c)[-6:]): bool(v) for (d, c), v in stacked.items()}


def _mean(xs: list[float]) -> float:
    return math.fsum(xs) / len(xs)


# --------------------------------------------------------------------------- task 01
def _ema(xs: list[float], n: int) -> list[float]:
    alpha, out = 2.0 / (n + 1), [xs[0]]
    for x in xs[1:]:
        out.append(alpha * x + (1 - alpha) * out[-1])
    return out


def _rsi14(close: list[float]) -> list[float | None]:
    out: list[float | None] = [None] * len(close)
    if len(close) < 15:
        return out
    gains = [max(close[i] - close[i - 1], 0.0) for i in range(1, len(close))]
    losses = [max(close[i - 1] - close[i], 0.0) for i in range(1, len(close))]
    ag, al = _mean(gains[:14]), _mean(losses[:14])
    for i in range(14, len(close)):  # the 15th row has index 14; gains[i - 1] is row i's change
        if i > 14:
            ag = (13 * ag + gains[i - 1]) / 14
            al = (13 * al + losses[i - 1]) / 14
        out[i] = (50.0 if ag == 0 else 100.0) if al == 0 else 100 - 100 / (1 + ag / al)
    return out


def _ma(rows: list[Row], i: int, n: int) -> Fraction | None:
    """The exact mean of the n closes up to and including row i (None with fewer rows)."""
    if i < n - 1:
        return None
    return sum((Fraction(r["close"]) for r in rows[i - n + 1 : i + 1]), Fraction(0)) / n


def _above(a: float | Fraction | None, b: float | Fraction | None) -> bool | None:
    return None if a is None or b is None else a > b


def _crosses(prev_above: bool | None, now_above: bool | None) -> bool:
    """A crosses above B: A(t-1) <= B(t-1) and A(t) > B(t), both days defined."""
    return prev_above is False and now_above is True


CONDITIONS_01 = ("macd_cross", "rsi_signal", "volume_burst", "ma_cross")


def task01_days(rows: list[Row]) -> dict[str, dict[str, bool]]:
    """Each window day of a stock: which of the four day conditions fire (exact MA/volume ties)."""
    kept = _kept(rows, ("open", "high", "low", "close", "volume"), "2026-03-31")
    close = [float(r["close"]) for r in kept]
    volume = [int(float(r["volume"])) for r in kept]
    dif = [f - s for f, s in zip(_ema(close, 12), _ema(close, 26), strict=True)] if kept else []
    dea = _ema(dif, 9) if kept else []
    rsi = _rsi14(close)
    out, oversold = {}, False
    for t, row in enumerate(kept):
        if row["date"] < "2026-03-04":
            continue
        r, signal = rsi[t], False
        if r is not None and r < 30:
            oversold = True
        elif r is not None and oversold and r > 50:
            oversold, signal = False, True
        prev_ma = _above(_ma(kept, t - 1, 5), _ma(kept, t - 1, 8)) if t >= 1 else None
        flags = (
            t >= 1 and _crosses(dif[t - 1] > dea[t - 1], dif[t] > dea[t]),
            signal,
            t >= 5 and 5 * volume[t] > 2 * sum(volume[t - 5 : t]),
            _crosses(prev_ma, _above(_ma(kept, t, 5), _ma(kept, t, 8))),
        )
        out[row["date"]] = dict(zip(CONDITIONS_01, flags, strict=True))
    return out


Days01 = dict[str, dict[str, dict[str, bool]]]


@pytest.fixture(scope="module")
def days01(files: dict[str, list[Row]]) -> Days01:
    return {code: task01_days(rows) for code, rows in files.items()}


def task01_qualifies(days: dict[str, dict[str, bool]]) -> bool:
    same_day = any(d["rsi_signal"] and d["volume_burst"] and d["ma_cross"] for d in days.values())
    return same_day and any(d["macd_cross"] for d in days.values())


def test_task01_by_hand(days01: Days01, default_market: Any) -> None:
    by_hand = sorted(code for code, days in days01.items() if task01_qualifies(days))
    assert verifier("task_01_macd_rsi_filter").qualifying(default_market) == by_hand


def test_task01_day_conditions_by_hand(days01: Days01, default_market: Any) -> None:
    """Day by day, not only the final set: a tie decided by float noise shows up here first."""
    cond = verifier("task_01_macd_rsi_filter").conditions(default_market)
    panels = {k: _flags(cond[k], "2026-03-04") for k in CONDITIONS_01}
    diffs = [
        (code, day, name)
        for code, days in days01.items()
        for day, mine in days.items()
        for name, ok in mine.items()
        if ok != panels[name][day, code]
    ]
    assert not diffs, diffs[:5]


# --------------------------------------------------------------------------- task 03
WINDOW_03 = ["2024-05-20", "2024-05-21", "2024-05-22", "2024-05-23", "2024-05-24"] + [
    f"2024-05-{d}" for d in (27, 28, 29, 30, 31)
]


def test_task03_by_hand(files: dict[str, list[Row]], default_market: Any) -> None:
    cvs = []
    for code, rows in files.items():
        closes = {r["date"]: float(r["close"]) for r in _kept(rows, ("close",), "2024-05-31")}
        if not all(d in closes for d in WINDOW_03):
            continue
        xs = [closes[d] for d in WINDOW_03]
        mean = _mean(xs)
        std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
        cvs.append((-std / mean * 100, code))
    cvs.sort()
    answer = verifier("task_03_volatility_ranking").expected(default_market)
    assert answer.qualifying == len(cvs)
    assert [str(r[0]) for r in answer.rows] == [c for _, c in cvs[:5]]
    for (neg, _), row in zip(cvs[:5], answer.rows, strict=True):
        assert abs(-neg - float(row[1])) < 1e-9


# --------------------------------------------------------------------------- task 22
CONDITIONS_22 = ("day1", "day2", "day3", "engulfing", "volume", "trend")


def task22_days(rows: list[Row]) -> dict[str, tuple[str, dict[str, bool], float, float]]:
    """Per D3 whose D1 lies in the window: (D1 date, each condition, vol2/vol1, vol3/vol2)."""
    fields = ("open", "high", "low", "close", "volume", "pctChg")
    kept = _kept(rows, fields, "2024-04-08")
    o, c, p = ([float(r[f]) for r in kept] for f in ("open", "close", "pctChg"))
    v = [int(float(r["volume"])) for r in kept]
    out = {}
    for i3 in range(2, len(kept)):
        i1, i2 = i3 - 2, i3 - 1
        if kept[i1]["date"] < "2024-03-08":
            continue
        ma5, ma10, ma20 = (_ma(kept, i3, n) for n in (5, 10, 20))
        trend = ma5 is not None and ma10 is not None and ma20 is not None and ma5 > ma10 > ma20
        flags = (
            c[i1] > o[i1] and p[i1] > 2,
            c[i2] < o[i2] and -1 < p[i2] < 0,
            c[i3] > o[i3] and p[i3] > 2,
            c[i3] > o[i2] and o[i3] < c[i2],
            v[i2] > v[i1] and v[i3] > v[i2],
            trend,
        )
        named = dict(zip(CONDITIONS_22, flags, strict=True))
        out[kept[i3]["date"]] = (kept[i1]["date"], named, v[i2] / v[i1], v[i3] / v[i2])
    return out


Days22 = dict[str, dict[str, tuple[str, dict[str, bool], float, float]]]


@pytest.fixture(scope="module")
def days22(files: dict[str, list[Row]]) -> Days22:
    return {code: task22_days(rows) for code, rows in files.items()}


def test_task22_day_conditions_by_hand(days22: Days22, default_market: Any) -> None:
    cond = verifier("task_22_bullish_sandwich").conditions(default_market)
    panels = {k: _flags(cond[k], "2024-03-08") for k in CONDITIONS_22}
    diffs = [
        (code, day, name)
        for code, days in days22.items()
        for day, (_, mine, _, _) in days.items()
        for name, ok in mine.items()
        if ok != panels[name][day, code]
    ]
    assert not diffs, diffs[:5]


def test_task22_by_hand(days22: Days22, default_market: Any) -> None:
    """The latest pattern (by D1) of each stock whose every condition holds, by code."""
    by_hand = []
    for code, days in days22.items():
        found = [(d1, r21, r32) for d1, ok, r21, r32 in days.values() if all(ok.values())]
        if found:
            by_hand.append((code, *found[-1]))
    answer = verifier("task_22_bullish_sandwich").expected(default_market)
    assert [r[:2] for r in answer.rows] == [r[:2] for r in by_hand]
    for mine, theirs in zip(by_hand, answer.rows, strict=True):
        assert abs(mine[2] - float(theirs[2])) < 1e-12
        assert abs(mine[3] - float(theirs[3])) < 1e-12
