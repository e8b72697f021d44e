"""RealFin-Synth: the deterministic synthetic ChiNext market, as in-memory arrays.

``generate`` draws every component from its own seeded stream (so a plant changes only the stocks it
is placed on), in the order universe -> factors -> returns -> bars (+ plants) -> fundamentals ->
indices/ETFs -> intraday and money flow. The writer turns the result into the RealFin cache layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pytest_realfin.errors import ConfigError
from pytest_realfin.market.calendar import trading_days
from pytest_realfin.market.gen_aux import Aux, make_aux
from pytest_realfin.market.gen_bars import Bars, make_bars
from pytest_realfin.market.gen_fund import Fundamentals, make_fundamentals
from pytest_realfin.market.gen_intraday import Intraday, make_min30, make_moneyflow
from pytest_realfin.market.gen_plants import assign_plants, planted_rows
from pytest_realfin.market.gen_prices import make_factors, make_latent
from pytest_realfin.market.gen_universe import Universe, make_universe
from pytest_realfin.market.plants import Plant

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_UNIVERSE",
    "GENERATOR_VERSION",
    "Synth",
    "generate",
    "plant_assignments",
]

GENERATOR_VERSION = "1"
"""Bumped whenever the generator's output changes for a given seed (it keys the data cache)."""
DEFAULT_SEED = 20260331
"""Seed of the default data set."""
DEFAULT_UNIVERSE = 400
"""Number of stocks in the default data set."""


@dataclass(frozen=True)
class Synth:
    """A generated market: calendar, universe, daily bars, fundamentals and auxiliary series."""

    seed: int
    dates: pd.DatetimeIndex
    uni: Universe
    bars: Bars
    fund: Fundamentals
    aux: Aux
    min30: Intraday
    moneyflow: dict[str, np.ndarray]


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _resolve(plants: tuple[Plant, ...] | None) -> tuple[Plant, ...]:
    if plants is not None:
        return plants
    from pytest_realfin.market.plant_specs import PLANTS

    return PLANTS


def plant_assignments(
    seed: int = DEFAULT_SEED,
    universe: int = DEFAULT_UNIVERSE,
    plants: tuple[Plant, ...] | None = None,
) -> dict[str, tuple[str, ...]]:
    """Return plant name -> the codes it was placed on, without generating prices (tests only).

    Args:
        seed: the data set's seed.
        universe: the data set's universe size.
        plants: the plants passed to ``build_dataset`` (default: the registry).
    """
    dates = trading_days()
    uni = make_universe(_rng(seed, 1), dates, universe)
    assigned = assign_plants(seed, dates, uni, _resolve(plants))
    return {name: tuple(uni.codes[i] for i in cols) for name, cols in assigned.items()}


def generate(
    seed: int = DEFAULT_SEED,
    universe: int = DEFAULT_UNIVERSE,
    plants: tuple[Plant, ...] | None = None,
) -> Synth:
    """Generate the whole market in memory (about a second per 100 stocks)."""
    if universe < 10:
        msg = f"generate: universe={universe!r} is too small; use at least 10 stocks (--universe)"
        raise ConfigError(msg)
    dates = trading_days()
    plants = _resolve(plants)
    uni = make_universe(_rng(seed, 1), dates, universe)
    assigned = assign_plants(seed, dates, uni, plants)
    factors = make_factors(_rng(seed, 2), len(dates) + 1)
    latent = make_latent(_rng(seed, 3), dates, uni, factors)
    bars = make_bars(_rng(seed, 4), uni, latent, planted_rows(dates, plants, assigned))
    fund = make_fundamentals(_rng(seed, 5), dates, uni, bars)
    aux = make_aux(_rng(seed, 6), dates, uni, bars, factors)
    min30 = make_min30(_rng(seed, 7), dates, bars)
    flow = make_moneyflow(_rng(seed, 8), bars, latent.sigma)
    return Synth(seed, dates, uni, bars, fund, aux, min30, flow)
