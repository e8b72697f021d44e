"""``default_dataset`` under a real race: three processes start on one empty cache together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pytest_realfin.errors import ConfigError
from pytest_realfin.market import DEFAULT_SEED, plant_assignments
from pytest_realfin.market.cache import dataset_key

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
