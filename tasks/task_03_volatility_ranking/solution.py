"""Reference solution of task_03_volatility_ranking: a standalone pandas script, run with cwd = the workspace.

It reads api_cache/ like an agent would and writes volatility_top5.txt. It shares no code with the verifier.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

WINDOW = [
    "2024-05-20",
    "2024-05-21",
    "2024-05-22",
    "2024-05-23",
    "2024-05-24",
    "2024-05-27",
    "2024-05-28",
    "2024-05-29",
    "2024-05-30",
    "2024-05-31",
]


def daily_dir() -> Path:
    found = sorted(Path("api_cache/baostock").glob("daily_qfq_*"))
    if not found:
        raise SystemExit("api_cache/baostock/daily_qfq_* not found; run from the workspace root")
    return found[-1]


def main() -> None:
    rows = []
    for path in sorted(daily_dir().glob("*.csv")):
        df = pd.read_csv(path, dtype={"code": str, "date": str})
        df["close"] = pd.to_numeric(df["close"], errors="coerce")
        df["tradestatus"] = pd.to_numeric(df["tradestatus"], errors="coerce")
        df = df[(df["tradestatus"] == 1) & df["close"].notna() & df["date"].isin(WINDOW)]
        if sorted(df["date"]) != WINDOW:
            continue
        close = df["close"]
        rows.append((path.stem.split(".")[-1], close.std(ddof=1) / close.mean() * 100.0))
    ranked = pd.DataFrame(rows, columns=["code", "cv"]).sort_values(
        ["cv", "code"], ascending=[False, True]
    )
    top = ranked.head(5)
    lines = ["code,volatility_pct"] + [f"{c},{v:.2f}" for c, v in zip(top["code"], top["cv"])]
    Path("volatility_top5.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
