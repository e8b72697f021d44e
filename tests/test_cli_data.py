"""``realfin data build --out DIR --universe N`` as a user runs it: a separate process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

from pytest_realfin.market import DEFAULT_SEED, DEFAULT_UNIVERSE, Market
from pytest_realfin.market.cache import dataset_key
from pytest_realfin.market.layout import DAILY_DIR
from tests.test_market_cache import fake_array, fake_dataset, smallest_universe, snapshot


def _realfin(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REALFIN_DATA_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "pytest_realfin.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _fingerprint_of_files(api: Path) -> str:
    """The writer's fingerprint recomputed from the bytes on disk (every file but DATASET.json)."""
    h = hashlib.sha256()
    files = sorted(p for p in api.rglob("*") if p.is_file() and p.name != "DATASET.json")
    for p in sorted(files, key=lambda q: str(q.relative_to(api))):
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        h.update(f"{p.relative_to(api)}\0{digest}\n".encode())
    return h.hexdigest()


def test_data_build_writes_the_folder_and_prints_its_fingerprint(tmp_path: Path) -> None:
    universe = smallest_universe()
    out, cache = tmp_path / "out", tmp_path / "cache"
    done = _realfin("data", "build", "--out", str(out), "--universe", str(universe), cache=cache)
    assert done.returncode == 0, done.stderr
    api = out / "api_cache"
    assert f"built {api} in " in done.stdout
    printed = [
        line.split()[1] for line in done.stdout.splitlines() if line.startswith("fingerprint")
    ]
    assert len(printed) == 1, done.stdout

    meta = json.loads((api / "DATASET.json").read_text())
    assert (meta["seed"], meta["universe"]) == (DEFAULT_SEED, universe)
    assert len(list((api / DAILY_DIR).glob("*.csv"))) == universe
    market = Market.load(api, use_cache=False)
    assert len(market.codes) == universe
    assert market.missing == ()
    assert printed[0] == market.fingerprint == _fingerprint_of_files(api)
    assert f"stocks      {universe} over {len(market.dates)} sessions" in done.stdout
    # --out writes there only: nothing was built in the data cache.
    assert not cache.exists() or sorted(p.name for p in cache.iterdir()) == ["arrays"]


def test_data_build_too_small_for_the_plants_is_a_one_line_error(tmp_path: Path) -> None:
    universe = smallest_universe() - 1
    assert universe >= 10
    done = _realfin(
        "data", "build", "--out", str(tmp_path), "--universe", str(universe), cache=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.startswith("realfin: error: plant ")
    assert "--universe" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "api_cache" / "DATASET.json").exists()


def test_data_build_below_the_minimum_universe_is_a_one_line_error(tmp_path: Path) -> None:
    done = _realfin("data", "build", "--out", str(tmp_path), "--universe", "5", cache=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "realfin: error: generate: universe=5 is too small; use at least 10 stocks (--universe)"
    )
    assert "Traceback" not in done.stderr


def _removed(stdout: str, verb: str) -> dict[str, int]:
    """``{path: bytes}`` of the lines ``<verb> PATH  (N bytes)``."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith(verb):
            path, _, size = line[len(verb) :].strip().rpartition("  (")
            out[path] = int(size.removesuffix(" bytes)").replace(",", ""))
    return out


def test_data_prune_lists_then_removes_all_but_the_default_set(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    current = dataset_key(DEFAULT_SEED, DEFAULT_UNIVERSE)
    stale, busy = "realfin-synth-v0-s1-u30-pold", "realfin-synth-v0-s1-u30-pbusy"
    fake_dataset(cache, current)
    stale_bytes = fake_dataset(cache, stale, payload=4321)
    fake_dataset(cache, busy)
    old_npz = fake_array(cache, "old.npz", 999)

    before = snapshot(cache)
    dry = _realfin("data", "prune", "--dry-run", cache=cache)
    assert dry.returncode == 0, dry.stderr
    assert snapshot(cache) == before
    expected = {
        str(cache / stale): stale_bytes,
        str(cache / f"{stale}.lock"): 0,
        str(cache / busy): 1000 + len(f'{{"fingerprint": "{busy}"}}'),
        str(cache / f"{busy}.lock"): 0,
        str(old_npz): 999,
    }
    assert _removed(dry.stdout, "would remove") == expected
    assert f"would free {sum(expected.values()):,} bytes" in dry.stdout

    with FileLock(str(cache / f"{busy}.lock")):
        done = _realfin("data", "prune", cache=cache)
    assert done.returncode == 0, done.stderr
    del expected[str(cache / busy)], expected[str(cache / f"{busy}.lock")]
    assert _removed(done.stdout, "removed") == expected
    assert f"skipped      {cache / busy}: another process holds its lock" in done.stdout
    assert f"freed {sum(expected.values()):,} bytes" in done.stdout
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        ["arrays", current, f"{current}.lock", busy, f"{busy}.lock"]
    )

    everything = _realfin("data", "prune", "--all", cache=cache)
    assert everything.returncode == 0, everything.stderr
    assert set(_removed(everything.stdout, "removed")) == {
        str(cache / n) for n in [current, f"{current}.lock", busy, f"{busy}.lock", "arrays"]
    }
    assert list(cache.iterdir()) == []
