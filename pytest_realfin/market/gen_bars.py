"""From latent returns to rounded, limit-consistent daily OHLCV bars (with plants written in)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pytest_realfin.errors import ConfigError
from pytest_realfin.market.gen_plants import PlantedBar
from pytest_realfin.market.gen_prices import Latent, limit_cents
from pytest_realfin.market.gen_universe import CATL_CODE, Universe

__all__ = ["Bars", "make_bars"]


@dataclass(frozen=True)
class Bars:
    """Daily bars, (T, N) float panels (CNY, shares); NaN for no row or a blank field."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    preclose: np.ndarray
    volume: np.ndarray
    amount: np.ndarray
    turn: np.ndarray
    pct_chg: np.ndarray
    tradestatus: np.ndarray
    listed: np.ndarray  # bool
    close_filled: np.ndarray  # close carried through blank suspended rows (for derived series)


def _closes(lat: Latent) -> np.ndarray:
    price = lat.base_price[None, :] * np.cumprod(1.0 + lat.ret, axis=0)
    floor = np.maximum(1.0, 3.0 / price.min(axis=0))
    return np.asarray(price * floor * 100.0)  # cents, unrounded


def _plant(price: np.ndarray, cents: np.ndarray, lat: Latent, pb: PlantedBar) -> None:
    prev = cents[pb.row - 1, pb.col]
    target = np.floor(prev * (1.0 + pb.ret) + 0.5)
    lim = lat.lim[pb.row, pb.col]
    up, dn = limit_cents(prev, lim, 1), limit_cents(prev, lim, -1)
    gap = np.floor(prev * (1.0 + pb.open_gap) + 0.5)
    if not (dn <= target <= up and dn <= gap <= up):
        msg = (
            f"plant {pb.plant!r}: bar at row {pb.row} has ret={pb.ret!r}, open_gap={pb.open_gap!r} "
            f"outside the ±{lim:.0%} price limit; keep every planted move inside the band"
        )
        raise ConfigError(msg)
    price[pb.row :, pb.col] *= target / price[pb.row, pb.col]
    cents[pb.row :, pb.col] = np.floor(price[pb.row :, pb.col] + 0.5)


def _fix_limits(cents: np.ndarray, lat: Latent, frozen: np.ndarray) -> None:
    """Pull closes that rounding pushed past the limit back onto it (a fixed point)."""
    for _ in range(50):
        prev = cents[:-1]
        lim = lat.lim[1:]
        up, dn = limit_cents(prev, lim, 1), limit_cents(prev, lim, -1)
        cur = cents[1:]
        bad = (lim > 0) & ~frozen[1:] & ((cur > up) | (cur < dn))
        if not bad.any():
            return
        cur[bad] = np.clip(cur, dn, up)[bad]


def make_bars(
    rng: np.random.Generator, uni: Universe, lat: Latent, planted: list[PlantedBar]
) -> Bars:
    """Round the latent paths to cents, write the plants, and derive OHLC, volume and amount."""
    t1, n = lat.ret.shape
    price = _closes(lat)
    cents = np.floor(price + 0.5)
    frozen = np.zeros((t1, n), dtype=bool)
    for pb in planted:
        _plant(price, cents, lat, pb)
        frozen[pb.row, pb.col] = True
    _fix_limits(cents, lat, frozen)

    rows = np.arange(t1)[:, None]
    listed = (rows >= uni.ipo[None, :] + 1) & (rows < uni.out[None, :] + 1)
    listed[0] = False
    susp = np.concatenate([np.zeros((1, n), dtype=bool), uni.suspended])
    blank = np.concatenate([np.zeros((1, n), dtype=bool), uni.blank])
    for pb in planted:  # planted suspensions: ret 0 above, so the close is carried like any other
        susp[pb.row, pb.col] |= pb.suspend
        blank[pb.row, pb.col] |= pb.blank
    pre = np.empty_like(cents)
    pre[1:] = cents[:-1]
    pre[0] = cents[0]
    ipo_row = uni.ipo + 1
    ipo_cols = np.flatnonzero((ipo_row >= 1) & (ipo_row < t1))
    pre[ipo_row[ipo_cols], ipo_cols] = np.floor(lat.base_price[ipo_cols] * 100 + 0.5)
    real_ret = cents / pre - 1.0
    sig = lat.sigma[None, :] * lat.vol
    lim = lat.lim
    up, dn = (
        limit_cents(pre, np.where(lim > 0, lim, 9.0), 1),
        limit_cents(pre, np.where(lim > 0, lim, 0.9), -1),
    )

    gap = 0.3 * real_ret + rng.normal(0, 1, (t1, n)) * 0.35 * sig
    opn = np.clip(np.floor(pre * (1 + gap) + 0.5), dn, up)
    hi_w = np.abs(rng.normal(0, 1, (t1, n))) * 0.45 * sig
    lo_w = np.abs(rng.normal(0, 1, (t1, n))) * 0.45 * sig
    high = np.minimum(np.floor(np.maximum(opn, cents) * (1 + hi_w) + 0.5), up)
    low = np.maximum(np.floor(np.minimum(opn, cents) * (1 - lo_w) + 0.5), dn)

    turn0 = np.exp(rng.normal(np.log(0.02), 0.45, size=n))
    turn0[uni.codes.index(CATL_CODE)] = 0.006
    noise = lat_noise = rng.normal(0, 0.3 * np.sqrt(1 - 0.8**2), (t1, n))
    from pytest_realfin.market.gen_prices import ar1

    lat_noise = ar1(noise, 0.8)
    burst = np.where(rng.random((t1, n)) < 0.01, np.log(rng.uniform(2, 4, (t1, n))), 0.0)
    move = np.minimum(np.abs(real_ret) / lat.sigma[None, :], 8.0)
    log_v = (
        np.log(uni.liqa_share * turn0)[None, :]
        + 0.5 * np.log(lat.vol)
        + 0.28 * move
        + lat_noise
        + burst
        + 0.1 * rng.normal(0, 1, (t1, n))
        - 0.5
    )
    volume = np.exp(log_v)
    fresh = lim == 0
    volume = np.where(fresh, uni.liqa_share[None, :] * rng.uniform(0.15, 0.4, (t1, n)), volume)
    first = rows == ipo_row[None, :]
    volume = np.where(first, uni.liqa_share[None, :] * rng.uniform(0.5, 0.8, (t1, n)), volume)

    for pb in planted:
        r, c = pb.row, pb.col
        p0 = pre[r, c]
        l_up, l_dn = limit_cents(p0, lim[r, c], 1), limit_cents(p0, lim[r, c], -1)
        o = np.floor(p0 * (1 + pb.open_gap) + 0.5)
        opn[r, c] = o
        high[r, c] = min(np.floor(max(o, cents[r, c]) * (1 + pb.up_wick) + 0.5), l_up)
        low[r, c] = max(np.floor(min(o, cents[r, c]) * (1 - pb.down_wick) + 0.5), l_dn)
        base_rows = np.arange(max(1, pb.first_row - 20), pb.first_row)
        volume[r, c] = pb.vol_mult * volume[base_rows, c].mean()

    volume = np.floor(volume / 100 + 0.5) * 100
    opn = np.where(susp, pre, opn)
    high = np.where(susp, pre, high)
    low = np.where(susp, pre, low)
    volume = np.where(susp, 0.0, np.maximum(volume, 100.0))
    vwap = np.clip((opn + high + low + cents) / 4 * (1 + rng.normal(0, 0.002, (t1, n))), low, high)
    amount = np.round(volume * vwap / 100.0, 2)
    turn = np.round(volume / uni.liqa_share[None, :] * 100.0, 6)
    pct = np.round((cents / pre - 1.0) * 100.0, 6)
    status = np.where(susp, 0.0, 1.0)

    nan_if = ~listed | blank

    def panel(x: np.ndarray, scale: float = 1.0) -> np.ndarray:
        return np.where(nan_if, np.nan, x / scale)[1:]

    return Bars(
        open=panel(opn, 100),
        high=panel(high, 100),
        low=panel(low, 100),
        close=panel(cents, 100),
        preclose=panel(pre, 100),
        volume=panel(volume),
        amount=panel(amount),
        turn=panel(turn),
        pct_chg=panel(pct),
        tradestatus=np.where(listed, status, np.nan)[1:],
        listed=listed[1:],
        close_filled=np.where(listed, cents / 100, np.nan)[1:],
    )
