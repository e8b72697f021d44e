"""Indices, index constituents, ETFs and their holdings, the bond yield and the lithium future.

sz.399006 and the equity ETFs are computed from their members' bars (fixed weights between reviews),
so they follow their holdings exactly; the broad indices and the bond ETF follow the common factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pytest_realfin.market.gen_bars import Bars
from pytest_realfin.market.gen_prices import Factors, ar1
from pytest_realfin.market.gen_universe import SECTORS, Universe

__all__ = ["ETF_SECTORS", "INDEX_LEVELS", "Aux", "Series", "make_aux"]

INDEX_LEVELS = {"sh.000001": 3050.0, "sz.399001": 10200.0, "sz.399006": 1800.0, "sh.000300": 4100.0}
"""Index code -> level on the session before the range."""
ETF_SECTORS = {"sz159929": "医药", "sz159813": "半导体", "sz159642": "新能源"}
"""Sector ETFs and the sector their holdings come from (sz159915 tracks sz.399006)."""
LC_LISTING = pd.Timestamp("2023-07-21")


@dataclass(frozen=True)
class Series:
    """An OHLCV series on the sessions (T,) arrays."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    preclose: np.ndarray
    volume: np.ndarray
    amount: np.ndarray


@dataclass(frozen=True)
class Aux:
    """Everything the writer needs besides the stock files."""

    indices: dict[str, Series]
    constituents: pd.DataFrame  # effective_date, code, weight
    etfs: dict[str, Series]
    holdings: dict[str, pd.DataFrame]
    cgb: pd.DataFrame
    lc: pd.DataFrame


def _reviews(dates: pd.DatetimeIndex) -> list[int]:
    """Session indices where membership changes: the start, then mid-June and mid-December."""
    out = [0]
    for y in range(2020, 2027):
        for m in (6, 12):
            i = int(dates.searchsorted(pd.Timestamp(year=y, month=m, day=14)))
            if 0 < i < len(dates):
                out.append(i)
    return sorted(set(out))


def _weights(
    dates: pd.DatetimeIndex, uni: Universe, bars: Bars, pool: np.ndarray, size: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """Cap-weighted membership (T, N) and its snapshots table, reviewed twice a year."""
    t_len, n = bars.close.shape
    w = np.zeros((t_len, n))
    rows = []
    cap = np.nan_to_num(bars.close_filled) * uni.liqa_share[None, :]
    seasoned = np.arange(t_len)[:, None] - uni.ipo[None, :] >= 60
    reviews = _reviews(dates)
    for j, r in enumerate(reviews):
        ref = max(r - 1, 0)
        ok = pool & seasoned[ref] & bars.listed[ref] & ~uni.st[ref] & (uni.out > r + 20)
        cand = np.flatnonzero(ok)
        pick = cand[np.argsort(-cap[ref, cand], kind="stable")[:size]]
        wt = cap[ref, pick] / cap[ref, pick].sum()
        wt = np.minimum(wt, 0.1)
        wt = np.round(wt / wt.sum(), 6)
        end = reviews[j + 1] if j + 1 < len(reviews) else t_len
        w[r:end, pick] = wt
        day = dates[r].strftime("%Y-%m-%d")
        rows += [(day, uni.codes[i], wt[k]) for k, i in enumerate(pick)]
    table = pd.DataFrame(rows, columns=["effective_date", "code", "weight"])
    return w, table.sort_values(["effective_date", "code"], kind="stable")


def _weighted(bars: Bars, w: np.ndarray, level: float, decimals: int) -> Series:
    pre = np.vstack([bars.close_filled[:1], bars.close_filled[:-1]])
    pre = np.where(np.isnan(pre), bars.close_filled, pre)
    traded = bars.tradestatus == 1

    def rel(x: np.ndarray) -> np.ndarray:
        return np.where(traded & ~np.isnan(x), x / pre - 1.0, 0.0)

    r_c = (w * rel(bars.close)).sum(axis=1)
    close = level * np.cumprod(1 + r_c)
    prev = np.concatenate([[level], close[:-1]])
    out = {
        "open": prev * (1 + (w * rel(bars.open)).sum(axis=1)),
        "high": prev * (1 + (w * rel(bars.high)).sum(axis=1)),
        "low": prev * (1 + (w * rel(bars.low)).sum(axis=1)),
    }
    close = np.round(close, decimals)
    prev = np.round(prev, decimals)
    o = np.round(out["open"], decimals)
    h = np.maximum(np.round(out["high"], decimals), np.maximum(o, close))
    lo = np.minimum(np.round(out["low"], decimals), np.minimum(o, close))
    vol = np.nansum(np.where(w > 0, bars.volume, 0.0), axis=1)
    amt = np.nansum(np.where(w > 0, bars.amount, 0.0), axis=1)
    return Series(o, h, lo, close, prev, vol, np.round(amt, 2))


def _synthetic(
    rng: np.random.Generator, ret: np.ndarray, level: float, vol0: float, dec: int
) -> Series:
    close = np.round(level * np.cumprod(1 + ret), dec)
    prev = np.concatenate([[round(level, dec)], close[:-1]])
    o = np.round(prev * (1 + 0.3 * ret + rng.normal(0, 0.002, ret.size)), dec)
    h = np.round(np.maximum(o, close) * (1 + np.abs(rng.normal(0, 0.004, ret.size))), dec)
    lo = np.round(np.minimum(o, close) * (1 - np.abs(rng.normal(0, 0.004, ret.size))), dec)
    volume = np.round(vol0 * np.exp(8 * np.abs(ret) + ar1(rng.normal(0, 0.05, ret.size), 0.95)), -2)
    amount = np.round(volume * (o + close) / 2, 2)
    return Series(o, h, lo, close, prev, volume, amount)


def make_aux(
    rng: np.random.Generator, dates: pd.DatetimeIndex, uni: Universe, bars: Bars, f: Factors
) -> Aux:
    """Build indices, constituents, ETFs, holdings, the bond yield and the lithium future."""
    n = len(uni.codes)
    all_pool = np.ones(n, dtype=bool)
    size = min(100, max(5, n // 4))
    w_cyb, constituents = _weights(dates, uni, bars, all_pool, size)
    m = f.market[1:]
    indices = {
        "sz.399006": _weighted(bars, w_cyb, INDEX_LEVELS["sz.399006"], 2),
        "sh.000001": _synthetic(rng, 0.7 * m + rng.normal(0, 0.002, m.size), 3050.0, 3.5e10, 2),
        "sz.399001": _synthetic(rng, 0.9 * m + rng.normal(0, 0.003, m.size), 10200.0, 4.0e10, 2),
        "sh.000300": _synthetic(rng, 0.8 * m + rng.normal(0, 0.0025, m.size), 4100.0, 1.2e10, 2),
    }
    etfs = {"sz159915": _weighted(bars, w_cyb, 2.05, 3)}
    holdings = {"sz159915": constituents}
    for code, sector in ETF_SECTORS.items():
        pool = uni.sector == SECTORS.index(sector)
        w, table = _weights(dates, uni, bars, pool, min(30, max(3, int(pool.sum()) // 2)))
        etfs[code] = _weighted(bars, w, float(rng.uniform(0.8, 1.6)), 3)
        holdings[code] = table
    d_rate = np.diff(f.rate)
    etfs["sh511010"] = _synthetic(rng, -0.07 * d_rate + 0.00012, 125.0, 2.0e7, 3)
    for s in etfs.values():
        s.volume[:] = np.round(s.volume / 100.0)  # Tencent volume is in lots of 100

    cgb = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "yield": f.rate[1:]})
    lc_from = int(dates.searchsorted(LC_LISTING))
    lr = f.lithium[1 + lc_from :]
    close = np.round(231000 * np.exp(np.cumsum(lr)) / 50) * 50
    prev = np.concatenate([[231000.0], close[:-1]])
    o = np.round(prev * (1 + 0.3 * lr + rng.normal(0, 0.004, lr.size)) / 50) * 50
    h = np.maximum(o, close) + np.round(np.abs(rng.normal(0, 0.01, lr.size)) * close / 50) * 50
    lo = np.minimum(o, close) - np.round(np.abs(rng.normal(0, 0.01, lr.size)) * close / 50) * 50
    lc = pd.DataFrame(
        {
            "date": dates[lc_from:].strftime("%Y-%m-%d"),
            "open": o,
            "high": h,
            "low": lo,
            "close": close,
            "settle": np.clip(np.round((o + 2 * close + h + lo) / 5 / 50) * 50, lo, h),
            "volume": np.round(
                2.5e5 * np.exp(10 * np.abs(lr) + ar1(rng.normal(0, 0.08, lr.size), 0.9))
            ),
            "open_interest": np.round(3e5 * np.exp(ar1(rng.normal(0, 0.02, lr.size), 0.98))),
        }
    )
    return Aux(
        indices=indices, constituents=constituents, etfs=etfs, holdings=holdings, cgb=cgb, lc=lc
    )
