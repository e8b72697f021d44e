"""Measure the default data set: build time, disk size, cold and warm Market load.

Run: ``python3 benchmarks/bench_market.py [--universe N] [--seed N]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--universe", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["REALFIN_DATA_CACHE"] = str(Path(tmp) / "cache")
        from pytest_realfin.market import Market, build_dataset

        t0 = time.perf_counter()
        api = build_dataset(Path(tmp) / "data", seed=args.seed, universe=args.universe)
        build_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in api.rglob("*") if p.is_file())
        t0 = time.perf_counter()
        m = Market.load(api)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        Market.load(api)
        warm_s = time.perf_counter() - t0
    print(f"stocks          {len(m.codes)} x {len(m.dates)} sessions")
    print(f"build seconds   {build_s:.2f}   (target <= 60)")
    print(f"disk MB         {size / 1e6:.1f}   (target <= 250)")
    print(f"cold load s     {cold_s:.2f}   (target <= 5)")
    print(f"warm load s     {warm_s:.2f}   (target <= 1)")


if __name__ == "__main__":
    main()
