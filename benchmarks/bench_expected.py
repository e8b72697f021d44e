"""Time each pilot verifier's ``expected(market)`` on the default data set (target: <= 1 s each).

Usage: ``python benchmarks/bench_expected.py [--repeat 3]``. Prints, per task, the first call and
the best of the repeats in seconds, and the size of the answer.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from pytest_realfin.market import Market, default_dataset

ROOT = Path(__file__).resolve().parents[1]
PILOTS = ("task_01_macd_rsi_filter", "task_03_volatility_ranking", "task_22_bullish_sandwich")
TARGET_S = 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    t0 = time.perf_counter()
    market = Market.load(default_dataset())
    print(
        f"market: {len(market.codes)} stocks x {len(market.dates)} sessions, "
        f"loaded in {time.perf_counter() - t0:.2f} s"
    )
    worst = 0.0
    for task_id in PILOTS:
        spec = importlib.util.spec_from_file_location(task_id, ROOT / "verifiers" / f"{task_id}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        times = []
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            answer = module.expected(market)
            times.append(time.perf_counter() - t)
        worst = max(worst, min(times))
        print(
            f"{task_id:32s} first {times[0]:.3f} s  best {min(times):.3f} s  "
            f"rows {len(answer.rows)} (qualifying {answer.qualifying})"
        )
    verdict = "OK" if worst <= TARGET_S else "SLOW"
    print(f"slowest best-of-{args.repeat}: {worst:.3f} s vs target {TARGET_S:.1f} s: {verdict}")


if __name__ == "__main__":
    main()
