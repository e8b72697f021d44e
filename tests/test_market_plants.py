"""The planting mechanism: planted bars appear exactly, decoys differ in one bar."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_realfin.errors import ConfigError
from pytest_realfin.market import Market, Plant, PlantBar, build_dataset, plant_assignments
from pytest_realfin.market.generator import generate
from pytest_realfin.market.plants import plant_digest

END = dt.date(2024, 4, 8)
HIT_BARS = (
    PlantBar(0.035, open_gap=-0.005, vol_mult=1.5),
    PlantBar(-0.006, open_gap=0.01, vol_mult=1.8),
    PlantBar(0.042, open_gap=-0.008, up_wick=0.0, vol_mult=2.6),
)
HIT = Plant("task_demo", "demo_hit", "hit", END, HIT_BARS, count=2)
DECOY = Plant(
    "task_demo",
    "demo_decoy",
    "decoy",
    END,
    (HIT_BARS[0], PlantBar(-0.02, open_gap=0.01, vol_mult=1.8), HIT_BARS[2]),
    note="day 2 falls more than 1 %",
)
PLANTS = (HIT, DECOY)
SEED, N = 7, 24


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Market:
    out = tmp_path_factory.mktemp("planted")
    return Market.load(build_dataset(out, seed=SEED, universe=N, plants=PLANTS), use_cache=False)


def _window(m: Market) -> np.ndarray:
    e = int(m.dates.searchsorted(np.datetime64(END)))
    return np.arange(e - 2, e + 1)


def test_planted_bars_appear_exactly(planted: Market) -> None:
    where = plant_assignments(SEED, N, PLANTS)
    assert len(where["demo_hit"]) == 2
    assert len(where["demo_decoy"]) == 1
    assert not set(where["demo_hit"]) & set(where["demo_decoy"])
    rows = _window(planted)
    for name, bars in (("demo_hit", HIT.bars), ("demo_decoy", DECOY.bars)):
        for code in where[name]:
            assert code != "sz.300750"
            pre = planted.panel("preclose")[code].to_numpy()
            vol = planted.panel("volume")[code].to_numpy()
            base = vol[rows[0] - 20 : rows[0]].mean()
            for r, bar in zip(rows, bars, strict=True):
                close = planted.panel("close")[code].iloc[r]
                opn = planted.panel("open")[code].iloc[r]
                assert abs(close - round(pre[r] * (1 + bar.ret), 2)) <= 0.01
                assert abs(opn - round(pre[r] * (1 + bar.open_gap), 2)) <= 0.01
                hi = planted.panel("high")[code].iloc[r]
                assert abs(hi - round(max(opn, close) * (1 + bar.up_wick), 2)) <= 0.01
                assert abs(vol[r] - bar.vol_mult * base) <= 100
                assert planted.traded[code].iloc[r]


def test_decoy_differs_in_exactly_one_bar(planted: Market) -> None:
    where = plant_assignments(SEED, N, PLANTS)
    rows = _window(planted)
    r = (planted.panel("close") / planted.panel("preclose") - 1).iloc[rows]
    hit, decoy = r[where["demo_hit"][0]].to_numpy(), r[where["demo_decoy"][0]].to_numpy()
    differs = np.abs(hit - decoy) > 0.002
    assert differs.tolist() == [False, True, False]


def test_plants_leave_everything_else_alone() -> None:
    plain, with_plants = generate(SEED, N, ()), generate(SEED, N, PLANTS)
    where = plant_assignments(SEED, N, PLANTS)
    touched = {with_plants.uni.codes.index(c) for cs in where.values() for c in cs}
    a, b = plain.bars.close, with_plants.bars.close
    for i in range(N):
        if i not in touched:
            assert np.array_equal(a[:, i], b[:, i], equal_nan=True)
    first = int(plain.dates.searchsorted(np.datetime64(END))) - 2
    for i in touched:
        assert np.array_equal(a[:first, i], b[:first, i], equal_nan=True)
        ratio = b[first + 3 :, i] / a[first + 3 :, i]
        ratio = ratio[np.isfinite(ratio)]
        assert np.abs(ratio / ratio[0] - 1).max() < 0.02  # later closes scale, up to rounding


def test_plant_outside_the_limit_is_refused() -> None:
    bad = Plant("task_demo", "too_far", "hit", END, (PlantBar(0.25),))
    with pytest.raises(ConfigError, match="too_far"):
        generate(SEED, N, (bad,))


def test_plant_on_a_holiday_is_refused() -> None:
    bad = Plant("task_demo", "holiday", "hit", dt.date(2024, 10, 1), (PlantBar(0.01),))
    with pytest.raises(ConfigError, match="not an XSHG session"):
        plant_assignments(SEED, N, (bad,))


def test_too_few_eligible_stocks_is_refused() -> None:
    greedy = Plant("task_demo", "greedy", "hit", END, (PlantBar(0.01),), count=N)
    with pytest.raises(ConfigError, match="larger --universe"):
        plant_assignments(SEED, N, (greedy,))


@given(st.permutations(PLANTS))
def test_digest_ignores_order(order: list[Plant]) -> None:
    assert plant_digest(tuple(order)) == plant_digest(PLANTS)


@given(st.floats(-0.5, 0.5))
def test_plant_bar_validation(wick: float) -> None:
    if wick < 0:
        with pytest.raises(ValueError, match="wick"):
            PlantBar(0.01, up_wick=wick)
    else:
        assert PlantBar(0.01, up_wick=wick).up_wick == wick


def test_assignment_is_deterministic(tmp_path: Path) -> None:
    assert plant_assignments(SEED, N, PLANTS) == plant_assignments(SEED, N, PLANTS)
