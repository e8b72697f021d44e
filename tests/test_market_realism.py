"""Realism of the default RealFin-Synth data set (400 stocks, default seed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pytest_realfin.market import Market, trading_days

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def returns(default_market: Market) -> pd.DataFrame:
    """Close-to-close returns on traded days, excluding the 5 unlimited sessions after a listing."""
    m = default_market
    close, pre = m.panel("close"), m.panel("preclose")
    r = (close / pre - 1).where(m.traded)
    ipo = pd.to_datetime(m.universe.set_index("code")["ipoDate"]).reindex(r.columns)
    first5 = r.notna().cumsum() <= 5
    late = ipo > pd.Timestamp("2020-01-02")
    return r.mask(first5 & late.to_numpy()[None, :])


def test_calendar_is_xshg() -> None:
    assert len(trading_days("2020-01-02", "2026-03-31")) == 1511
    assert len(trading_days("2026-03-04", "2026-03-31")) == 20


def test_dates_and_catl(default_market: Market) -> None:
    assert default_market.dates.equals(trading_days())
    assert len(default_market.codes) == 400
    names = default_market.universe.set_index("code")["code_name"]
    assert names["sz.300750"] == "宁德时代"
    assert default_market.missing == ()


def test_fat_tails_and_clustering(returns: pd.DataFrame) -> None:
    x = returns.to_numpy()[np.isfinite(returns.to_numpy())]
    x = x - x.mean()
    kurt = (x**4).mean() / (x**2).mean() ** 2 - 3
    assert kurt > 3, kurt
    acs = [a.abs().autocorr(1) for _, a in returns.items() if a.count() > 250]
    assert np.mean(acs) > 0.1, np.mean(acs)


def test_volume_tracks_abs_return(default_market: Market, returns: pd.DataFrame) -> None:
    vol = default_market.panel("volume")
    cors = [returns[c].abs().corr(vol[c]) for c in returns.columns if returns[c].count() > 250]
    assert np.mean(cors) > 0.2, np.mean(cors)


def test_volume_tracks_abs_return_across_stocks(
    default_market: Market, returns: pd.DataFrame
) -> None:
    """The issue's reading: each day, across stocks, volume correlates with |return|."""
    a = returns.abs().to_numpy()
    v = default_market.panel("volume").where(default_market.traded).to_numpy()
    both = np.isfinite(a) & np.isfinite(v)
    a, v = np.where(both, a, np.nan), np.where(both, v, np.nan)
    a, v = a - np.nanmean(a, axis=1, keepdims=True), v - np.nanmean(v, axis=1, keepdims=True)
    cov = np.nansum(a * v, axis=1)
    cors = cov / np.sqrt(np.nansum(a * a, axis=1) * np.nansum(v * v, axis=1))
    assert np.nanmean(cors) > 0.2, np.nanmean(cors)


def test_price_limits(default_market: Market, returns: pd.DataFrame) -> None:
    m = default_market
    pre, close = m.panel("preclose").to_numpy(), m.panel("close").to_numpy()
    lim = np.where(m.dates < pd.Timestamp("2020-08-24"), 0.10, 0.20)[:, None]
    up = np.floor(pre * 100 * (1 + lim) + 0.5 + 1e-7) / 100
    dn = np.floor(pre * 100 * (1 - lim) + 0.5 + 1e-7) / 100
    ok = np.isfinite(returns.to_numpy())
    assert (close[ok] <= up[ok] + 1e-9).all()
    assert (close[ok] >= dn[ok] - 1e-9).all()
    hit = (np.abs(close - up) < 0.005) | (np.abs(close - dn) < 0.005)
    rate = hit[ok].mean()
    assert 0.002 <= rate <= 0.03, rate


def test_ohlc_and_preclose_consistent(default_market: Market) -> None:
    m = default_market
    t = m.traded.to_numpy()
    o, h, lo, c = (m.panel(f).to_numpy()[t] for f in ("open", "high", "low", "close"))
    assert (lo <= np.minimum(o, c)).all()
    assert (h >= np.maximum(o, c)).all()
    assert (lo > 0).all()
    pre, pct = m.panel("preclose").to_numpy(), m.panel("pctChg").to_numpy()
    close = m.panel("close")
    assert np.nanmax(np.abs(pre * (1 + pct / 100) - m.panel("close").to_numpy())) <= 0.01
    prev = close.ffill().shift(1).to_numpy()
    both = t & np.isfinite(prev) & np.isfinite(pre)
    assert np.abs(prev[both] - pre[both]).max() <= 0.01


def test_suspensions_st_listings_delistings(default_market: Market) -> None:
    m = default_market
    status = m.panel("tradestatus")
    assert (status == 0).to_numpy().sum() > 50
    assert ((status == 0) & m.panel("close").isna()).to_numpy().sum() > 10
    assert (m.panel("isST") == 1).to_numpy().sum() > 100
    uni = m.universe.set_index("code")
    last_st = m.panel("isST").ffill().iloc[-1]
    st_named = uni["code_name"].str.contains("ST")
    listed_at_end = m.panel("close").iloc[-1].notna()
    assert (st_named[listed_at_end.index[listed_at_end]] == (last_st[listed_at_end] == 1)).all()
    late = uni.index[uni["ipoDate"] > pd.Timestamp("2020-01-02")]
    assert len(late) > 20
    first_row = m.panel("close").apply(lambda s: s.first_valid_index())
    assert (first_row[late] == uni.loc[late, "ipoDate"]).all()
    gone = uni.index[uni["status"] == 0]
    assert len(gone) >= 2
    assert (
        m.panel("tradestatus")[gone].apply(lambda s: s.last_valid_index())
        < uni.loc[gone, "outDate"]
    ).all()


def test_names_match_sectors(default_market: Market) -> None:
    ind = default_market.industry
    words = {
        "芯片": "半导体",
        "微电子": "半导体",
        "集成电路": "半导体",
        "半导体": "半导体",
        "锂": "新能源",
        "电池": "新能源",
        "医药": "医药",
        "软件": "软件",
        "传媒": "传媒",
    }
    for word, sector in words.items():
        hits = ind[ind["code_name"].str.contains(word)]
        assert (hits["sector"] == sector).all(), word
    assert set(ind["sector"]) == {
        "医药",
        "半导体",
        "新能源",
        "消费电子",
        "软件",
        "传媒",
        "消费",
        "其他",
    }


def test_pe_follows_point_in_time_eps(default_market: Market) -> None:
    m = default_market
    prof = m.profit
    assert (prof["pubDate"] > prof["statDate"]).all()
    pe, close = m.panel("peTTM"), m.panel("close")
    for code in m.codes[::20]:
        p = prof[prof["code"] == code].sort_values("pubDate")
        idx = np.searchsorted(p["pubDate"].to_numpy(), m.dates.to_numpy(), side="right") - 1
        eps = p["epsTTM"].to_numpy()[idx]
        ok = close[code].notna().to_numpy()
        want = close[code].to_numpy()[ok] / eps[ok]
        assert np.allclose(pe[code].to_numpy()[ok], want, rtol=1e-3, atol=1e-3), code
    assert (pe < 0).to_numpy().any()


def test_chinext_index_follows_constituents(default_market: Market) -> None:
    m = default_market
    cons = m.constituents("sz.399006")
    r = (m.panel("close") / m.panel("preclose") - 1).where(m.traded).fillna(0.0)
    w = pd.DataFrame(0.0, index=m.dates, columns=pd.Index(m.codes))
    eff = sorted(cons["effective_date"].unique())
    for k, d in enumerate(eff):
        end = eff[k + 1] if k + 1 < len(eff) else m.dates[-1] + pd.Timedelta(days=1)
        snap = cons[cons["effective_date"] == d].set_index("code")["weight"]
        rows = (m.dates >= d) & (m.dates < end)
        w.loc[rows, snap.index] = snap.to_numpy()
    idx = m.index("sz.399006")["close"].pct_change().iloc[1:]
    basket = (w * r).sum(axis=1).iloc[1:]
    assert idx.corr(basket) > 0.95
    assert (
        m.index("sz.399006")["close"].pct_change().corr(m.index("sh.000001")["close"].pct_change())
        > 0.3
    )


def test_etfs_bond_and_lithium(default_market: Market) -> None:
    m = default_market
    r = (m.panel("close") / m.panel("preclose") - 1).where(m.traded)
    hold = m.etf_holdings("sz159929")
    last = hold[hold["effective_date"] == hold["effective_date"].max()].set_index("code")["weight"]
    etf_r = m.etf("sz159929")["close"].pct_change()
    since = m.dates >= hold["effective_date"].max()
    basket = (r.loc[since, last.index].fillna(0) * last).sum(axis=1)
    assert etf_r[since].corr(basket) > 0.9
    bond = m.etf("sh511010")["close"].pct_change()
    assert bond.corr(-m.cgb_yield["yield"].diff()) > 0.5
    lc = m.lc_futures["close"].pct_change()
    assert m.lc_futures.index[0] == pd.Timestamp("2023-07-21")
    ind = m.industry.set_index("code")
    lith = ind.index[ind["code_name"].str.contains("锂|电池")]
    other = ind.index[ind["sector"] == "其他"]
    c_l = r.loc[lc.index, lith].corrwith(lc).mean()
    c_o = r.loc[lc.index, other].corrwith(lc).mean()
    assert c_l > c_o + 0.1, (c_l, c_o)


def test_moneyflow_leans_with_returns(default_market: Market) -> None:
    m = default_market
    mf = m.moneyflow
    r = (m.panel("close") / m.panel("preclose") - 1).stack()
    amt = m.panel("amount").stack()
    key = pd.MultiIndex.from_arrays([mf["date"], mf["code"]])
    net = pd.Series(mf["net_mf_amount"].to_numpy(), index=key)
    both = pd.concat([net / amt.reindex(key).to_numpy(), r.reindex(key)], axis=1).dropna()
    assert both.corr().iloc[0, 1] > 0.2


def test_min30_adds_up(default_market: Market) -> None:
    m = default_market
    ends = ["1000", "1030", "1100", "1130", "1330", "1400", "1430", "1500"]
    for code in m.codes[::40]:
        bars = m.min30(code)
        if bars.empty:
            continue
        assert (bars["time"].str.slice(8, 12).to_numpy().reshape(-1, 8) == ends).all()
        assert (bars["time"].str.len() == 17).all()
        g = bars.groupby("date")
        daily = pd.DataFrame(
            {
                "open": g["open"].first(),
                "high": g["high"].max(),
                "low": g["low"].min(),
                "close": g["close"].last(),
                "volume": g["volume"].sum(),
                "amount": g["amount"].sum(),
            }
        )
        assert (g.size() == 8).all()
        for f in daily.columns:
            want = m.panel(f)[code].reindex(daily.index)
            assert np.allclose(daily[f], want, atol=0.011), (code, f)
        assert set(daily.index.year) == {2024}
