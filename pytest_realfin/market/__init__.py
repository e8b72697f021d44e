"""RealFin-Synth and the RealFin cache layout: calendar, generator, writer, reader and plants."""

from __future__ import annotations

from pytest_realfin.market.cache import build_dataset, cache_root, default_dataset
from pytest_realfin.market.calendar import trading_days
from pytest_realfin.market.generator import (
    DEFAULT_SEED,
    DEFAULT_UNIVERSE,
    GENERATOR_VERSION,
    plant_assignments,
)
from pytest_realfin.market.plants import Plant, PlantBar
from pytest_realfin.market.reader import Market

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_UNIVERSE",
    "GENERATOR_VERSION",
    "Market",
    "Plant",
    "PlantBar",
    "build_dataset",
    "cache_root",
    "default_dataset",
    "plant_assignments",
    "trading_days",
]
