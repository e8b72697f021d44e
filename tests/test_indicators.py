"""Tests for pytest_realfin.indicators: TA-Lib / `ta` cross-checks, naive loops, invariants."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_realfin import indicators as ind

talib = pytest.importorskip("talib")
ta = pytest.importorskip("ta")

FAST = settings(max_examples=60, deadline=None)


def random_walk(n: int, seed: int) -> pd.DataFrame:
    """Daily OHLCV bars: a log-normal random walk with gaps, wicks and prices rounded to cents."""
    rng = np.random.default_rng(seed)
    close = 10.0 * np.exp(np.cumsum(rng.normal(0.0, 0.025, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.01, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0.0, 0.02, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0.0, 0.02, n))
    volume = rng.lognormal(13.0, 0.5, n).round(-2)
    frame = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=pd.bdate_range("2021-01-04", periods=n, name="date"),
    )
    return frame.round({"open": 2, "high": 2, "low": 2, "close": 2})


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_walk(500, seed=7)


def assert_same(ours: pd.Series, theirs: np.ndarray | pd.Series, start: int = 0) -> None:
    a = np.asarray(ours, dtype=float)[start:]
    b = np.asarray(theirs, dtype=float)[start:]
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg="warm-up NaN differ")
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)


# ---- cross-checks where TA-Lib computes the same definition exactly -------------------------


def test_sma_matches_talib(bars: pd.DataFrame) -> None:
    assert_same(ind.sma(bars.close, 20), talib.SMA(bars.close.to_numpy(), 20))


def test_rsi_matches_talib_wilder(bars: pd.DataFrame) -> None:
    assert_same(ind.rsi(bars.close, 14), talib.RSI(bars.close.to_numpy(), 14))


def test_atr_matches_talib(bars: pd.DataFrame) -> None:
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    assert_same(ind.atr(bars.high, bars.low, bars.close), talib.ATR(h, lo, c, 14))


def test_true_range_matches_talib(bars: pd.DataFrame) -> None:
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    assert_same(ind.true_range(bars.high, bars.low, bars.close), talib.TRANGE(h, lo, c))


def test_obv_matches_talib_up_to_its_origin(bars: pd.DataFrame) -> None:
    ours = ind.obv(bars.close, bars.volume)
    assert ours.iloc[0] == 0.0
    assert_same(
        ours + bars.volume.iloc[0], talib.OBV(bars.close.to_numpy(), bars.volume.to_numpy())
    )


def test_williams_r_matches_talib(bars: pd.DataFrame) -> None:
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    assert_same(ind.williams_r(bars.high, bars.low, bars.close), talib.WILLR(h, lo, c, 14))


@pytest.mark.parametrize("n", [14, 20])
def test_cci_matches_talib_and_ta(bars: pd.DataFrame, n: int) -> None:
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    ours = ind.cci(bars.high, bars.low, bars.close, n)
    assert_same(ours, talib.CCI(h, lo, c, n))
    theirs = ta.trend.CCIIndicator(bars.high, bars.low, bars.close, window=n).cci()
    assert_same(ours, theirs)


def test_bollinger_matches_talib_population_std(bars: pd.DataFrame) -> None:
    upper, middle, lower = talib.BBANDS(bars.close.to_numpy(), 20, 2.0, 2.0, 0)
    bands = ind.bollinger(bars.close, 20, 2.0)
    assert_same(bands.upper, upper)
    assert_same(bands.middle, middle)
    assert_same(bands.lower, lower)
    sample = ind.bollinger(bars.close, 20, 2.0, ddof=1)
    ratio = ((sample.upper - sample.middle) / (bands.upper - bands.middle)).dropna()
    np.testing.assert_allclose(ratio, np.sqrt(20 / 19), rtol=1e-9)


# ---- same definition, different seeding: exact against `ta`, converged against TA-Lib -------


def test_ema_is_first_value_seeded(bars: pd.DataFrame) -> None:
    ours = ind.ema(bars.close, 12)
    assert ours.iloc[0] == bars.close.iloc[0]
    assert_same(ours, bars.close.ewm(span=12, adjust=False).mean())
    assert_same(ours, ta.trend.EMAIndicator(bars.close, 12).ema_indicator(), start=11)
    assert_same(ours, talib.EMA(bars.close.to_numpy(), 12), start=300)
    assert not np.allclose(ours.iloc[11:20], talib.EMA(bars.close.to_numpy(), 12)[11:20])


def test_macd_converges_to_talib_and_scales_hist(bars: pd.DataFrame) -> None:
    m = ind.macd(bars.close)
    dif, dea, hist = talib.MACD(bars.close.to_numpy(), 12, 26, 9)
    for ours, theirs in ((m.dif, dif), (m.dea, dea), (m.hist, hist)):
        assert_same(ours, theirs, start=300)
    pd.testing.assert_series_equal(m.hist, m.dif - m.dea)
    pd.testing.assert_series_equal(ind.macd(bars.close, hist_scale=2.0).hist, 2 * m.hist)
    ema12, ema26 = ind.ema(bars.close, 12), ind.ema(bars.close, 26)
    pd.testing.assert_series_equal(m.dif, ema12 - ema26)


def test_adx_converges_to_talib(bars: pd.DataFrame) -> None:
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    got = ind.adx(bars.high, bars.low, bars.close, 14)
    assert_same(got.plus_di, talib.PLUS_DI(h, lo, c, 14), start=300)
    assert_same(got.minus_di, talib.MINUS_DI(h, lo, c, 14), start=300)
    assert_same(got.adx, talib.ADX(h, lo, c, 14), start=300)
    assert got.adx.first_valid_index() == bars.index[27]
    assert got.plus_di.first_valid_index() == bars.index[14]


def test_rsi_agrees_with_a_naive_wilder_loop(bars: pd.DataFrame) -> None:
    c, n = bars.close.to_numpy()[:80], 14
    d = np.diff(c)
    gain, loss = np.clip(d, 0, None), np.clip(-d, 0, None)
    ag, al = gain[:n].mean(), loss[:n].mean()
    expected = [100 * ag / (ag + al)]
    for g, lo in zip(gain[n:], loss[n:], strict=True):
        ag, al = (ag * (n - 1) + g) / n, (al * (n - 1) + lo) / n
        expected.append(100 * ag / (ag + al))
    np.testing.assert_allclose(ind.rsi(bars.close.iloc[:80]).dropna(), expected, rtol=1e-12)


def naive_kdj(h: np.ndarray, lo: np.ndarray, c: np.ndarray, n: int = 9) -> np.ndarray:
    k = d = 50.0
    rows = []
    for t in range(n - 1, len(c)):
        hh, ll = h[t - n + 1 : t + 1].max(), lo[t - n + 1 : t + 1].min()
        rsv = 50.0 if hh == ll else 100 * (c[t] - ll) / (hh - ll)
        k = 2 / 3 * k + rsv / 3
        d = 2 / 3 * d + k / 3
        rows.append((k, d, 3 * k - 2 * d))
    return np.array(rows)


def test_kdj_agrees_with_a_naive_loop_seeded_at_50(bars: pd.DataFrame) -> None:
    got = ind.kdj(bars.high, bars.low, bars.close)
    expected = naive_kdj(bars.high.to_numpy(), bars.low.to_numpy(), bars.close.to_numpy())
    ours = np.column_stack([got.k, got.d, got.j])
    assert np.isnan(ours[:8]).all()
    np.testing.assert_allclose(ours[8:], expected, rtol=1e-10)
    wr = ind.williams_r(bars.high, bars.low, bars.close, 9)
    pd.testing.assert_series_equal(wr, got.rsv - 100.0)


def test_kdj_seed_none_is_pandas_ewm_convention(bars: pd.DataFrame) -> None:
    got = ind.kdj(bars.high, bars.low, bars.close, seed=None)
    k = got.rsv.ewm(com=2, adjust=False).mean()
    pd.testing.assert_series_equal(got.k, k)
    pd.testing.assert_series_equal(got.d, k.ewm(com=2, adjust=False).mean())


# ---- crosses ----------------------------------------------------------------------------------


floats = st.floats(-5, 5, allow_nan=False).map(lambda v: round(v, 1))


@FAST
@given(st.lists(st.tuples(floats, floats), min_size=2, max_size=40))
def test_golden_and_death_cross_match_their_definition(pairs: list[tuple[float, float]]) -> None:
    a = pd.Series([p[0] for p in pairs])
    b = pd.Series([p[1] for p in pairs])
    up, down = ind.golden_cross(a, b), ind.death_cross(a, b)
    for t in range(len(a)):
        prev = t > 0
        assert up[t] == (prev and a[t - 1] <= b[t - 1] and a[t] > b[t])
        assert down[t] == (prev and a[t - 1] >= b[t - 1] and a[t] < b[t])
    assert not (up & down).any()
    pd.testing.assert_series_equal(ind.golden_cross(a, 0.0), ind.golden_cross(a, b * 0.0))


def test_cross_bridges_a_suspension() -> None:
    a = pd.Series([1.0, np.nan, 3.0, 4.0])
    assert ind.golden_cross(a, 2.0).tolist() == [False, False, True, False]


# ---- previous valid bar -----------------------------------------------------------------------


@FAST
@given(st.lists(st.one_of(floats, st.just(np.nan)), max_size=40), st.integers(1, 4))
def test_previous_is_the_kth_earlier_valid_value(values: list[float], k: int) -> None:
    x = pd.Series(values, dtype=float)
    got = ind.previous(x, k)
    seen: list[float] = []
    for t, v in enumerate(values):
        if np.isnan(v):
            assert np.isnan(got[t])
            continue
        want = seen[-k] if len(seen) >= k else np.nan
        assert got[t] == want or (np.isnan(got[t]) and np.isnan(want))
        seen.append(v)


def test_previous_bridges_a_suspension_where_shift_does_not() -> None:
    close = pd.Series([10.0, 11.0, np.nan, np.nan, 12.0, 13.0])
    assert ind.previous(close).tolist()[4:] == [11.0, 12.0]
    assert np.isnan(close.shift(1)[4])
    assert ind.previous(close, 2).tolist()[4:] == [10.0, 11.0]
    with pytest.raises(ValueError, match=r"previous: k=0 is not a window length"):
        ind.previous(close, 0)


# ---- invariants ---------------------------------------------------------------------------------


@st.composite
def ohlc(draw: st.DrawFn, min_size: int = 1, max_size: int = 80) -> pd.DataFrame:
    closes = draw(
        st.lists(st.floats(0.5, 200, allow_nan=False), min_size=min_size, max_size=max_size)
    )
    rows = []
    for c in closes:
        hi = c + draw(st.sampled_from([0.0, 0.01, 0.5, 3.0]))
        lo = max(0.01, c - draw(st.sampled_from([0.0, 0.01, 0.5, 3.0])))
        rows.append((hi, lo, c))
    return pd.DataFrame(rows, columns=["high", "low", "close"])


@FAST
@given(ohlc(min_size=1))
def test_rsi_and_kdj_stay_in_0_100(frame: pd.DataFrame) -> None:
    r = ind.rsi(frame.close, 5).dropna()
    assert r.between(0.0, 100.0).all()
    got = ind.kdj(frame.high, frame.low, frame.close, n=3)
    for line in (got.k, got.d, got.rsv):
        assert line.dropna().between(0.0, 100.0).all()
    assert ind.williams_r(frame.high, frame.low, frame.close, 3).dropna().between(-100, 0).all()


def test_rsi_edge_cases() -> None:
    assert ind.rsi(pd.Series([5.0] * 20), 14).dropna().eq(50.0).all()
    assert ind.rsi(pd.Series(np.arange(1.0, 21.0)), 14).dropna().eq(100.0).all()
    assert ind.rsi(pd.Series(np.arange(21.0, 1.0, -1)), 14).dropna().eq(0.0).all()
    assert ind.rsi(pd.Series(np.arange(1.0, 15.0)), 14).isna().all()


@settings(max_examples=30, deadline=None)
@given(ohlc(min_size=1, max_size=40), st.integers(1, 25), st.sampled_from([0, 1]))
def test_bollinger_bands_are_ordered(frame: pd.DataFrame, n: int, ddof: int) -> None:
    if n <= ddof:
        with pytest.raises(ValueError, match="ddof=1 with n=1"):
            ind.bollinger(frame.close, n, 2.0, ddof=ddof)
        return
    bands = ind.bollinger(frame.close, n, 2.0, ddof=ddof)
    ok = bands.middle.notna()
    assert (bands.upper[ok] >= bands.middle[ok]).all()
    assert (bands.middle[ok] >= bands.lower[ok]).all()


@FAST
@given(ohlc(min_size=2))
def test_adx_atr_cci_are_finite_and_bounded(frame: pd.DataFrame) -> None:
    got = ind.adx(frame.high, frame.low, frame.close, 3)
    for line in (got.plus_di, got.minus_di, got.dx, got.adx):
        assert line.dropna().between(0.0, 100.0 + 1e-9).all()
    assert ind.atr(frame.high, frame.low, frame.close, 3).dropna().ge(0).all()
    assert np.isfinite(ind.cci(frame.high, frame.low, frame.close, 3).dropna()).all()


# ---- NaN rule and panels --------------------------------------------------------------------


def _panel(bars: pd.DataFrame, field: str, columns: int = 4) -> pd.DataFrame:
    """A dates × codes panel: shifted copies of one field, with pre-listing NaN and suspensions."""
    base = bars[field].to_numpy()
    cols = {f"30000{i}": np.roll(base, 37 * i) * (1 + 0.1 * i) for i in range(columns)}
    panel = pd.DataFrame(cols, index=bars.index)
    panel.iloc[:60, 1] = np.nan
    panel.iloc[200:206, 2] = np.nan
    panel.iloc[300, 3] = np.nan
    return panel


def _lines(result: object) -> list[pd.Series | pd.DataFrame]:
    if isinstance(result, pd.Series | pd.DataFrame):
        return [result]
    return list(vars(result).values())


CASES: dict[str, Callable[..., object]] = {
    "sma": lambda h, lo, c, v: ind.sma(c, 10),
    "ema": lambda h, lo, c, v: ind.ema(c, 10),
    "macd": lambda h, lo, c, v: ind.macd(c),
    "rsi": lambda h, lo, c, v: ind.rsi(c),
    "kdj": lambda h, lo, c, v: ind.kdj(h, lo, c),
    "bollinger": lambda h, lo, c, v: ind.bollinger(c),
    "atr": lambda h, lo, c, v: ind.atr(h, lo, c),
    "obv": lambda h, lo, c, v: ind.obv(c, v),
    "williams_r": lambda h, lo, c, v: ind.williams_r(h, lo, c),
    "cci": lambda h, lo, c, v: ind.cci(h, lo, c),
    "adx": lambda h, lo, c, v: ind.adx(h, lo, c),
    "golden_cross": lambda h, lo, c, v: ind.golden_cross(ind.sma(c, 5), ind.sma(c, 10)),
    "previous": lambda h, lo, c, v: ind.previous(c, 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_panel_equals_column_by_column_and_skips_nan(bars: pd.DataFrame, name: str) -> None:
    fields = [_panel(bars, f) for f in ("high", "low", "close", "volume")]
    whole = _lines(CASES[name](*fields))
    for code in fields[0].columns:
        column = _lines(CASES[name](*(f[code] for f in fields)))
        valid = fields[2][code].notna()
        compact = _lines(CASES[name](*(f[code][valid] for f in fields)))
        for w, c, k in zip(whole, column, compact, strict=True):
            assert isinstance(w, pd.DataFrame)
            assert isinstance(c, pd.Series)
            assert isinstance(k, pd.Series)
            pd.testing.assert_series_equal(w[code], c, check_names=False)
            pd.testing.assert_series_equal(c[valid], k, check_names=False)
            if c.dtype == bool:
                assert not c[~valid].any()
            else:
                assert c[~valid].isna().all()


def test_leading_nan_does_not_poison_later_values(bars: pd.DataFrame) -> None:
    late = bars.close.copy()
    late.iloc[:100] = np.nan
    pd.testing.assert_series_equal(ind.rsi(late).iloc[100:], ind.rsi(bars.close.iloc[100:]))


def test_bad_inputs_raise_one_line_errors(bars: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"atr: input 2 .* shape"):
        ind.atr(bars.high, bars.low.iloc[:-1], bars.close)
    with pytest.raises(ValueError, match="different index"):
        ind.obv(bars.close, bars.volume.reset_index(drop=True))
    with pytest.raises(ValueError, match=r"sma: n=0 is not a window length"):
        ind.sma(bars.close, 0)
    with pytest.raises(ValueError, match=r"slow=2\.5"):
        ind.macd(bars.close, slow=2.5)  # type: ignore[arg-type]


def test_short_and_empty_inputs_give_nan_not_errors() -> None:
    empty = pd.Series([], dtype=float)
    assert ind.rsi(empty).empty
    assert ind.adx(empty, empty, empty).adx.empty
    short = pd.Series([1.0, 2.0, 3.0])
    assert ind.atr(short, short, short).isna().all()
    assert ind.kdj(short, short, short).k.isna().all()
    assert ind.macd(short).dif.notna().all()
