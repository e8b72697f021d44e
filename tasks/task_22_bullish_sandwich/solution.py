"""Reference solution of task_22_bullish_sandwich: a standalone pandas script, run with cwd = the workspace.

It reads api_cache/ like an agent would and writes bullish_sandwich.txt. It shares no code with the verifier.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

CUTOFF = "2024-04-08"
WINDOW_START = "2024-03-08"
NO_RESULT = "无符合条件的股票"
FIELDS = ["open", "high", "low", "close", "volume", "pctChg"]


def daily_dir() -> Path:
    found = sorted(Path("api_cache/baostock").glob("daily_qfq_*"))
    if not found:
        raise SystemExit("api_cache/baostock/daily_qfq_* not found; run from the workspace root")
    return found[-1]


def latest_pattern(df: pd.DataFrame) -> tuple[str, float, float] | None:
    o, c, v, pct = df["open"], df["close"], df["volume"], df["pctChg"]
    # Rounded so that float noise cannot break an exact tie (closes have 2 decimals).
    ma5, ma10, ma20 = (c.rolling(n).mean().round(10) for n in (5, 10, 20))
    # Row i is D3; D2 and D1 are the two rows before it.
    o1, c1, v1, p1 = o.shift(2), c.shift(2), v.shift(2), pct.shift(2)
    o2, c2, v2, p2 = o.shift(1), c.shift(1), v.shift(1), pct.shift(1)
    d1_date = df["date"].shift(2)
    ok = (
        (c1 > o1)
        & (p1 > 2)
        & (c2 < o2)
        & (p2 > -1)
        & (p2 < 0)
        & (c > o)
        & (pct > 2)
        & (c > o2)
        & (o < c2)
        & (v2 > v1)
        & (v > v2)
        & (ma5 > ma10)
        & (ma10 > ma20)
        & (d1_date >= WINDOW_START)
    )
    if not ok.any():
        return None
    i = ok[ok].index[-1]
    return d1_date[i], v2[i] / v1[i], v[i] / v2[i]


def main() -> None:
    lines = []
    for path in sorted(daily_dir().glob("*.csv")):
        df = pd.read_csv(path, dtype={"code": str, "date": str})
        for col in [*FIELDS, "tradestatus"]:
            df[col] = pd.to_numeric(df[col], errors="coerce")
        keep = (df["tradestatus"] == 1) & df[FIELDS].notna().all(axis=1) & (df["date"] <= CUTOFF)
        df = df.loc[keep].sort_values("date").reset_index(drop=True)
        found = latest_pattern(df)
        if found:
            day1, r21, r32 = found
            lines.append(f"{path.stem.split('.')[-1]},{day1},{r21:.2f},{r32:.2f}")
    lines.sort()
    text = "\n".join(["code,day1_date,vol2_vol1,vol3_vol2", *lines]) if lines else NO_RESULT
    Path("bullish_sandwich.txt").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
