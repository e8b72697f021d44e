"""30-minute bars for 2024 that add up to the daily bars, and daily large-order money flow.

Each traded day is split into 8 bars along a Brownian bridge from the open to the close, kept inside
the day's range; one bar touches the day's high and one its low. Volumes follow the usual U shape
and sum to the daily volume exactly; amounts are scaled to sum to the daily amount.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pytest_realfin.market.gen_bars import Bars

__all__ = ["BAR_ENDS", "MIN30_RANGE", "Intraday", "make_min30", "make_moneyflow"]

BAR_ENDS = ("1000", "1030", "1100", "1130", "1330", "1400", "1430", "1500")
"""End times (HHMM) of the 8 half-hour bars of an A-share session."""
MIN30_RANGE = ("2024-01-02", "2024-12-31")
_U_SHAPE = np.array([1.7, 1.1, 0.9, 0.8, 0.85, 0.85, 0.95, 1.45])


@dataclass(frozen=True)
class Intraday:
    """(D, N, 8) bar panels for the sessions ``dates``; ``ok`` (D, N) marks days that have bars."""

    dates: pd.DatetimeIndex
    ok: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    amount: np.ndarray


def make_min30(rng: np.random.Generator, dates: pd.DatetimeIndex, bars: Bars) -> Intraday:
    """Split every traded 2024 daily bar into 8 half-hour bars."""
    sel = (dates >= pd.Timestamp(MIN30_RANGE[0])) & (dates <= pd.Timestamp(MIN30_RANGE[1]))
    o, h, lo, c = (
        np.nan_to_num(x[sel], nan=1.0) for x in (bars.open, bars.high, bars.low, bars.close)
    )
    v, a = np.nan_to_num(bars.volume[sel]), np.nan_to_num(bars.amount[sel])
    ok = (bars.tradestatus[sel] == 1) & ~np.isnan(bars.close[sel]) & (v > 0)
    d, n = o.shape
    k = np.arange(1, 9) / 8.0
    steps = rng.normal(0, 1, (d, n, 8)) * np.sqrt(_U_SHAPE)
    walk = np.cumsum(steps, axis=2)
    scale = np.maximum(np.log(h / lo), 1e-4)[..., None] * 0.35
    bridge = (walk - k * walk[..., -1:]) * scale + k * np.log(c / o)[..., None]
    cl = np.floor(o[..., None] * np.exp(bridge) * 100 + 0.5) / 100
    cl = np.clip(cl, lo[..., None], h[..., None])
    cl[..., -1] = c
    op = np.concatenate([o[..., None], cl[..., :-1]], axis=2)
    wick = np.abs(rng.normal(0, 0.002, (d, n, 8)))
    hi = np.minimum(np.floor(np.maximum(op, cl) * (1 + wick) * 100 + 0.5) / 100, h[..., None])
    wick = np.abs(rng.normal(0, 0.002, (d, n, 8)))
    lw = np.maximum(np.floor(np.minimum(op, cl) * (1 - wick) * 100 + 0.5) / 100, lo[..., None])
    j = np.arange(d)[:, None], np.arange(n)[None, :]
    hi[(*j, rng.integers(0, 8, (d, n)))] = h
    lw[(*j, rng.integers(0, 8, (d, n)))] = lo

    share = _U_SHAPE * np.exp(rng.normal(0, 0.25, (d, n, 8)))
    share /= share.sum(axis=2, keepdims=True)
    vol = np.floor(v[..., None] * share / 100) * 100
    vol[..., -1] = v - vol[..., :-1].sum(axis=2)
    typical = (op + hi + lw + cl) / 4
    amt = vol * typical
    tot = amt.sum(axis=2, keepdims=True)
    amt = np.round(amt * np.where(tot > 0, a[..., None] / np.where(tot > 0, tot, 1), 0), 2)
    amt[..., -1] = np.round(a - amt[..., :-1].sum(axis=2), 2)
    return Intraday(dates[sel], ok, op, hi, lw, cl, vol, amt)


def make_moneyflow(
    rng: np.random.Generator, bars: Bars, sigma: np.ndarray
) -> dict[str, np.ndarray]:
    """Large and extra-large order buy/sell amounts (CNY); net flow leans with the return."""
    t_len, n = bars.close.shape
    amount = np.nan_to_num(bars.amount)
    ret = np.nan_to_num(bars.close / bars.preclose - 1.0)
    bias = np.clip(0.3 * np.tanh(ret / sigma[None, :]) + rng.normal(0, 0.12, (t_len, n)), -0.9, 0.9)
    lg = amount * rng.uniform(0.15, 0.3, (t_len, n))
    elg = amount * rng.uniform(0.04, 0.14, (t_len, n))
    bias2 = np.clip(bias + rng.normal(0, 0.08, (t_len, n)), -0.95, 0.95)
    out = {
        "buy_lg_amount": np.round(lg * (1 + bias) / 2, 2),
        "sell_lg_amount": np.round(lg * (1 - bias) / 2, 2),
        "buy_elg_amount": np.round(elg * (1 + bias2) / 2, 2),
        "sell_elg_amount": np.round(elg * (1 - bias2) / 2, 2),
    }
    out["net_mf_amount"] = np.round(
        out["buy_lg_amount"]
        + out["buy_elg_amount"]
        - out["sell_lg_amount"]
        - out["sell_elg_amount"],
        2,
    )
    return out
