"""Reference statistics for RealFin verifiers: volatility, drawdown, correlation, OLS, resampling.

Same conventions as `pytest_realfin.indicators` (Series by date or DataFrame dates × codes; NaN rows
skipped). Functions named for a reduction (`max_drawdown`, `coefficient_of_variation`, `pearson`,
`spearman`, `ols`) reduce a Series to a number and a DataFrame to one value per column; slice the
window first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_realfin._panel import Array, Frame, check_window, lag, like, on_valid, to_2d

__all__ = [
    "OLSFit",
    "coefficient_of_variation",
    "drawdown",
    "historical_volatility",
    "max_drawdown",
    "ols",
    "pearson",
    "resample_bars",
    "resample_panel",
    "spearman",
]

Mask = npt.NDArray[np.bool_]

TRADING_DAYS = 252
"""Sessions per year used to annualise."""

Period = Literal["W", "M"]
How = Literal["first", "max", "min", "last", "sum"]

BAR_AGGREGATION: dict[str, How] = {
    "open": "first",
    "high": "max",
    "low": "min",
    "close": "last",
    "volume": "sum",
    "amount": "sum",
}
"""How `resample_bars` aggregates each daily column into a weekly or monthly bar."""


@dataclass(frozen=True)
class OLSFit:
    """Least-squares line y = intercept + slope × x over ``n`` points, with its R²."""

    slope: float
    intercept: float
    r2: float
    n: int


def _reduce(x: pd.Series | pd.DataFrame, values: Array) -> float | pd.Series:
    if isinstance(x, pd.Series):
        return float(values[0])
    return pd.Series(values, index=x.columns)


def historical_volatility(
    close: Frame, n: int = 20, ddof: int = 1, periods: int = TRADING_DAYS
) -> Frame:
    """Annualised historical volatility HV(n) = std(r, ddof) × sqrt(periods), r = ln(C(t)/C(t−1)).

    The std is over the last n log returns (n + 1 closes), sample std by default (ddof = 1); the
    result is a fraction (0.35 is 35 %). First value on bar n.
    """
    check_window("historical_volatility", "n", n)

    def kernel(c: Array) -> tuple[Array, ...]:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.log(c / lag(c))
        std = pd.DataFrame(r).rolling(n, min_periods=n).std(ddof=ddof).to_numpy(dtype=np.float64)
        return (std * np.sqrt(periods),)

    return on_valid("historical_volatility", kernel, [close])[0]


def drawdown(close: Frame) -> Frame:
    """Drawdown from the running peak: DD(t) = 1 − C(t) / max(C(0..t)), in [0, 1] for prices > 0."""
    values = to_2d(close)
    peak = np.fmax.accumulate(values, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = 1.0 - values / peak
    return like(close, dd)


def max_drawdown(close: Frame) -> float | pd.Series:
    """Maximum drawdown max_t DD(t) of the closes passed in (see `drawdown`), in [0, 1].

    Peak-to-trough over the running maximum of closes (not highs/lows). A Series gives a float, a
    DataFrame one value per column; NaN when a column has no valid close.
    """
    dd = to_2d(drawdown(close))
    valid = ~np.isnan(dd)
    worst = np.where(valid, dd, -np.inf).max(axis=0, initial=-np.inf)
    return _reduce(close, np.where(valid.any(axis=0), worst, np.nan))


def coefficient_of_variation(x: Frame, *, ddof: int) -> float | pd.Series:
    """Coefficient of variation in percent: CV = std(x, ddof) / mean(x) × 100.

    ``ddof`` has no default on purpose: the task text must pin it (0 = population, divide by N;
    1 = sample, divide by N − 1). NaN values are ignored; NaN when fewer than ddof + 1 values.
    """
    values = to_2d(x)
    valid = ~np.isnan(values)
    count = valid.sum(axis=0)
    filled = np.where(valid, values, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = filled.sum(axis=0) / count
        dev = np.where(valid, values - mean, 0.0)
        var = (dev**2).sum(axis=0) / (count - ddof)
        cv = np.sqrt(var) / mean * 100.0
    return _reduce(x, np.where(count > ddof, cv, np.nan))


def _pairs(
    where: str, x: pd.Series | pd.DataFrame, y: pd.Series | None
) -> tuple[pd.Series | pd.DataFrame, Array, Array, Mask]:
    """Inner-join x and y on the index; return x, X, Y (broadcast) and the pairwise-valid mask."""
    if y is None:
        values = to_2d(x)
        ranks = np.cumsum(~np.isnan(values), axis=0).astype(np.float64)
        return x, values, ranks, ~np.isnan(values)
    x, y = x.align(y, join="inner", axis=0)
    xs = to_2d(x)
    ys = np.broadcast_to(to_2d(y), xs.shape)
    return x, xs, ys, ~np.isnan(xs) & ~np.isnan(ys)


def _moments(xs: Array, ys: Array, m: Mask) -> tuple[Array, Array, Array, Array, Array, Array]:
    n = m.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = np.where(m, xs, 0.0).sum(axis=0) / n
        my = np.where(m, ys, 0.0).sum(axis=0) / n
    dx = np.where(m, xs - mx, 0.0)
    dy = np.where(m, ys - my, 0.0)
    return n, mx, my, (dx * dx).sum(axis=0), (dy * dy).sum(axis=0), (dx * dy).sum(axis=0)


def _pearson(xs: Array, ys: Array, m: Mask) -> Array:
    n, _, _, sxx, syy, sxy = _moments(xs, ys, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = sxy / np.sqrt(sxx * syy)
    ok = (n >= 2) & (sxx > 0) & (syy > 0)
    return np.where(ok, np.clip(r, -1.0, 1.0), np.nan)


def pearson(x: pd.Series | pd.DataFrame, y: pd.Series) -> float | pd.Series:
    """Pearson correlation r = Σ(x − x̄)(y − ȳ) / sqrt(Σ(x − x̄)² Σ(y − ȳ)²), in [−1, 1].

    x and y are joined on the index (inner); only rows where both are non-NaN count. A DataFrame x
    gives one r per column against the same y. NaN with fewer than 2 pairs or a constant side.
    """
    joined, xs, ys, m = _pairs("pearson", x, y)
    return _reduce(joined, _pearson(xs, ys, m))


def spearman(x: pd.Series | pd.DataFrame, y: pd.Series) -> float | pd.Series:
    """Spearman rank correlation: Pearson correlation of the ranks, ties given their average rank.

    Ranks are taken over the pairwise-valid rows only (see `pearson`), per column.
    """
    joined, xs, ys, m = _pairs("spearman", x, y)
    rx = pd.DataFrame(np.where(m, xs, np.nan)).rank(method="average").to_numpy(dtype=np.float64)
    ry = pd.DataFrame(np.where(m, ys, np.nan)).rank(method="average").to_numpy(dtype=np.float64)
    return _reduce(joined, _pearson(rx, ry, m))


@overload
def ols(y: pd.Series, x: pd.Series | None = None) -> OLSFit: ...
@overload
def ols(y: pd.DataFrame, x: pd.Series | None = None) -> pd.DataFrame: ...
def ols(y: pd.Series | pd.DataFrame, x: pd.Series | None = None) -> OLSFit | pd.DataFrame:
    """Ordinary least squares of y on x: slope = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)², R² = r².

    intercept = ȳ − slope × x̄. Without x, x = 1, 2, ..., N over y's valid values in order (the
    slope does not depend on the origin). Rows where x or y is NaN are dropped. R² is NaN when y is
    constant (nothing to explain); everything is NaN with fewer than 2 points or a constant x.
    A Series y gives an `OLSFit`; a DataFrame y gives a frame indexed by its columns with columns
    slope, intercept, r2, n (one regression per column).
    """
    y2, ys, xs, m = _pairs("ols", y, x)
    n, mx, my, sxx, syy, sxy = _moments(xs, ys, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where((n >= 2) & (sxx > 0), sxy / sxx, np.nan)
        r2 = np.where(syy > 0, np.clip(sxy * sxy / (sxx * syy), 0.0, 1.0), np.nan)
    intercept = my - slope * mx
    r2 = np.where(np.isnan(slope), np.nan, r2)
    if isinstance(y2, pd.Series):
        return OLSFit(float(slope[0]), float(intercept[0]), float(r2[0]), int(n[0]))
    frame = {"slope": slope, "intercept": intercept, "r2": r2, "n": n}
    return pd.DataFrame(frame, index=y2.columns)


def _period_keys(index: pd.DatetimeIndex, freq: Period) -> pd.Index:
    if freq == "W":
        iso = index.isocalendar()
        weeks: npt.NDArray[np.int64] = np.asarray(
            iso["year"].to_numpy(dtype=np.int64) * 100 + iso["week"].to_numpy(dtype=np.int64)
        )
        return pd.Index(weeks)
    months: npt.NDArray[np.int64] = np.asarray(index.year * 100 + index.month, dtype=np.int64)
    return pd.Index(months)


def _complete(last: pd.Timestamp, freq: Period, sessions: pd.DatetimeIndex) -> bool:
    later = sessions[sessions > last]
    if len(later) == 0:
        return False
    keys = _period_keys(pd.DatetimeIndex([last, later[0]]), freq)
    return bool(keys[0] != keys[1])


def resample_panel(
    panel: Frame,
    how: How,
    freq: Period,
    *,
    partial: Literal["keep", "drop"] = "keep",
    sessions: pd.DatetimeIndex | None = None,
) -> Frame:
    """Aggregate daily rows into weekly (ISO week) or monthly bars, per column.

    A period is an ISO week (``"W"``, Monday–Sunday) or a calendar month (``"M"``); each output row
    is labelled with the last date of that period present in the input index (the week's last
    trading day). ``how`` is first/last (first/last non-NaN value), max, min or sum (NaN when the
    period has no valid value). The first period is whatever the input holds.

    Partial last period: with ``partial="keep"`` (the default) the last period is kept even if the
    input stops inside it (a cutoff on a Wednesday gives a Mon–Wed week labelled Wednesday). With
    ``partial="drop"`` it is dropped unless ``sessions`` (the exchange's sessions, e.g.
    ``market.dates``) proves it complete: the first session after the input's last date falls in
    a later period. Sessions that end with the input prove nothing, so the period is dropped.
    """
    if not isinstance(panel.index, pd.DatetimeIndex):
        msg = f"resample_panel: index is {type(panel.index).__name__}, expected a DatetimeIndex"
        raise TypeError(msg)
    if how not in ("first", "max", "min", "last", "sum"):
        msg = f"resample_panel: how={how!r}, expected one of first, max, min, last, sum"
        raise ValueError(msg)
    if partial == "drop" and sessions is None:
        msg = "resample_panel: partial='drop' needs sessions= (the exchange sessions, market.dates)"
        raise ValueError(msg)
    index = panel.index
    keys = _period_keys(index, freq)
    grouped = panel.groupby(keys.to_numpy(), sort=True)
    out: Frame = grouped.sum(min_count=1) if how == "sum" else getattr(grouped, how)()
    labels = pd.Series(index, index=index).groupby(keys.to_numpy(), sort=True).max()
    out.index = pd.DatetimeIndex(labels.to_numpy(), name=index.name)
    if (
        partial == "drop"
        and sessions is not None
        and len(out)
        and not _complete(out.index[-1], freq, sessions)
    ):
        out = out.iloc[:-1]
    return out


def resample_bars(
    bars: pd.DataFrame,
    freq: Period,
    *,
    partial: Literal["keep", "drop"] = "keep",
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Weekly or monthly OHLCV bars of one stock.

    open = first, high = max, low = min, close = last, volume = sum, amount = sum (see
    `BAR_AGGREGATION`; first/last skip NaN). Periods, labels and the partial-last-period rule are
    those of `resample_panel`. Other columns raise ValueError.
    """
    unknown = [c for c in bars.columns if c not in BAR_AGGREGATION]
    if unknown:
        msg = (
            f"resample_bars: column(s) {unknown!r} have no aggregation rule; keep only "
            f"{sorted(BAR_AGGREGATION)} or resample them with resample_panel"
        )
        raise ValueError(msg)
    columns = {
        str(c): resample_panel(
            bars[c], BAR_AGGREGATION[str(c)], freq, partial=partial, sessions=sessions
        )
        for c in bars.columns
    }
    return pd.DataFrame(columns)
