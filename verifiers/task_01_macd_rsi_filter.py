"""Verifier of task_01_macd_rsi_filter: MACD cross + same-day RSI rebound, volume burst, MA cross.

Every indicator runs on each stock's valid rows only (`pytest_realfin.indicators` skips NaN rows),
which is the task's "drop suspended rows, the previous day is the previous remaining row" rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pytest_realfin.checks import Expected, check_table, contract_for, plain_code
from pytest_realfin.indicators import golden_cross, macd, previous, rsi, sma
from pytest_realfin.results import Predicate

CUTOFF = "2026-03-31"
WINDOW_START = "2026-03-04"
OHLCV = ("open", "high", "low", "close", "volume")
MAX_ROWS = 10
TIE_DECIMALS = 10
"""Moving averages are compared after rounding to this many places.

Closes carry two (real data: four) decimals, so MA5 = MA8 exactly happens, and a cross needs
``MA5 <= MA8`` the day before: float noise in the rolling mean must not turn a tie into a cross
(2026-03-31 of one ordinary stock on the default data). Two distinct means differ by >= 2.5e-6.
"""


def conditions(market: Any) -> dict[str, pd.DataFrame]:
    """Each condition as a bool panel over the window days (dates × codes).

    ``macd_cross``, ``rsi_signal``, ``volume_burst`` and ``ma_cross`` hold on the day they fire;
    a stock qualifies when ``macd_cross`` fires on some day and ``rsi_signal & volume_burst &
    ma_cross`` on one day.
    """
    fields = {f: market.panel(f).loc[:CUTOFF] for f in OHLCV}
    valid = market.traded.loc[:CUTOFF].astype(bool)
    for frame in fields.values():
        valid &= frame.notna()
    close = fields["close"].where(valid)
    volume = fields["volume"].where(valid)

    lines = macd(close)
    r = rsi(close, 14)
    # volume > 2 x mean of the 5 previous valid volumes, as 5 v > 2 sum: exact on integer volumes.
    prev_sum = previous(volume, 1)
    for k in range(2, 6):
        prev_sum = prev_sum + previous(volume, k)
    burst = 5.0 * volume > 2.0 * prev_sum
    ma_cross = golden_cross(sma(close, 5).round(TIE_DECIMALS), sma(close, 8).round(TIE_DECIMALS))
    macd_cross = golden_cross(lines.dif, lines.dea)

    window = slice(WINDOW_START, CUTOFF)
    rw = r.loc[window]
    # The state machine, vectorised: the last window day before t with RSI < 30 or > 50 decides the
    # state on t; it is "oversold" exactly when that day had RSI < 30.
    event = pd.DataFrame(
        np.where(rw < 30, -1.0, np.where(rw > 50, 1.0, np.nan)), index=rw.index, columns=rw.columns
    )
    state = event.shift(1).ffill()
    signal = (rw > 50) & (state == -1.0)
    return {
        "macd_cross": macd_cross.loc[window],
        "rsi_signal": signal,
        "volume_burst": burst.loc[window].fillna(False).astype(bool),
        "ma_cross": ma_cross.loc[window],
    }


def qualifying(market: Any) -> list[str]:
    """Every qualifying code (6 digits), ascending, before the top-10 cut."""
    cond = conditions(market)
    same_day = (cond["rsi_signal"] & cond["volume_burst"] & cond["ma_cross"]).any(axis=0)
    ok = cond["macd_cross"].any(axis=0) & same_day
    return sorted(plain_code(str(c)) for c in ok.index[ok.to_numpy()])


def expected(market: Any) -> Expected:
    codes = qualifying(market)
    rows = tuple((c,) for c in codes[:MAX_ROWS])
    return Expected(contract=contract_for(__file__), rows=rows, qualifying=len(codes))


def check(output_text: str, answer: Expected) -> dict[str, Predicate]:
    return check_table(output_text, answer)
