"""Planted situations: scripted runs of bars that tasks need to exist in the synthetic market.

A task whose answer would otherwise be empty (or trivially full) declares *plants*: a run of bars,
ending on a given session, that satisfies every condition of the task (role ``hit``) or all but one
(role ``decoy``). A bar may be a suspension day, written exactly like the generator's own. The
generator puts each plant on ``count`` ordinary stocks, chosen deterministically from the seed, and
rewrites those bars so the rest of the series stays continuous (later closes scale with the
planted run).

Plants are ordinary bars in ordinary files: nothing in the data marks them. Only the project's own
tests may ask where they went, through :func:`pytest_realfin.market.generator.plant_assignments`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Literal

__all__ = ["Plant", "PlantBar", "plant_digest"]


@dataclass(frozen=True)
class PlantBar:
    """One scripted daily bar, relative to the previous close.

    Attributes:
        ret: close / previous close - 1 (the bar's close-to-close return).
        open_gap: open / previous close - 1.
        up_wick: high = max(open, close) * (1 + up_wick), clipped to the limit-up price.
        down_wick: low = min(open, close) * (1 - down_wick), clipped to the limit-down price.
        vol_mult: volume = vol_mult x the stock's baseline (mean volume of the 20 traded sessions
            before the plant's first bar).
        suspend: a suspension day, written like the generator's own: ``tradestatus=0``, volume,
            amount, turn and pctChg 0, open = high = low = close = preclose = the previous close
            (so the series continues from it). Build it with :meth:`suspended`.
        blank: with ``suspend``, the other kind of ordinary suspension: every field but date,
            code, adjustflag, ``tradestatus=0`` and isST blank (valuations too).
    """

    ret: float
    open_gap: float = 0.0
    up_wick: float = 0.004
    down_wick: float = 0.004
    vol_mult: float = 1.0
    suspend: bool = False
    blank: bool = False

    @classmethod
    def suspended(cls, blank: bool = False) -> PlantBar:
        """A suspension day (``blank=True``: with blank OHLCV fields), price carried over."""
        return cls(ret=0.0, suspend=True, blank=blank)

    def __post_init__(self) -> None:
        if not (self.up_wick >= 0 and self.down_wick >= 0 and self.vol_mult > 0):
            msg = (
                f"PlantBar: up_wick={self.up_wick!r}, down_wick={self.down_wick!r}, "
                f"vol_mult={self.vol_mult!r}; expected wicks >= 0 and vol_mult > 0"
            )
            raise ValueError(msg)
        if self.blank and not self.suspend:
            msg = "PlantBar: blank=True without suspend=True; use PlantBar.suspended(blank=True)"
            raise ValueError(msg)
        if self.suspend and (self.ret != 0 or self.open_gap != 0):
            msg = (
                f"PlantBar: a suspension with ret={self.ret!r}, open_gap={self.open_gap!r}; "
                "a suspended day carries the previous close, use PlantBar.suspended()"
            )
            raise ValueError(msg)


@dataclass(frozen=True)
class Plant:
    """A scripted situation placed on ``count`` distinct ordinary stocks.

    Attributes:
        task_id: the task that needs it (e.g. ``task_22_bullish_sandwich``).
        name: unique name inside the registry (used by tests to find the assignment).
        role: ``hit`` satisfies every condition of the task; ``decoy`` violates exactly one.
        end: the session of the last bar; the bars occupy the last ``len(bars)`` sessions ending
        here. bars: the scripted bars, oldest first. count: how many distinct stocks get this plant.
        note: what the plant is for (which condition a decoy breaks), for people reading the
        registry.
    """

    task_id: str
    name: str
    role: Literal["hit", "decoy"]
    end: dt.date
    bars: tuple[PlantBar, ...]
    count: int = 1
    note: str = ""

    def __post_init__(self) -> None:
        if not self.bars or self.count < 1 or self.role not in ("hit", "decoy"):
            msg = (
                f"Plant {self.name!r}: bars={len(self.bars)}, count={self.count}, "
                f"role={self.role!r}; expected >= 1 bar, count >= 1 and role 'hit' or 'decoy'"
            )
            raise ValueError(msg)


def plant_digest(plants: tuple[Plant, ...]) -> str:
    """Return a sha256 hex digest of the plant specs (order-independent); keys the data cache."""
    h = hashlib.sha256()
    for p in sorted(plants, key=lambda q: (q.task_id, q.name)):
        h.update(repr(p).encode())
    return h.hexdigest()
