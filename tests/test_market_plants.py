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
SUSP_BARS = (
    PlantBar(0.03, vol_mult=1.5),
    PlantBar.suspended(),
    PlantBar(-0.01, open_gap=0.005),
    PlantBar.suspended(blank=True),
    PlantBar(0.02, open_gap=-0.004, vol_mult=2.0),
)
SUSP = Plant("task_demo", "demo_suspended", "hit", END, SUSP_BARS)
PLANTS = (HIT, DECOY, SUSP)
SEED, N = 7, 24
DAILY = "baostock/daily_qfq_20200102_20260331"


@pytest.fixture(scope="module")
def planted_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("planted"), seed=SEED, universe=N, plants=PLANTS)


@pytest.fixture(scope="module")
def planted(planted_cache: Path) -> Market:
    return Market.load(planted_cache, use_cache=False)


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
    end = int(plain.dates.searchsorted(np.datetime64(END)))
    first = end + 1 - max(len(p.bars) for p in PLANTS)
    for i in touched:
        assert np.array_equal(a[:first, i], b[:first, i], equal_nan=True)
        ratio = b[end + 1 :, i] / a[end + 1 :, i]
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


def _csv_rows(api_cache: Path) -> dict[str, list[list[str]]]:
    out = {}
    for path in sorted((api_cache / DAILY).glob("sz.3*.csv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        out[path.stem] = [line.split(",") for line in lines[1:]]
    return out


def test_planted_suspensions_are_written_like_ordinary_ones(planted_cache: Path) -> None:
    """Field by field: tradestatus 0, volume/amount/turn/pctChg 0, OHLC = preclose = the last
    close; the blank kind leaves the same fields empty as the generator's own blank suspensions."""
    header = (planted_cache / DAILY / "sz.300750.csv").read_text(encoding="utf-8").splitlines()[0]
    col = {name: k for k, name in enumerate(header.split(","))}
    rows = _csv_rows(planted_cache)
    (code,) = plant_assignments(SEED, N, PLANTS)["demo_suspended"]
    mine = rows[code]
    e = next(i for i, r in enumerate(mine) if r[col["date"]] == END.isoformat())
    run = mine[e - 4 : e + 1]
    carried, blank = run[1], run[3]

    def fields(r: list[str], *names: str) -> list[str]:
        return [r[col[n]] for n in names]

    before = run[0][col["close"]]
    assert fields(carried, "open", "high", "low", "close", "preclose") == [before] * 5
    assert fields(carried, "volume", "amount", "turn", "tradestatus", "pctChg") == [
        "0",
        "0.00",
        "0.000000",
        "0",
        "0.000000",
    ]
    empty = [k for k, v in enumerate(blank) if v == ""]
    assert blank[col["tradestatus"]] == "0"
    assert {header.split(",")[k] for k in empty} >= {"open", "close", "volume", "pctChg"}
    # The ordinary suspensions of the other stocks: same shapes (carried prices or the same blanks).
    others = [r for c, rs in rows.items() if c != code for r in rs if r[col["tradestatus"]] == "0"]
    ordinary_blank = {tuple(k for k, v in enumerate(r) if v == "") for r in others}
    assert tuple(empty) in ordinary_blank
    carried_rows = [r for r in others if r[col["open"]] != ""]
    assert carried_rows, "the seed must have ordinary suspensions with the price carried"
    for r in carried_rows:
        assert len({*fields(r, "open", "high", "low", "close", "preclose")}) == 1
        assert fields(r, "volume", "amount", "turn", "pctChg") == fields(
            carried, "volume", "amount", "turn", "pctChg"
        )


def test_the_series_continues_over_planted_suspensions(planted: Market) -> None:
    (code,) = plant_assignments(SEED, N, PLANTS)["demo_suspended"]
    e = int(planted.dates.searchsorted(np.datetime64(END)))
    rows = np.arange(e - 4, e + 1)
    close = planted.panel("close")[code].to_numpy()
    opn = planted.panel("open")[code].to_numpy()
    pre = planted.panel("preclose")[code].to_numpy()
    traded = planted.traded[code].to_numpy()
    assert traded[rows].tolist() == [True, False, True, False, True]
    assert np.isnan(close[rows[3]])
    last = close[rows[0] - 1]
    for r, bar in zip(rows, SUSP_BARS, strict=True):
        if bar.blank:
            continue  # no close written; the next bar's preclose is the close carried through it
        assert pre[r] == last
        assert abs(close[r] - round(last * (1 + bar.ret), 2)) <= 0.01
        assert abs(opn[r] - round(last * (1 + bar.open_gap), 2)) <= 0.01
        last = close[r]
    assert traded[rows[-1] + 1 :][:5].all()  # the stock trades again after the plant
    assert pre[rows[-1] + 1] == close[rows[-1]]


def test_planted_suspension_changes_the_digest() -> None:
    bars = (*SUSP_BARS[:1], PlantBar(0.0), *SUSP_BARS[2:])
    plain = Plant("task_demo", "demo_suspended", "hit", END, bars)
    assert plant_digest((HIT, DECOY, plain)) != plant_digest(PLANTS)


@given(st.floats(-0.1, 0.1), st.floats(-0.1, 0.1), st.booleans())
def test_suspension_bar_validation(ret: float, gap: float, blank: bool) -> None:
    if ret != 0 or gap != 0:
        with pytest.raises(ValueError, match="suspension"):
            PlantBar(ret, open_gap=gap, suspend=True, blank=blank)
    else:
        assert PlantBar(ret, open_gap=gap, suspend=True, blank=blank) == PlantBar.suspended(blank)
    with pytest.raises(ValueError, match="blank=True without suspend"):
        PlantBar(ret, open_gap=gap, blank=True)


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
