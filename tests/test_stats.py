"""Tests for pytest_realfin.stats: volatility, drawdown, CV, correlation, OLS, resampling."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_realfin import stats

FAST = settings(max_examples=50, deadline=None)
prices = st.lists(st.floats(0.5, 500, allow_nan=False), min_size=1, max_size=60)


def walk(n: int, seed: int, start: str = "2023-01-02") -> pd.Series:
    rng = np.random.default_rng(seed)
    values = 10.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    return pd.Series(values, index=pd.bdate_range(start, periods=n), name="close")


# ---- volatility, drawdown, CV --------------------------------------------------------------------


@pytest.mark.parametrize("ddof", [0, 1])
def test_historical_volatility_is_annualised_log_return_std(ddof: int) -> None:
    close = walk(60, seed=1)
    hv = stats.historical_volatility(close, 10, ddof=ddof)
    r = np.log(close.to_numpy()[-11:])
    expected = np.std(np.diff(r), ddof=ddof) * np.sqrt(252)
    assert hv.iloc[-1] == pytest.approx(expected, rel=1e-10)
    assert hv.iloc[:10].isna().all()
    assert hv.iloc[10:].notna().all()


@FAST
@given(prices)
def test_drawdown_is_in_0_1_and_matches_the_naive_peak_to_trough(values: list[float]) -> None:
    close = pd.Series(values)
    dd = stats.drawdown(close)
    assert dd.between(0.0, 1.0).all()
    naive = max((1 - values[j] / max(values[: j + 1]) for j in range(len(values))), default=0)
    mdd = stats.max_drawdown(close)
    assert isinstance(mdd, float)
    assert mdd == pytest.approx(naive, abs=1e-12)
    assert 0.0 <= mdd <= 1.0


def test_max_drawdown_examples_and_panel() -> None:
    assert stats.max_drawdown(pd.Series([1.0, 2.0, 3.0])) == 0.0
    assert stats.max_drawdown(pd.Series([10.0, 8.0, 12.0, 6.0, 7.0])) == pytest.approx(0.5)
    panel = pd.DataFrame({"a": [np.nan, 10.0, 5.0], "b": [4.0, 2.0, np.nan], "c": [np.nan] * 3})
    got = stats.max_drawdown(panel)
    assert isinstance(got, pd.Series)
    assert got["a"] == pytest.approx(0.5)
    assert got["b"] == pytest.approx(0.5)
    assert np.isnan(got["c"])


@FAST
@given(prices, st.sampled_from([0, 1]))
def test_cv_is_std_over_mean_in_percent(values: list[float], ddof: int) -> None:
    got = stats.coefficient_of_variation(pd.Series(values), ddof=ddof)
    assert isinstance(got, float)
    if len(values) <= ddof:
        assert np.isnan(got)
    else:
        arr = np.array(values)
        assert got == pytest.approx(arr.std(ddof=ddof) / arr.mean() * 100, rel=1e-9, abs=1e-12)


def test_cv_requires_ddof_and_skips_nan_per_column() -> None:
    with pytest.raises(TypeError):
        stats.coefficient_of_variation(pd.Series([1.0, 2.0]))  # type: ignore[call-arg]
    panel = pd.DataFrame({"a": [1.0, 2.0, 3.0, np.nan], "b": [2.0, 2.0, 2.0, 2.0]})
    got = stats.coefficient_of_variation(panel, ddof=1)
    assert isinstance(got, pd.Series)
    assert got["a"] == pytest.approx(50.0)
    assert got["b"] == 0.0


# ---- correlation and OLS -----------------------------------------------------------------------


pairs = st.lists(
    st.tuples(st.integers(-20, 20).map(float), st.integers(-20, 20).map(float)),
    min_size=0,
    max_size=40,
)


@FAST
@given(pairs)
def test_pearson_and_spearman_match_pandas_and_stay_in_bounds(
    xy: list[tuple[float, float]],
) -> None:
    x = pd.Series([p[0] for p in xy], dtype=float)
    y = pd.Series([p[1] for p in xy], dtype=float)
    for ours in (stats.pearson, stats.spearman):
        method: Literal["pearson", "spearman"] = "pearson" if ours is stats.pearson else "spearman"
        got = ours(x, y)
        assert isinstance(got, float)
        if x.nunique() < 2 or y.nunique() < 2:
            assert np.isnan(got)
        else:
            assert -1.0 <= got <= 1.0
            assert got == pytest.approx(x.corr(y, method=method), abs=1e-9)


def test_correlation_aligns_on_the_index_and_drops_nan_pairs() -> None:
    x = pd.Series([1.0, 2.0, np.nan, 4.0, 5.0], index=list("abcde"))
    y = pd.Series([9.0, 2.0, 4.0, 3.0, 8.0, 1.0], index=list("abcdef"))
    expected = pd.Series([1.0, 2.0, 4.0, 5.0]).corr(pd.Series([9.0, 2.0, 3.0, 8.0]))
    assert stats.pearson(x, y) == pytest.approx(expected)
    ties = pd.Series([1.0, 1.0, 2.0, 3.0])
    assert stats.spearman(ties, pd.Series([1.0, 2.0, 3.0, 4.0])) == pytest.approx(
        ties.corr(pd.Series([1.0, 2.0, 3.0, 4.0]), method="spearman")
    )


def test_correlation_panel_equals_columns() -> None:
    base = walk(40, seed=3).pct_change()
    panel = pd.DataFrame({f"c{i}": walk(40, seed=10 + i).pct_change() for i in range(5)})
    panel.iloc[:12, 1] = np.nan
    panel.iloc[20, 2] = np.nan
    for func in (stats.pearson, stats.spearman):
        whole = func(panel, base)
        assert isinstance(whole, pd.Series)
        for code in panel.columns:
            assert whole[code] == pytest.approx(func(panel[code], base), abs=1e-12)


@FAST
@given(
    st.floats(-1e3, 1e3).filter(lambda v: abs(v) > 1e-3),
    st.floats(-1e3, 1e3),
    st.integers(2, 30),
)
def test_ols_on_an_exact_line(slope: float, intercept: float, n: int) -> None:
    t = np.arange(1.0, n + 1)
    fit = stats.ols(pd.Series(intercept + slope * t))
    assert fit.slope == pytest.approx(slope, rel=1e-9, abs=1e-9)
    assert fit.intercept == pytest.approx(intercept, rel=1e-7, abs=1e-6)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert fit.n == n


def test_ols_matches_polyfit_and_panel_equals_columns() -> None:
    rng = np.random.default_rng(5)
    y = pd.Series(rng.normal(size=30).cumsum())
    x = pd.Series(rng.normal(size=30))
    fit = stats.ols(y, x)
    slope, intercept = np.polyfit(x, y, 1)
    assert fit.slope == pytest.approx(slope)
    assert fit.intercept == pytest.approx(intercept)
    assert fit.r2 == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2)
    panel = pd.DataFrame({"a": y, "b": y * 2 + 1, "c": [np.nan] * 5 + list(y[5:])})
    table = stats.ols(panel)
    for code in panel.columns:
        single = stats.ols(panel[code])
        assert table.loc[code, "slope"] == pytest.approx(single.slope)
        assert table.loc[code, "r2"] == pytest.approx(single.r2)
    assert table.loc["c", "n"] == 25
    flat = stats.ols(pd.Series([3.0, 3.0, 3.0]))
    assert flat.slope == 0.0
    assert np.isnan(flat.r2)
    assert np.isnan(stats.ols(pd.Series([1.0])).slope)


# ---- resampling --------------------------------------------------------------------------------


SESSIONS = pd.bdate_range("2023-12-01", "2024-03-29")


@st.composite
def daily_bars(draw: st.DrawFn) -> pd.DataFrame:
    keep = draw(st.lists(st.booleans(), min_size=len(SESSIONS), max_size=len(SESSIONS)))
    index = SESSIONS[np.array(keep)]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    close = 10 + rng.normal(size=len(index)).cumsum()
    frame = pd.DataFrame(
        {
            "open": close + rng.normal(size=len(index)),
            "high": close + 3,
            "low": close - 3,
            "close": close,
            "volume": rng.integers(1, 1000, size=len(index)).astype(float),
        },
        index=index,
    )
    blank = rng.random(len(index)) < 0.1
    frame.loc[blank, ["open", "high", "low", "close", "volume"]] = np.nan
    return frame


@settings(max_examples=40, deadline=None)
@given(daily_bars(), st.sampled_from(["W", "M"]))
def test_resampling_preserves_totals_extremes_and_matches_pandas(
    bars: pd.DataFrame, freq: str
) -> None:
    out = stats.resample_bars(bars, freq)  # type: ignore[arg-type]
    assert out["volume"].sum() == bars["volume"].sum()
    if bars["high"].notna().any():
        assert out["high"].max() == bars["high"].max()
        assert out["low"].min() == bars["low"].min()
    rule = "W-SUN" if freq == "W" else "ME"
    agg = {"open": "first", "high": "max", "low": "min", "close": "last"}
    ref = bars.resample(rule).agg({**agg, "volume": lambda v: v.sum(min_count=1)})
    present = bars.index.to_series().resample(rule).max().dropna()
    ref = ref.loc[present.index]
    ref.index = pd.DatetimeIndex(present.to_numpy())
    pd.testing.assert_frame_equal(out, ref[out.columns], check_freq=False, check_names=False)


def test_week_label_partial_rule_and_iso_year_boundary() -> None:
    days = pd.DatetimeIndex(["2024-12-30", "2024-12-31", "2025-01-02", "2025-01-06", "2025-01-08"])
    close = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0], index=days)
    weekly = stats.resample_panel(close, "last", "W")
    assert [str(d.date()) for d in weekly.index] == ["2025-01-02", "2025-01-08"]
    assert weekly.tolist() == [3.0, 5.0]
    sessions = pd.bdate_range("2024-12-30", "2025-01-31").drop([pd.Timestamp("2025-01-03")])
    dropped = stats.resample_panel(close, "last", "W", partial="drop", sessions=sessions)
    assert dropped.tolist() == [3.0]
    done = close.iloc[:3]
    kept = stats.resample_panel(done, "last", "W", partial="drop", sessions=sessions)
    assert kept.tolist() == [3.0]
    assert stats.resample_panel(done, "last", "W", partial="drop", sessions=days[:3]).empty
    monthly = stats.resample_panel(close, "sum", "M")
    assert monthly.tolist() == [3.0, 12.0]


def test_resample_panel_equals_columns_and_bad_input_errors() -> None:
    panel = pd.DataFrame({"a": walk(60, 1), "b": walk(60, 2)})
    panel.iloc[:7, 1] = np.nan
    for how in ("first", "max", "min", "last", "sum"):
        whole = stats.resample_panel(panel, how, "W")
        for code in panel.columns:
            single = stats.resample_panel(panel[code], how, "W")
            pd.testing.assert_series_equal(whole[code], single, check_names=False)
    with pytest.raises(ValueError, match="needs sessions="):
        stats.resample_panel(panel, "last", "W", partial="drop")
    with pytest.raises(ValueError, match=r"\['turn'\] have no aggregation rule"):
        stats.resample_bars(pd.DataFrame({"close": panel.a, "turn": panel.a}), "W")
    with pytest.raises(TypeError, match="expected a DatetimeIndex"):
        stats.resample_panel(panel.reset_index(drop=True), "last", "W")
