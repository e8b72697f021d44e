"""The registry of task plants (see :mod:`pytest_realfin.market.plants`).

Each task adds one entry: ``TASK_PLANTS["task_22_bullish_sandwich"] = (Plant(...), ...)``. The
digest of ``PLANTS`` is part of the default data set's cache key, so editing a plant rebuilds the
data.
"""

from __future__ import annotations

import datetime as dt

from pytest_realfin.market.plants import Plant, PlantBar

__all__ = ["PLANTS", "TASK_PLANTS"]


Spec = tuple[float, float, float] | PlantBar
"""A bar as ``(ret, open_gap, vol_mult)``, or a `PlantBar` as is (e.g. ``PlantBar.suspended()``)."""
_SUSP = PlantBar.suspended()
_SUSP_BLANK = PlantBar.suspended(blank=True)


def _bars(*spec: Spec) -> tuple[PlantBar, ...]:
    """Bars from ``(ret, open_gap, vol_mult)`` triples; `PlantBar` items pass through."""
    return tuple(
        b if isinstance(b, PlantBar) else PlantBar(ret=b[0], open_gap=b[1], vol_mult=b[2])
        for b in spec
    )


# task_01: 40 calm zig-zag bars (RSI near 50 whatever came before), then the 20-day window to the
# cutoff: a slide that takes RSI14 below 30, a flat stretch, and one burst day on which RSI crosses
# 50, MA5 crosses MA8 and volume is 3.5x (MACD crosses too); each decoy breaks exactly one of those.
_ZIG = ((0.006, 0.0, 1.0), (-0.005, 0.0, 1.0)) * 20
_CALM = ((0.004, 0.0, 1.0), (-0.003, 0.0, 1.0)) * 3
_AFTER = (
    (0.012, 0.0, 1.2), (0.01, 0.0, 1.1), (-0.004, 0.0, 1.0), (0.008, 0.0, 1.0), (0.006, 0.0, 1.0),
    (-0.003, 0.0, 1.0), (0.008, 0.0, 1.0), (0.004, 0.0, 1.0), (0.003, 0.0, 1.0),
)  # fmt: skip
_T01_END = dt.date(2026, 3, 31)


def _t01(
    name: str,
    role: str,
    slide: float,
    burst: tuple[float, float],
    calm: tuple[tuple[float, float, float], ...] = _CALM,
    count: int = 1,
    note: str = "",
) -> Plant:
    window = ((slide, 0.0, 1.2),) * 4 + calm + ((burst[0], 0.0, burst[1]),) + _AFTER
    return Plant(
        task_id="task_01_macd_rsi_filter",
        name=name,
        role="hit" if role == "hit" else "decoy",
        end=_T01_END,
        bars=_bars(*_ZIG, *window),
        count=count,
        note=note,
    )


_T01 = (
    _t01("t01_hit", "hit", -0.035, (0.12, 3.5), count=2, note="every condition on day 11"),
    _t01(
        "t01_no_oversold",
        "decoy",
        -0.007,
        (0.12, 3.5),
        calm=((0.001, 0.0, 1.0), (-0.003, 0.0, 1.0)) * 3,
        note="RSI14 never below 30 (the drift keeps MA5 under MA8 until the burst day)",
    ),
    _t01("t01_volume_1_9x", "decoy", -0.035, (0.12, 1.9), note="burst volume only 1.9x"),
    _t01(
        "t01_ma_cross_early",
        "decoy",
        -0.035,
        (0.08, 3.5),
        calm=((0.012, 0.0, 1.0),) * 6,
        note="MA5 crosses MA8 before the RSI signal day, not on it",
    ),
)

# task_03: steady runs over the 10 window sessions give the 5 largest close CVs (about 47, 43, 39,
# 35, 31 %; ordinary stocks stay below 20 %); the 6th (26 %) is a decoy, and so is a +14 %/-12.3 %
# zig-zag whose *returns* are the most volatile of all while its closes barely move (CV about 7 %).
# Two more decoys run +16 % / +15 % a day but are suspended on one window day (05-24 with the price
# carried, 05-29 with blank fields): the rule "traded on all 10 days" excludes them, while their CV
# over the traded days (about 40 and 38 %; 39 and 37 % over all 10 rows) would rank in the top 5.
_T03_END = dt.date(2024, 5, 31)


def _t03(name: str, role: str, bars: tuple[Spec, ...], note: str) -> Plant:
    return Plant(
        task_id="task_03_volatility_ranking",
        name=name,
        role="hit" if role == "hit" else "decoy",
        end=_T03_END,
        bars=_bars(*bars),
        note=note,
    )


_T03 = (
    *(
        _t03(f"t03_hit_{i}", "hit", ((r, 0.0, 1.5),) * 10, f"+{r:.1%} a day: rank {i}")
        for i, r in enumerate((0.17, 0.155, 0.14, 0.125, 0.11), start=1)
    ),
    _t03("t03_sixth", "decoy", ((0.09, 0.0, 1.5),) * 10, "+9 % a day: rank 6"),
    _t03("t03_zigzag", "decoy", ((0.14, 0.0, 1.5), (-0.123, 0.0, 1.5)) * 5, "return-vol trap"),
    _t03(
        "t03_suspended",
        "decoy",
        ((0.16, 0.0, 1.5),) * 4 + (_SUSP,) + ((0.16, 0.0, 1.5),) * 5,
        "+16 % a day, suspended on 2024-05-24 (price carried): not traded on all 10 days",
    ),
    _t03(
        "t03_suspended_blank",
        "decoy",
        ((0.15, 0.0, 1.5),) * 7 + (_SUSP_BLANK,) + ((0.15, 0.0, 1.5),) * 2,
        "+15 % a day, suspended on 2024-05-29 (blank fields): not traded on all 10 days",
    ),
)

# task_22: an uptrend (MA5 > MA10 > MA20), then D1 +3.5 %, D2 -0.5 % bearish, D3 +3.5 % engulfing,
# volume 1.5x, 1.8x, 2.2x. One hit has two patterns (the later one is reported). Two hits have a
# suspension inside the pattern (D1, suspended, D2, D3 with the price carried; D1, D2, blank
# suspension, D3): the text drops suspended rows, so the three remaining rows are consecutive and
# the D1 before the suspension is reported. Each decoy breaks exactly one condition.
_UP = ((0.008, 0.0, 1.0),) * 25
_DOWN = ((-0.01, 0.0, 1.0),) * 25


def _sandwich(
    d2: tuple[float, float] = (-0.005, 0.005),
    vols: tuple[float, float, float] = (1.5, 1.8, 2.2),
    gap3: float = -0.01,
    gap_after: int = 0,
    gap_bar: PlantBar = _SUSP,
) -> tuple[Spec, ...]:
    """D1, D2, D3; ``gap_after`` = 1 or 2 puts ``gap_bar`` (a suspension) after D1 or D2."""
    days: list[Spec] = [(0.035, 0.003, vols[0]), (d2[0], d2[1], vols[1]), (0.035, gap3, vols[2])]
    if gap_after:
        days.insert(gap_after, gap_bar)
    return tuple(days)


def _t22(
    name: str,
    end: dt.date,
    bars: tuple[Spec, ...],
    role: str = "decoy",
    count: int = 1,
    note: str = "",
) -> Plant:
    return Plant(
        task_id="task_22_bullish_sandwich",
        name=name,
        role="hit" if role == "hit" else "decoy",
        end=end,
        bars=_bars(*bars),
        count=count,
        note=note,
    )


_T22 = (
    _t22("t22_hit", dt.date(2024, 4, 2), _UP + _sandwich(), "hit", 2, "D1 = 2024-03-29"),
    _t22(
        "t22_hit_twice",
        dt.date(2024, 3, 26),
        _UP + _sandwich() + ((0.008, 0.0, 1.0),) * 4 + _sandwich(),
        "hit",
        note="patterns with D1 2024-03-13 and 2024-03-22; the later is reported",
    ),
    _t22(
        "t22_hit_over_suspension",
        dt.date(2024, 3, 28),
        _UP + _sandwich(gap_after=1),
        "hit",
        note="D1 2024-03-25, suspended 03-26 (price carried), D2 03-27, D3 03-28",
    ),
    _t22(
        "t22_hit_over_blank",
        dt.date(2024, 4, 1),
        _UP + _sandwich(gap_after=2, gap_bar=_SUSP_BLANK),
        "hit",
        note="D1 2024-03-27, D2 03-28, suspended 03-29 (blank fields), D3 04-01",
    ),
    _t22(
        "t22_day2_drop", dt.date(2024, 3, 20), _UP + _sandwich(d2=(-0.013, 0.003)), note="D2 -1.3 %"
    ),
    _t22(
        "t22_day2_up",
        dt.date(2024, 3, 21),
        _UP + _sandwich(d2=(0.003, 0.015)),
        note="D2 pctChg > 0",
    ),
    _t22(
        "t22_volume",
        dt.date(2024, 3, 27),
        _UP + _sandwich(vols=(1.5, 1.8, 1.7)),
        note="vol3 < vol2",
    ),
    _t22("t22_engulf", dt.date(2024, 4, 3), _UP + _sandwich(gap3=0.003), note="open3 > close2"),
    _t22("t22_ma_order", dt.date(2024, 3, 19), _DOWN + _sandwich(), note="MA5 < MA10 on D3"),
    _t22(
        "t22_early",
        dt.date(2024, 3, 11),
        _UP + _sandwich(),
        note="D1 = 2024-03-07, before the window",
    ),
)

TASK_PLANTS: dict[str, tuple[Plant, ...]] = {
    "task_01_macd_rsi_filter": _T01,
    "task_03_volatility_ranking": _T03,
    "task_22_bullish_sandwich": _T22,
}
"""Plants per task id."""

PLANTS: tuple[Plant, ...] = tuple(p for ps in TASK_PLANTS.values() for p in ps)
"""Every registered plant, in registry order."""
