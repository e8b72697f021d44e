"""Point-in-time fundamentals (quarterly reports, dividends) and the valuation ratios they imply.

Reports are drawn so that the trailing P/E stays in a realistic band: EPS at each quarter end is the
close divided by a slowly drifting target P/E (negative for loss makers). A report is known from its
``pubDate`` on, and the daily ``peTTM`` uses the latest report published on or before the session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pytest_realfin.market.gen_bars import Bars
from pytest_realfin.market.gen_prices import ar1
from pytest_realfin.market.gen_universe import Universe

__all__ = ["Fundamentals", "make_fundamentals"]

_PUB_WINDOW = {3: (4, 21, 9), 6: (8, 5, 25), 9: (10, 12, 18), 12: (3, 20, 30)}
"""Quarter-end month -> (publication month, first day, span in days)."""


@dataclass(frozen=True)
class Fundamentals:
    """Quarterly reports, dividends and the daily valuation panels."""

    profit: pd.DataFrame
    dividend: pd.DataFrame
    pe: np.ndarray
    pb: np.ndarray
    ps: np.ndarray
    pcf: np.ndarray


def make_fundamentals(
    rng: np.random.Generator, dates: pd.DatetimeIndex, uni: Universe, bars: Bars
) -> Fundamentals:
    """Draw reports for every quarter 2019Q2..2025Q4 and derive peTTM, pbMRQ, psTTM, pcfNcfTTM."""
    n = len(uni.codes)
    stat = pd.date_range("2019-06-30", "2025-12-31", freq="QE")
    q = len(stat)
    pub = np.empty((q, n), dtype="datetime64[ns]")
    for k, s in enumerate(stat):
        month, day, span = _PUB_WINDOW[s.month]
        year = s.year + (1 if s.month == 12 else 0)
        first = pd.Timestamp(year=year, month=month, day=day)
        pub[k] = (first + pd.to_timedelta(rng.integers(0, span, size=n), unit="D")).values

    # Close at each quarter end (issue price before listing, last close after delisting).
    filled = pd.DataFrame(bars.close_filled, index=dates).ffill().bfill().to_numpy()
    pos = np.clip(dates.searchsorted(stat, side="right") - 1, 0, len(dates) - 1)
    close_q = filled[pos]
    log_pe = np.log(np.exp(rng.normal(np.log(40), 0.45, size=n)))[None, :] + ar1(
        rng.normal(0, 0.12, size=(q, n)), 0.85, burn=20
    )
    pe_q = np.clip(np.exp(log_pe), 9.0, 400.0)
    loss_prone = (rng.random(n) < 0.1) | uni.st.any(axis=0)
    loss = loss_prone[None, :] & (ar1(rng.normal(0, 1, size=(q, n)), 0.8, burn=20) > -0.3)
    eps = np.round(np.where(loss, -0.35, 1.0) * close_q / pe_q, 6)
    eps = np.where(eps == 0, 0.01, eps)
    pb_q = np.exp(rng.normal(np.log(3.5), 0.4, size=n))[None, :] * np.exp(
        ar1(rng.normal(0, 0.08, size=(q, n)), 0.9, burn=20)
    )
    bps = np.round(close_q / pb_q, 6)
    np_margin = np.clip(rng.normal(0.12, 0.06, size=(q, n)), 0.02, 0.4)
    net = eps * uni.total_share[None, :]
    revenue = np.round(np.abs(net) / np_margin, 2)
    cf_ratio = rng.uniform(0.4, 1.6, size=(q, n)) * np.where(rng.random((q, n)) < 0.12, -1, 1)
    cfps = eps * cf_ratio

    profit = pd.DataFrame(
        {
            "code": np.repeat(np.array(uni.codes), q),
            "pubDate": pd.DatetimeIndex(pub.T.ravel()).strftime("%Y-%m-%d"),
            "statDate": np.tile(stat.strftime("%Y-%m-%d"), n),
            "roeAvg": np.round((eps / bps).T.ravel(), 6),
            "npMargin": np.round(np.where(net < 0, -1, 1) * np_margin, 6).T.ravel(),
            "gpMargin": np.round(np_margin + rng.uniform(0.1, 0.35, size=(q, n)), 6).T.ravel(),
            "netProfit": np.round(net, 2).T.ravel(),
            "epsTTM": eps.T.ravel(),
            "MBRevenue": revenue.T.ravel(),
            "totalShare": np.repeat(uni.total_share, q),
            "liqaShare": np.repeat(uni.liqa_share, q),
        }
    )

    # Point-in-time daily values: the latest report published on or before each session.
    idx = np.full((len(dates), n), -1)
    dvals = dates.values[:, None]
    for k in range(q):
        idx = np.where(dvals >= pub[k][None, :], k, idx)
    idx = np.maximum(idx, 0)
    cols = np.arange(n)[None, :]
    close = bars.close
    with np.errstate(divide="ignore", invalid="ignore"):
        pe = np.round(close / eps[idx, cols], 4)
        pb = np.round(close / bps[idx, cols], 4)
        ps = np.round(close / (revenue[idx, cols] / uni.total_share[None, :]), 4)
        pcf = np.round(close / cfps[idx, cols], 4)

    rows = []
    for k, s in enumerate(stat):
        if s.month != 12:
            continue
        pay = (eps[k] > 0) & (rng.random(n) < 0.65)
        for i in np.flatnonzero(pay):
            ann = pd.Timestamp(pub[k, i])
            regist = ann + pd.offsets.BDay(int(rng.integers(35, 70)))
            rows.append(
                (
                    uni.codes[i],
                    ann.strftime("%Y-%m-%d"),
                    regist.strftime("%Y-%m-%d"),
                    (regist + pd.offsets.BDay(1)).strftime("%Y-%m-%d"),
                    (regist + pd.offsets.BDay(1)).strftime("%Y-%m-%d"),
                    round(float(eps[k, i] * rng.uniform(0.1, 0.4)), 4),
                    round(float(rng.choice([0.0, 0.0, 0.0, 0.0, 0.2, 0.3, 0.5])), 2),
                )
            )
    dividend = pd.DataFrame(
        rows,
        columns=[
            "code",
            "dividPlanAnnounceDate",
            "dividRegistDate",
            "dividOperateDate",
            "dividPayDate",
            "dividCashPsBeforeTax",
            "dividStocksPs",
        ],
    ).sort_values(["code", "dividPlanAnnounceDate"], kind="stable")
    return Fundamentals(profit=profit, dividend=dividend, pe=pe, pb=pb, ps=ps, pcf=pcf)
