"""Synthetic returns: a factor model with stochastic volatility, fat tails and ChiNext limits.

Returns are market + sector + lithium-future loading + idiosyncratic parts. Each part's
log-volatility is an AR(1) process (volatility clustering) driving Student-t shocks (fat tails),
plus rare jumps that produce limit-up/limit-down days. Everything is computed on whole (sessions x
stocks) arrays; the AR(1) recursions are evaluated as FFT convolutions, so no Python loop runs per
session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pytest_realfin.market.calendar import limit_fraction
from pytest_realfin.market.gen_universe import CATL_CODE, SECTORS, Universe

__all__ = ["Factors", "Latent", "ar1", "limit_cents", "make_factors", "make_latent"]


def ar1(eps: np.ndarray, phi: float, burn: int = 400) -> np.ndarray:
    """Return x with x[t] = phi * x[t-1] + eps[t] along axis 0 (FFT convolution)."""
    t_len = eps.shape[0]
    k = np.arange(t_len + burn)
    kernel = phi**k
    shape = (t_len + burn, *eps.shape[1:])
    padded = np.zeros(shape)
    padded[burn:] = eps
    n_fft = 1 << int(np.ceil(np.log2(2 * shape[0])))
    spec = np.fft.rfft(padded, n=n_fft, axis=0)
    spec *= np.fft.rfft(kernel, n=n_fft).reshape((-1,) + (1,) * (eps.ndim - 1))
    out = np.fft.irfft(spec, n=n_fft, axis=0)[: shape[0]]
    return out[burn:]


def _sv_shocks(
    rng: np.random.Generator, shape: tuple[int, ...], phi: float, sd: float, df: float
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-scale stochastic-volatility shocks: (shock, vol multiplier) shaped ``shape``."""
    h = ar1(rng.normal(0.0, sd * np.sqrt(1 - phi**2), size=shape), phi)
    vol = np.exp(h - sd**2)  # E[vol^2] = 1
    z = rng.standard_t(df, size=shape) / np.sqrt(df / (df - 2))
    return z * vol, vol


def limit_cents(pre_cents: np.ndarray, frac: np.ndarray | float, sign: int) -> np.ndarray:
    """Limit price in cents for a previous close in cents: round-half-up of pre x (1 ± frac)."""
    return np.floor(pre_cents * (1.0 + sign * np.asarray(frac)) + 0.5 + 1e-7)


@dataclass(frozen=True)
class Factors:
    """Common return factors over T+1 sessions (row 0 is the session before the range)."""

    market: np.ndarray  # (T+1,)
    sector: np.ndarray  # (T+1, S)
    lithium: np.ndarray  # (T+1,) daily log-return of the lithium-carbonate price
    rate: np.ndarray  # (T+1,) 10Y CGB yield in % a year


def make_factors(rng: np.random.Generator, t1: int) -> Factors:
    """Draw the market, sector, lithium and bond-yield series."""
    m_shock, _ = _sv_shocks(rng, (t1,), 0.985, 0.45, 5.0)
    drift = ar1(rng.normal(0, 0.00012, size=t1), 0.995)
    market = 0.013 * m_shock + drift + 0.0002
    s_shock, _ = _sv_shocks(rng, (t1, len(SECTORS)), 0.98, 0.35, 5.0)
    sector = 0.008 * s_shock + ar1(rng.normal(0, 0.00008, size=(t1, len(SECTORS))), 0.995)
    l_shock, _ = _sv_shocks(rng, (t1,), 0.98, 0.4, 4.0)
    t = np.arange(t1)
    cycle = 0.0022 * np.sin(
        2 * np.pi * (t + 0.3 * t1) / (0.9 * t1)
    )  # boom then bust, as in 2021-2024
    lithium = 0.02 * l_shock + cycle + ar1(rng.normal(0, 0.0002, size=t1), 0.99)
    level = 3.15 - 1.4 * t / t1 + 0.4 * ar1(rng.normal(0, 0.02, size=t1), 0.995)
    rate = np.round(level + 0.08 * ar1(rng.normal(0, 0.1, size=t1), 0.9) * 0.2, 4)
    return Factors(market=market, sector=sector, lithium=lithium, rate=rate)


@dataclass(frozen=True)
class Latent:
    """Unrounded return panel and its volatility state, T+1 rows (row 0: the day before)."""

    ret: np.ndarray  # (T+1, N) close-to-close returns before limits
    vol: np.ndarray  # (T+1, N) idiosyncratic vol multiplier (1 on average)
    sigma: np.ndarray  # (N,) base daily idiosyncratic volatility
    base_price: np.ndarray  # (N,) price on row 0 (listed before) or issue price (IPO inside range)
    lim: np.ndarray  # (T+1, N) limit fraction; 0 = no limit (listing days)


def make_latent(
    rng: np.random.Generator, dates: pd.DatetimeIndex, uni: Universe, f: Factors
) -> Latent:
    """Draw the stock returns (factor model + SV + jumps), with listing pops and suspensions."""
    t1, n = len(dates) + 1, len(uni.codes)
    shock, vol = _sv_shocks(rng, (t1, n), 0.985, 0.7, 5.0)
    sigma = np.exp(rng.normal(np.log(0.021), 0.25, size=n))
    beta_m = rng.uniform(0.7, 1.3, size=n)
    beta_s = rng.uniform(0.6, 1.3, size=n)
    beta_l = np.where(uni.sector == SECTORS.index("新能源"), rng.uniform(0.15, 0.35, size=n), 0.0)
    beta_l = np.where(uni.lithium, rng.uniform(0.35, 0.6, size=n), beta_l)
    jump = rng.random((t1, n)) < 0.01 * np.minimum(vol, 3.0) ** 2
    jump_size = rng.uniform(0.06, 0.32, size=(t1, n)) * np.where(rng.random((t1, n)) < 0.6, 1, -1)
    ret = (
        beta_m * f.market[:, None]
        + beta_s * f.sector[:, uni.sector]
        + beta_l * f.lithium[:, None]
        + sigma * shock
        + np.where(jump, jump_size, 0.0)
    )
    # Limits (row 0 is 2019-12-31, under the old regime).
    lim_t = np.concatenate([[0.10], limit_fraction(dates)])
    lim = np.broadcast_to(lim_t[:, None], (t1, n)).copy()
    rows = np.arange(t1)[:, None]
    ipo_row = uni.ipo[None, :] + 1
    fresh = (rows >= ipo_row) & (rows < ipo_row + 5) & (uni.ipo[None, :] >= 0)
    lim[fresh] = 0.0
    pop = rng.uniform(0.3, 2.2, size=n)
    first = rows == ipo_row
    ret = np.where(first, pop[None, :], ret)
    ret = np.where(fresh & ~first, rng.normal(0.0, 0.07, size=(t1, n)), ret)
    ret = np.where(lim > 0, np.clip(ret, -lim, lim), np.maximum(ret, -0.4))
    susp = np.concatenate([np.zeros((1, n), dtype=bool), uni.suspended])
    ret = np.where(susp | (rows < ipo_row), 0.0, ret)
    ret[0] = 0.0
    base = np.exp(rng.normal(np.log(22.0), 0.6, size=n))
    base = np.where(uni.ipo >= 0, np.exp(rng.normal(np.log(22.0), 0.5, size=n)), base)
    base[uni.codes.index(CATL_CODE)] = 150.0
    return Latent(ret=ret, vol=vol, sigma=sigma, base_price=base, lim=lim)
