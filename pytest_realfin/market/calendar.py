"""The XSHG trading calendar and the price-limit regime of ChiNext.

Everything in the synthetic market is indexed by exchange sessions, so the calendar is the one place
that knows about weekends and Chinese holidays. ``exchange_calendars`` is slow to build a calendar
(~0.5 s), so the sessions of the whole supported span are computed once per process.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd

from pytest_realfin.errors import DataError

__all__ = [
    "DATA_END",
    "DATA_START",
    "LIMIT_REFORM",
    "limit_fraction",
    "trading_days",
]

DATA_START = dt.date(2020, 1, 2)
"""First session of the RealFin data range."""
DATA_END = dt.date(2026, 3, 31)
"""Last session of the RealFin data range (the benchmark's fixed analysis date)."""
LIMIT_REFORM = dt.date(2020, 8, 24)
"""ChiNext registration reform: the daily limit went from ±10 % to ±20 % on this session."""

_SPAN = ("2015-01-05", "2026-12-31")


@lru_cache(maxsize=1)
def _all_sessions() -> pd.DatetimeIndex:
    import warnings

    import exchange_calendars as xc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its pandas-deprecation noise is not ours to fix
        cal = xc.get_calendar("XSHG", start=_SPAN[0], end=_SPAN[1])
    sessions = pd.DatetimeIndex(cal.sessions).tz_localize(None).normalize()
    return pd.DatetimeIndex(sessions.values.astype("datetime64[ns]"), name="date")


def trading_days(
    start: dt.date | str = DATA_START, end: dt.date | str = DATA_END
) -> pd.DatetimeIndex:
    """Return the XSHG sessions from ``start`` to ``end``, both inclusive.

    Args:
        start: first calendar day to consider (a session or not).
        end: last calendar day to consider.

    Returns:
        A tz-naive ``DatetimeIndex`` named ``date``; 2020-01-02..2026-03-31 has 1511 sessions.

    Raises:
        DataError: the range leaves the span the calendar was built for.
    """
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    if lo < pd.Timestamp(_SPAN[0]) or hi > pd.Timestamp(_SPAN[1]):
        msg = (
            f"trading_days: range {lo.date()}..{hi.date()} leaves the supported span "
            f"{_SPAN[0]}..{_SPAN[1]}; pick dates inside it"
        )
        raise DataError(msg)
    sessions = _all_sessions()
    return sessions[(sessions >= lo) & (sessions <= hi)]


def limit_fraction(dates: pd.DatetimeIndex) -> np.ndarray:
    """Return the ChiNext daily price limit (0.10 or 0.20) for each session in ``dates``."""
    reform = np.datetime64(LIMIT_REFORM, "ns")
    return np.where(dates.values < reform, 0.10, 0.20)
