"""``default_dataset`` under a real race: three processes start on one empty cache together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_realfin.errors import ConfigError
from pytest_realfin.market import DEFAULT_SEED, Market, default_dataset, plant_assignments
from pytest_realfin.market.cache import dataset_key, prune
from pytest_realfin.market.reader import array_file

RACERS = 3
BUILD_DELAY_S = 0.5
"""Extra time inside the build, so the race window does not depend on how fast the machine is."""

# Each racer imports everything, says it is ready, waits for the common start signal, then calls
# default_dataset. The build is wrapped to log its start and end (and widened by BUILD_DELAY_S).
# Afterwards the racer checks every file of the folder it got against DATASET.json: a racer that
# saw a half-written folder would find a file missing, short or with another digest.
RACER = """
import hashlib, json, os, sys, time
from pathlib import Path
import pytest_realfin.market.cache as cache
from pytest_realfin.market import Market, default_dataset

work, universe, delay = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
real_build = cache.build_dataset

def logged_build(*args, **kwargs):
    with open(work / "builds.log", "a") as log:
        log.write(json.dumps({"pid": os.getpid(), "start": time.time()}) + "\\n")
    time.sleep(delay)
    out = real_build(*args, **kwargs)
    with open(work / "builds.log", "a") as log:
        log.write(json.dumps({"pid": os.getpid(), "end": time.time()}) + "\\n")
    return out

cache.build_dataset = logged_build
(work / f"ready-{os.getpid()}").touch()
while not (work / "go").exists():
    time.sleep(0.002)
called = time.time()
api = default_dataset(universe=universe)
returned = time.time()
meta = json.loads((api / "DATASET.json").read_text())
on_disk = sorted(str(p.relative_to(api)) for p in api.rglob("*") if p.is_file())
digests = {rel: hashlib.sha256((api / rel).read_bytes()).hexdigest() for rel in on_disk}
h = hashlib.sha256()
for rel in sorted(meta["files"]):
    h.update(f"{rel}\\0{digests.get(rel, 'absent')}\\n".encode())
print(json.dumps({
    "pid": os.getpid(),
    "api": str(api),
    "called": called,
    "returned": returned,
    "fingerprint": Market.load(api).fingerprint,
    "recomputed": h.hexdigest(),
    "extra_files": sorted(set(on_disk) - set(meta["files"]) - {"DATASET.json"}),
    "dataset_mtime_ns": (api / "DATASET.json").stat().st_mtime_ns,
}))
"""


def smallest_universe() -> int:
    """The smallest universe in which every registered plant finds its stocks."""
    for n in range(10, 400):
        try:
            plant_assignments(DEFAULT_SEED, n)
        except ConfigError:
            continue
        return n
    raise AssertionError("no universe below 400 holds the registered plants")  # pragma: no cover


def _wait_for(
    what: str, ready: Callable[[], bool], procs: list[subprocess.Popen[str]], limit: float
) -> None:
    deadline = time.monotonic() + limit
    while not ready():
        for p in procs:
            if p.poll() is not None:
                _, err = p.communicate()
                raise AssertionError(f"a racer exited early ({p.returncode}): {err}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_three_processes_build_the_default_dataset_once(tmp_path: Path) -> None:
    universe = smallest_universe()
    root = tmp_path / "cache"
    env = {**os.environ, "REALFIN_DATA_CACHE": str(root)}
    args = [str(tmp_path), str(universe), str(BUILD_DELAY_S)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(RACERS)
    ]
    try:
        _wait_for(
            "the racers to import",
            lambda: len(list(tmp_path.glob("ready-*"))) == RACERS,
            procs,
            60,
        )
        (tmp_path / "go").touch()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0] * RACERS, [err for _, err in outs]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]

    log = [json.loads(line) for line in (tmp_path / "builds.log").read_text().splitlines()]
    assert [sorted(e) for e in log] == [["pid", "start"], ["end", "pid"]], log
    assert log[0]["pid"] == log[1]["pid"]
    built_at = log[1]["end"]
    # The race was real: every racer asked for the data set before the one build had finished.
    assert all(r["called"] < built_at for r in reports), (reports, log)

    key = dataset_key(DEFAULT_SEED, universe)
    assert {r["api"] for r in reports} == {str(root / key / "api_cache")}
    assert len({r["fingerprint"] for r in reports}) == 1
    assert len({r["dataset_mtime_ns"] for r in reports}) == 1
    for r in reports:
        assert r["recomputed"] == r["fingerprint"], "a racer saw files that do not match"
        assert r["extra_files"] == []
    assert sorted(p.name for p in root.iterdir()) == sorted(["arrays", key, f"{key}.lock"])


# ------------------------------------------------------------------------------------------ prune
def fake_dataset(root: Path, key: str, payload: int = 1000) -> int:
    """A data-set folder in the cache layout (not a real market) and its lock; returns its bytes."""
    api = root / key / "api_cache"
    daily = api / "baostock" / "daily_qfq_2024"
    daily.mkdir(parents=True)
    (daily / "sz.300001.csv").write_bytes(b"d" * payload)
    (api / "DATASET.json").write_text(json.dumps({"fingerprint": key}))
    (root / f"{key}.lock").touch()
    return payload + len(json.dumps({"fingerprint": key}))


def fake_array(root: Path, name: str, payload: int = 300) -> Path:
    path = root / "arrays" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"a" * payload)
    return path


def snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.lstat().st_size for p in sorted(root.rglob("*"))}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv("REALFIN_DATA_CACHE", str(root))
    return root


def test_prune_removes_stale_sets_and_their_arrays_and_keeps_the_current(
    cache: Path, tmp_path: Path
) -> None:
    current, stale = "realfin-synth-v1-s1-u30-pcurrent", "realfin-synth-v1-s1-u30-pstale"
    fake_dataset(cache, current)
    stale_bytes = fake_dataset(cache, stale, payload=5000)
    build = cache / f"{stale}.tmp-abc123"
    build.mkdir()
    (build / "half.csv").write_bytes(b"h" * 70)
    kept_npz = array_file(cache / current / "api_cache")
    assert kept_npz is not None
    fake_array(cache, kept_npz.name)
    old_npz = fake_array(cache, f"{'0' * 40}.npz", 400)
    tmp_npz = fake_array(cache, f"{'1' * 40}.123.tmp.npz", 50)
    # A symlink inside a stale folder must go without its target (outside the cache) going.
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    (cache / stale / "link").symlink_to(outside)
    link_bytes = (cache / stale / "link").lstat().st_size
    (cache / "notes.txt").write_text("not ours")

    before = snapshot(cache)
    dry = prune({current}, dry_run=True)
    assert snapshot(cache) == before, "a dry run removed something"
    done = prune({current}, dry_run=False)

    expected = {
        cache / stale: stale_bytes + link_bytes,
        cache / f"{stale}.lock": 0,
        build: 70,
        old_npz: 400,
        tmp_npz: 50,
    }
    assert dict(done.removed) == expected
    assert dry.removed == done.removed
    assert done.freed == sum(expected.values())
    assert done.locked == ()
    assert done.foreign == (cache / "notes.txt",)
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        ["arrays", current, f"{current}.lock", "notes.txt"]
    )
    assert [p.name for p in (cache / "arrays").iterdir()] == [kept_npz.name]
    assert outside.read_text() == "precious"
    assert prune({current}, dry_run=False).removed == ()


def test_prune_skips_a_key_whose_lock_another_process_holds(cache: Path) -> None:
    busy, idle = "realfin-synth-v1-s1-u30-pbusy", "realfin-synth-v1-s1-u30-pidle"
    fake_dataset(cache, busy)
    fake_dataset(cache, idle)
    with FileLock(str(cache / f"{busy}.lock")):
        done = prune(set(), dry_run=False)
        assert done.locked == (cache / busy,)
        assert {p.name for p, _ in done.removed} == {idle, f"{idle}.lock"}
        assert (cache / busy / "api_cache" / "DATASET.json").exists()
    assert {p.name for p, _ in prune(set(), dry_run=False).removed} == {busy, f"{busy}.lock"}


def test_prune_all_removes_every_set_and_the_arrays_but_nothing_foreign(cache: Path) -> None:
    key = dataset_key(DEFAULT_SEED, 30)
    fake_dataset(cache, key)
    fake_array(cache, "x.npz")
    (cache / "mine").mkdir()
    done = prune(None, dry_run=False)
    assert {p.name for p, _ in done.removed} == {key, f"{key}.lock", "arrays"}
    assert [p.name for p in cache.iterdir()] == ["mine"]
    assert done.foreign == (cache / "mine",)


def test_prune_of_a_missing_cache_root_is_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REALFIN_DATA_CACHE", str(tmp_path / "never"))
    assert prune(None, dry_run=False).removed == ()
    assert not (tmp_path / "never").exists()


entry_kinds = st.sampled_from(["folder", "lock", "build"])
trees = st.dictionaries(
    st.sampled_from([f"realfin-synth-v1-s{i}-u30-pk" for i in range(6)]),
    st.sets(entry_kinds, min_size=1),
    max_size=6,
)


@settings(max_examples=30, deadline=None)
@given(
    tree=trees, keep=st.sets(st.sampled_from([f"realfin-synth-v1-s{i}-u30-pk" for i in range(8)]))
)
def test_prune_leaves_exactly_the_kept_keys(tree: dict[str, set[str]], keep: set[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        root = Path(tmp)
        mp.setenv("REALFIN_DATA_CACHE", str(root))
        for key, kinds in tree.items():
            if "folder" in kinds:
                (root / key).mkdir()
            if "lock" in kinds:
                (root / f"{key}.lock").touch()
            if "build" in kinds:
                (root / f"{key}.tmp-x1").mkdir()
        before = {p.name for p in root.iterdir()}
        done = prune(keep, dry_run=False)
        left = {p.name for p in root.iterdir()}
        assert left == {n for n in before if n.split(".")[0] in keep}
        assert {p.name for p, _ in done.removed} == before - left


def test_prune_keeps_the_arrays_market_load_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REALFIN_DATA_CACHE", str(tmp_path))
    universe = smallest_universe()
    api = default_dataset(universe=universe)
    Market.load(api)
    npz = list((tmp_path / "arrays").glob("*.npz"))
    assert len(npz) == 1
    stale = fake_array(tmp_path, f"{'f' * 40}.npz")
    done = prune({dataset_key(DEFAULT_SEED, universe)}, dry_run=False)
    assert [p for p, _ in done.removed] == [stale]
    assert [p.name for p in (tmp_path / "arrays").iterdir()] == [npz[0].name]
    # The next load reads the kept arrays instead of parsing again and rewriting them.
    mtime = npz[0].stat().st_mtime_ns
    Market.load(api)
    assert npz[0].stat().st_mtime_ns == mtime
