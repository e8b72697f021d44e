"""Verifier of task_22_bullish_sandwich: bull-bear-bull, engulfing, rising volume, MA order.

The three days are consecutive *valid* rows of a stock (suspended or blank rows are dropped first):
every field is masked with one validity panel, so `previous` and `sma` skip the same rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pytest_realfin.checks import Expected, check_table, contract_for, plain_code
from pytest_realfin.indicators import previous, sma
from pytest_realfin.results import Predicate

CUTOFF = "2024-04-08"
WINDOW_START = "2024-03-08"
FIELDS = ("open", "high", "low", "close", "volume", "pctChg")
CONDITIONS = ("day1", "day2", "day3", "engulfing", "volume", "trend", "in_window")
TIE_DECIMALS = 10
"""Moving averages are compared after rounding to this many places: with 2-decimal closes
MA5 = MA10 or MA10 = MA20 happens exactly (three times in the default window), and float noise in
the rolling mean must not make a tie pass the strict ``>``. Distinct means differ by >= 5e-6."""


def conditions(market: Any) -> dict[str, pd.DataFrame]:
    """Each pattern condition as a bool panel indexed by D3 (dates × codes), plus D1 and ratios.

    Keys: the names in ``CONDITIONS`` (bool), ``d1_row`` (row number of D1 in the panel), ``r21``
    and ``r32`` (the volume ratios), all aligned on D3.
    """
    fields = {f: market.panel(f).loc[:CUTOFF] for f in FIELDS}
    valid = market.traded.loc[:CUTOFF].astype(bool)
    for frame in fields.values():
        valid &= frame.notna()
    o, c, v, p = (fields[f].where(valid) for f in ("open", "close", "volume", "pctChg"))
    row = pd.DataFrame(
        np.repeat(np.arange(len(c), dtype=np.float64)[:, None], c.shape[1], axis=1),
        index=c.index,
        columns=c.columns,
    ).where(valid)
    first = float(np.searchsorted(c.index.to_numpy(), np.datetime64(WINDOW_START)))
    o1, c1, v1, p1, r1 = (previous(x, 2) for x in (o, c, v, p, row))
    o2, c2, v2, p2 = (previous(x, 1) for x in (o, c, v, p))
    ma5, ma10, ma20 = (sma(c, n).round(TIE_DECIMALS) for n in (5, 10, 20))
    flags = (
        (c1 > o1) & (p1 > 2),
        (c2 < o2) & (p2 > -1) & (p2 < 0),
        (c > o) & (p > 2),
        (c > o2) & (o < c2),
        (v2 > v1) & (v > v2),
        (ma5 > ma10) & (ma10 > ma20),
        r1 >= first,
    )
    named = {name: flag.astype(bool) for name, flag in zip(CONDITIONS, flags, strict=True)}
    return named | {"d1_row": r1, "r21": v2 / v1, "r32": v / v2}


def patterns(market: Any) -> pd.DataFrame:
    """The latest pattern per stock: code, day1_date, vol2_vol1, vol3_vol2 (unrounded), by code."""
    cond = conditions(market)
    hit = np.logical_and.reduce([cond[n].to_numpy() for n in CONDITIONS])
    rows = []
    dates = cond["d1_row"].index
    for j in np.flatnonzero(hit.any(axis=0)):
        i = int(np.flatnonzero(hit[:, j])[-1])
        d1 = dates[int(cond["d1_row"].iloc[i, j])]
        code = plain_code(str(cond["d1_row"].columns[j]))
        rows.append((code, d1.strftime("%Y-%m-%d"), cond["r21"].iloc[i, j], cond["r32"].iloc[i, j]))
    columns = ["code", "day1_date", "vol2_vol1", "vol3_vol2"]
    return pd.DataFrame(rows, columns=columns).sort_values("code", kind="mergesort")


def expected(market: Any) -> Expected:
    found = patterns(market)
    rows = tuple(
        (str(r.code), str(r.day1_date), float(r.vol2_vol1), float(r.vol3_vol2))
        for r in found.itertuples(index=False)
    )
    return Expected(contract=contract_for(__file__), rows=rows, qualifying=len(rows))


def check(output_text: str, answer: Expected) -> dict[str, Predicate]:
    return check_table(output_text, answer)
