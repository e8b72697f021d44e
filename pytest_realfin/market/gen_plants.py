"""Assigning plants to stocks and writing their bars into the close panel (see :mod:`.plants`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pytest_realfin.errors import ConfigError
from pytest_realfin.market.gen_universe import CATL_CODE, Universe
from pytest_realfin.market.plants import Plant

__all__ = ["PlantedBar", "assign_plants", "planted_rows"]


@dataclass(frozen=True)
class PlantedBar:
    """A plant bar resolved to a panel position (row = session index + 1)."""

    row: int
    col: int
    ret: float
    open_gap: float
    up_wick: float
    down_wick: float
    vol_mult: float
    first_row: int
    plant: str
    suspend: bool = False
    blank: bool = False


def _window(plant: Plant, dates: pd.DatetimeIndex) -> tuple[int, int]:
    end = pd.Timestamp(plant.end)
    e = int(dates.searchsorted(end))
    if e >= len(dates) or dates[e] != end:
        msg = (
            f"plant {plant.name!r} ({plant.task_id}): end={plant.end} is not an XSHG session in "
            f"{dates[0].date()}..{dates[-1].date()}; pick a trading day"
        )
        raise ConfigError(msg)
    start = e - len(plant.bars) + 1
    if start < 260:
        msg = (
            f"plant {plant.name!r} ({plant.task_id}): its {len(plant.bars)} bars start before "
            f"{dates[260].date()}; plants need a year of history before them"
        )
        raise ConfigError(msg)
    return start, e


def assign_plants(
    seed: int, dates: pd.DatetimeIndex, uni: Universe, plants: tuple[Plant, ...]
) -> dict[str, tuple[int, ...]]:
    """Choose ``count`` distinct ordinary stocks for each plant (column indices), deterministically.

    Eligible: listed 250+ sessions before the plant, not delisted within 30 sessions after it, not
    ST in the 60 sessions before through 10 after, not suspended in the 30 sessions before through
    10 after, never sz.300750, and not already carrying another plant.

    Raises:
        ConfigError: duplicate plant names, a bad end date, or too few eligible stocks.
    """
    names = [p.name for p in plants]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        msg = f"plant registry: duplicate plant names {dup}; give every plant a unique name"
        raise ConfigError(msg)
    t_len, n = uni.st.shape
    rng = np.random.default_rng([seed, 7919])
    used = np.zeros(n, dtype=bool)
    used[uni.codes.index(CATL_CODE)] = True
    st_cum = np.concatenate([np.zeros((1, n), dtype=np.int64), np.cumsum(uni.st, axis=0)])
    su_cum = np.concatenate([np.zeros((1, n), dtype=np.int64), np.cumsum(uni.suspended, axis=0)])
    out: dict[str, tuple[int, ...]] = {}
    for p in sorted(plants, key=lambda q: (q.task_id, q.name)):
        start, e = _window(p, dates)
        a, b = max(0, start - 60), min(t_len, e + 11)
        c = max(0, start - 30)
        ok = (
            ~used
            & (uni.ipo <= start - 250)
            & (uni.out > min(t_len - 1, e + 30))
            & (st_cum[b] - st_cum[a] == 0)
            & (su_cum[b] - su_cum[c] == 0)
        )
        pool = np.flatnonzero(ok)
        if pool.size < p.count:
            msg = (
                f"plant {p.name!r} ({p.task_id}): needs {p.count} eligible stocks, "
                f"found {pool.size} in a universe of {n}; build with a larger --universe "
                "or lower the plant's count"
            )
            raise ConfigError(msg)
        chosen = np.sort(rng.choice(pool, size=p.count, replace=False))
        used[chosen] = True
        out[p.name] = tuple(int(i) for i in chosen)
    return out


def planted_rows(
    dates: pd.DatetimeIndex, plants: tuple[Plant, ...], assigned: dict[str, tuple[int, ...]]
) -> list[PlantedBar]:
    """Resolve every plant bar to its (row, column), oldest first per stock."""
    bars: list[PlantedBar] = []
    for p in plants:
        start, _ = _window(p, dates)
        for col in assigned[p.name]:
            for k, bar in enumerate(p.bars):
                bars.append(
                    PlantedBar(
                        row=start + k + 1,
                        col=col,
                        ret=bar.ret,
                        open_gap=bar.open_gap,
                        up_wick=bar.up_wick,
                        down_wick=bar.down_wick,
                        vol_mult=bar.vol_mult,
                        first_row=start + 1,
                        plant=p.name,
                        suspend=bar.suspend,
                        blank=bar.blank,
                    )
                )
    bars.sort(key=lambda b: (b.col, b.row))
    return bars
