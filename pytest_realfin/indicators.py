"""Reference definitions of the technical indicators the RealFin verifiers use.

Task texts quote these docstrings, so each states its exact formula, seeding and ddof.

Conventions shared by every function here:

* Inputs are a pandas Series indexed by date, or a DataFrame of dates × codes (one stock per
  column); the result has the same shape, index and columns. Multi-input indicators (high, low,
  close, ...) need inputs of one type, shape and index, else ValueError.
* NaN rows are skipped. Each column is computed on its own valid rows only (a row is valid when
  every input is non-NaN there), exactly as if the NaN rows were absent, and the result is NaN on
  the skipped rows. So leading NaN before a stock lists do not poison later values, and a suspension
  (blank bar) is bridged: "the previous bar" always means the previous valid bar.
* Warm-up: a value is NaN until enough valid bars exist for its definition (stated per function);
  recursive averages (EMA, MACD, KDJ) start on the first valid bar.
* t indexes valid bars; C, H, L, V are close, high, low, volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic

import numpy as np
import numpy.typing as npt
import pandas as pd

from pytest_realfin._panel import (
    Array,
    Frame,
    check_window,
    ewm,
    lag,
    on_valid,
    rolling,
    safe_divide,
    seeded_ewm,
    wilder,
)

__all__ = [
    "ADX",
    "KDJ",
    "MACD",
    "Bollinger",
    "adx",
    "atr",
    "bollinger",
    "cci",
    "death_cross",
    "ema",
    "golden_cross",
    "kdj",
    "macd",
    "obv",
    "previous",
    "rsi",
    "sma",
    "true_range",
    "williams_r",
]


@dataclass(frozen=True)
class MACD(Generic[Frame]):
    """MACD lines: ``dif`` = EMA(fast) − EMA(slow), ``dea`` = EMA(dif, signal), ``hist``."""

    dif: Frame
    dea: Frame
    hist: Frame


@dataclass(frozen=True)
class KDJ(Generic[Frame]):
    """Stochastic KDJ lines ``k``, ``d``, ``j`` (and the raw ``rsv`` they smooth)."""

    k: Frame
    d: Frame
    j: Frame
    rsv: Frame


@dataclass(frozen=True)
class Bollinger(Generic[Frame]):
    """Bollinger bands ``middle``, ``upper``, ``lower``; ``width`` = (upper − lower) / middle."""

    middle: Frame
    upper: Frame
    lower: Frame

    @property
    def width(self) -> Frame:
        """Band width (upper − lower) / middle, as a fraction (0.05 is 5 %)."""
        return (self.upper - self.lower) / self.middle


@dataclass(frozen=True)
class ADX(Generic[Frame]):
    """Wilder's directional movement: ``plus_di``, ``minus_di``, ``dx``, ``adx`` (all 0..100)."""

    plus_di: Frame
    minus_di: Frame
    dx: Frame
    adx: Frame


def sma(x: Frame, n: int) -> Frame:
    """Simple moving average: SMA(t) = mean(x(t−n+1) .. x(t)), NaN for the first n − 1 bars."""
    check_window("sma", "n", n)
    return on_valid("sma", lambda a: (rolling(a, n, "mean"),), [x])[0]


def ema(x: Frame, n: int) -> Frame:
    """Exponential moving average with alpha = 2 / (n + 1), seeded with the first value.

    EMA(0) = x(0); EMA(t) = alpha·x(t) + (1 − alpha)·EMA(t−1). This is pandas
    ``x.ewm(span=n, adjust=False).mean()`` and the 通达信 EMA; it has a value from the first bar on.
    (TA-Lib's EMA seeds with the SMA of the first n values instead; the two converge as
    (1 − alpha)^t.)
    """
    check_window("ema", "n", n)
    return on_valid("ema", lambda a: (ewm(a, 2.0 / (n + 1)),), [x])[0]


def previous(x: Frame, k: int = 1) -> Frame:
    """The value k valid bars earlier, per stock: x(t − k), with t counting valid bars.

    So a suspension or a blank row is bridged: on the first bar after a suspension,
    ``previous(close)`` is the last close before it (``shift(k)`` would give NaN or a blank).
    NaN on the first k valid bars and on NaN rows. For a pattern over several fields
    ("D1, D2, D3 are consecutive traded bars"), mask every field with one validity panel first
    (``close.where(valid)``), so that all fields skip the same rows.
    """
    check_window("previous", "k", k)
    return on_valid("previous", lambda a: (lag(a, k),), [x])[0]


def macd(
    close: Frame, fast: int = 12, slow: int = 26, signal: int = 9, hist_scale: float = 1.0
) -> MACD[Frame]:
    """MACD(12, 26, 9) from `ema` (alpha = 2/(n+1), seeded with the first value).

    DIF = EMA(C, fast) − EMA(C, slow); DEA = EMA(DIF, signal); hist = hist_scale × (DIF − DEA).
    The histogram is DIF − DEA by default; pass ``hist_scale=2`` for the Chinese-software
    convention MACD = 2 × (DIF − DEA). All three lines have values from the first bar on.
    """
    for name, n in (("fast", fast), ("slow", slow), ("signal", signal)):
        check_window("macd", name, n)

    def kernel(c: Array) -> tuple[Array, ...]:
        dif = ewm(c, 2.0 / (fast + 1)) - ewm(c, 2.0 / (slow + 1))
        dea = ewm(dif, 2.0 / (signal + 1))
        return dif, dea, hist_scale * (dif - dea)

    dif, dea, hist = on_valid("macd", kernel, [close])
    return MACD(dif, dea, hist)


def _cross(where: str, a: Frame, b: Frame | float, above: bool) -> Frame:
    other = b if isinstance(b, pd.Series | pd.DataFrame) else a * 0.0 + float(b)

    def kernel(x: Array, y: Array) -> tuple[npt.NDArray[np.bool_], ...]:
        px, py = lag(x), lag(y)
        with np.errstate(invalid="ignore"):
            hit = (px <= py) & (x > y) if above else (px >= py) & (x < y)
        return (hit,)

    return on_valid(where, kernel, [a, other], fill=False)[0].astype(bool)


def golden_cross(a: Frame, b: Frame | float) -> Frame:
    """True on bar t when ``a`` crosses above ``b``: a(t−1) ≤ b(t−1) and a(t) > b(t).

    ``b`` is a line of the same shape or a constant (e.g. 50 for RSI, 0 for the MACD histogram).
    The previous bar is the previous bar where both are valid; the first such bar and rows where
    either is NaN are False. MACD golden cross = ``golden_cross(m.dif, m.dea)``.
    """
    return _cross("golden_cross", a, b, above=True)


def death_cross(a: Frame, b: Frame | float) -> Frame:
    """True on bar t when ``a`` crosses below ``b``: a(t−1) ≥ b(t−1) and a(t) < b(t)."""
    return _cross("death_cross", a, b, above=False)


def rsi(close: Frame, n: int = 14) -> Frame:
    """RSI(n) with Wilder smoothing.

    d(t) = C(t) − C(t−1); gain = max(d, 0), loss = max(−d, 0). The averages are seeded with the
    simple mean of the first n gains (losses), i.e. of d(1) .. d(n), then
    avg(t) = (avg(t−1)·(n − 1) + x(t)) / n. RSI = 100 × avg_gain / (avg_gain + avg_loss), which is
    100 − 100 / (1 + RS): 100 when avg_loss = 0, and 50 when both are 0 (an all-flat stretch; TA-Lib
    returns 0 there). First value on bar n (n + 1 closes).
    """
    check_window("rsi", "n", n)

    def kernel(c: Array) -> tuple[Array, ...]:
        d = c - lag(c)
        gain = wilder(np.where(d > 0, d, 0.0), n, start=1)
        loss = wilder(np.where(d < 0, -d, 0.0), n, start=1)
        return (100.0 * safe_divide(gain, gain + loss, when_zero=0.5),)

    return on_valid("rsi", kernel, [close])[0]


def kdj(
    high: Frame,
    low: Frame,
    close: Frame,
    n: int = 9,
    m1: int = 3,
    m2: int = 3,
    seed: float | None = 50.0,
) -> KDJ[Frame]:
    """KDJ(9, 3, 3), the Chinese stochastic oscillator.

    RSV(t) = 100 × (C(t) − LLV(L, n)) / (HHV(H, n) − LLV(L, n)) over the last n bars, and 50 when
    HHV = LLV (no range). K(t) = (1 − 1/m1)·K(t−1) + RSV(t)/m1 (2/3 and 1/3 for m1 = 3, the
    SMA(RSV, 3, 1) recursion), D(t) = (1 − 1/m2)·D(t−1) + K(t)/m2, J = 3K − 2D. RSV needs n bars,
    so the recursion starts on bar n − 1 with K(prev) = D(prev) = ``seed`` (50); ``seed=None``
    seeds with the first RSV and K instead (pandas ``ewm(com=m1 − 1, adjust=False)``). K and D stay
    in [0, 100] when L ≤ C ≤ H (clipped there against one-ulp rounding overshoot); J does not.
    """
    for name, v in (("n", n), ("m1", m1), ("m2", m2)):
        check_window("kdj", name, v)

    def kernel(h: Array, lo: Array, c: Array) -> tuple[Array, ...]:
        hh, ll = rolling(h, n, "max"), rolling(lo, n, "min")
        rsv = 100.0 * safe_divide(c - ll, hh - ll, when_zero=0.5)
        k, d = np.full_like(rsv, np.nan), np.full_like(rsv, np.nan)
        body = rsv[n - 1 :]
        if seed is None:
            k[n - 1 :] = ewm(body, 1.0 / m1)
            d[n - 1 :] = ewm(k[n - 1 :], 1.0 / m2)
        else:
            k[n - 1 :] = seeded_ewm(body, 1.0 / m1, seed)
            d[n - 1 :] = seeded_ewm(k[n - 1 :], 1.0 / m2, seed)
        # The recursion can overshoot 100 by one ulp; clip so K, D keep their documented range.
        k, d = np.clip(k, 0.0, 100.0), np.clip(d, 0.0, 100.0)
        return k, d, 3.0 * k - 2.0 * d, rsv

    k, d, j, rsv = on_valid("kdj", kernel, [high, low, close])
    return KDJ(k, d, j, rsv)


def bollinger(close: Frame, n: int = 20, k: float = 2.0, ddof: int = 0) -> Bollinger[Frame]:
    """Bollinger bands(20, 2): middle = SMA(C, n), upper/lower = middle ± k × std(C, n).

    std is the population standard deviation (ddof = 0, divide by n) of the same n closes, as in
    TA-Lib BBANDS; pass ``ddof=1`` for the sample std. First value on bar n − 1.
    """
    check_window("bollinger", "n", n)
    if ddof not in (0, 1) or n <= ddof:
        msg = f"bollinger: ddof={ddof!r} with n={n} is not allowed; use ddof=0 or 1 with n > ddof"
        raise ValueError(msg)

    def kernel(c: Array) -> tuple[Array, ...]:
        frame = pd.DataFrame(c).rolling(n, min_periods=n)
        mid = frame.mean().to_numpy(dtype=np.float64)
        std = frame.std(ddof=ddof).to_numpy(dtype=np.float64)
        return mid, mid + k * std, mid - k * std

    mid, up, lo = on_valid("bollinger", kernel, [close])
    return Bollinger(mid, up, lo)


def _tr(h: Array, lo: Array, c: Array) -> Array:
    pc = lag(c)
    return np.fmax(h - lo, np.maximum(np.abs(h - pc), np.abs(lo - pc))) + pc * 0.0


def true_range(high: Frame, low: Frame, close: Frame) -> Frame:
    """TR(t) = max(H − L, |H − C(t−1)|, |L − C(t−1)|); NaN on the first bar (no previous close)."""
    return on_valid("true_range", lambda h, lo, c: (_tr(h, lo, c),), [high, low, close])[0]


def atr(high: Frame, low: Frame, close: Frame, n: int = 14) -> Frame:
    """ATR(14): Wilder average of `true_range`, seeded with the mean of TR(1) .. TR(n).

    ATR(n) = mean(TR(1..n)); ATR(t) = (ATR(t−1)·(n − 1) + TR(t)) / n. First value on bar n
    (identical to TA-Lib ATR).
    """
    check_window("atr", "n", n)

    def kernel(h: Array, lo: Array, c: Array) -> tuple[Array, ...]:
        return (wilder(_tr(h, lo, c), n, start=1),)

    return on_valid("atr", kernel, [high, low, close])[0]


def obv(close: Frame, volume: Frame) -> Frame:
    """On-balance volume: OBV(first bar) = 0; OBV(t) = OBV(t−1) + sign(C(t) − C(t−1)) × V(t).

    A flat close adds nothing. The origin is the first bar passed in, so slice the window first
    when a task fixes it (TA-Lib starts at V(0) instead: a constant offset).
    """

    def kernel(c: Array, v: Array) -> tuple[Array, ...]:
        step = np.sign(c - lag(c)) * v
        step[0] = 0.0
        return (np.cumsum(step, axis=0),)

    return on_valid("obv", kernel, [close, volume])[0]


def williams_r(high: Frame, low: Frame, close: Frame, n: int = 14) -> Frame:
    """Williams %R(14) = −100 × (HHV(H, n) − C) / (HHV(H, n) − LLV(L, n)), in [−100, 0].

    −50 when HHV = LLV. It equals RSV(n) − 100 (see `kdj`). First value on bar n − 1.
    """
    check_window("williams_r", "n", n)

    def kernel(h: Array, lo: Array, c: Array) -> tuple[Array, ...]:
        hh, ll = rolling(h, n, "max"), rolling(lo, n, "min")
        return (-100.0 * safe_divide(hh - c, hh - ll, when_zero=0.5),)

    return on_valid("williams_r", kernel, [high, low, close])[0]


def cci(high: Frame, low: Frame, close: Frame, n: int = 20) -> Frame:
    """CCI(20) = (TP − SMA(TP, n)) / (0.015 × MD), TP = (H + L + C) / 3.

    MD = mean(|TP(i) − SMA(TP, n)(t)|) over the same n bars (mean absolute deviation about the
    window mean, as in TA-Lib). CCI = 0 when MD = 0 (a flat window). First value on bar n − 1.
    """
    check_window("cci", "n", n)

    def kernel(h: Array, lo: Array, c: Array) -> tuple[Array, ...]:
        tp = (h + lo + c) / 3.0
        mean = sum(lag(tp, i) for i in range(n)) / n
        md = sum(np.abs(lag(tp, i) - mean) for i in range(n)) / n
        flat = md <= 1e-12 * np.abs(mean)
        return (safe_divide(tp - mean, 0.015 * np.where(flat, 0.0, md), when_zero=0.0),)

    return on_valid("cci", kernel, [high, low, close])[0]


def adx(high: Frame, low: Frame, close: Frame, n: int = 14) -> ADX[Frame]:
    """ADX(14) with +DI / −DI, all Wilder-smoothed.

    up = H(t) − H(t−1), down = L(t−1) − L(t); +DM = up if up > down and up > 0 else 0;
    −DM = down if down > up and down > 0 else 0. +DM, −DM and `true_range` are Wilder averages
    seeded with the mean of their values on bars 1..n (as `atr`); +DI = 100 × avg(+DM) / ATR,
    −DI = 100 × avg(−DM) / ATR, DX = 100 × |+DI − −DI| / (+DI + −DI) (0 when both are 0);
    ADX = Wilder average of DX seeded with the mean of DX on bars n..2n−1. DI and DX start on bar n,
    ADX on bar 2n − 1. (TA-Lib seeds the DM sums with n − 1 bars; it converges to this.)
    """
    check_window("adx", "n", n)

    def kernel(h: Array, lo: Array, c: Array) -> tuple[Array, ...]:
        up, down = h - lag(h), lag(lo) - lo
        pdm = np.where((up > down) & (up > 0), up, 0.0) + up * 0.0
        mdm = np.where((down > up) & (down > 0), down, 0.0) + up * 0.0
        tr = wilder(_tr(h, lo, c), n, start=1)
        pdi = safe_divide(100.0 * wilder(pdm, n, start=1), tr, when_zero=0.0)
        mdi = safe_divide(100.0 * wilder(mdm, n, start=1), tr, when_zero=0.0)
        dx = safe_divide(100.0 * np.abs(pdi - mdi), pdi + mdi, when_zero=0.0)
        return pdi, mdi, dx, wilder(dx, n, start=n)

    pdi, mdi, dx, adx_ = on_valid("adx", kernel, [high, low, close])
    return ADX(pdi, mdi, dx, adx_)
