"""Reference solution of task_01_macd_rsi_filter: a standalone pandas script, run with cwd = the workspace.

It reads api_cache/ like an agent would and writes result.txt. It deliberately shares no code with the
verifier (pytest_realfin.indicators): two independent implementations that agree check each other.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CUTOFF = "2026-03-31"
WINDOW_START = "2026-03-04"
NO_RESULT = "无符合条件的股票"
OHLCV = ["open", "high", "low", "close", "volume"]


def daily_dir() -> Path:
    found = sorted(Path("api_cache/baostock").glob("daily_qfq_*"))
    if not found:
        raise SystemExit("api_cache/baostock/daily_qfq_* not found; run from the workspace root")
    return found[-1]


def load(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"code": str, "date": str})
    for col in [*OHLCV, "tradestatus"]:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    keep = (df["tradestatus"] == 1) & df[OHLCV].notna().all(axis=1) & (df["date"] <= CUTOFF)
    return df.loc[keep].sort_values("date").reset_index(drop=True)


def wilder_rsi(close: pd.Series, n: int = 14) -> pd.Series:
    change = close.diff()
    gain = change.clip(lower=0.0)
    loss = (-change).clip(lower=0.0)
    rsi = pd.Series(np.nan, index=close.index)
    if len(close) <= n:
        return rsi
    out = []
    for series in (gain, loss):
        seeded = series.iloc[n:].copy()
        seeded.iloc[0] = series.iloc[1 : n + 1].mean()
        out.append(seeded.ewm(alpha=1.0 / n, adjust=False).mean())
    avg_gain, avg_loss = out
    with np.errstate(divide="ignore", invalid="ignore"):
        values = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    values[avg_loss == 0] = 100.0
    values[(avg_loss == 0) & (avg_gain == 0)] = 50.0
    rsi.iloc[n:] = values.to_numpy()
    return rsi


def crosses_above(a: pd.Series, b: pd.Series) -> pd.Series:
    prev_a, prev_b = a.shift(1), b.shift(1)
    return (prev_a <= prev_b) & (a > b)


def qualifies(df: pd.DataFrame) -> bool:
    close, volume = df["close"], df["volume"]
    in_window = (df["date"] >= WINDOW_START) & (df["date"] <= CUTOFF)
    if not in_window.any():
        return False
    diff = close.ewm(span=12, adjust=False).mean() - close.ewm(span=26, adjust=False).mean()
    dea = diff.ewm(span=9, adjust=False).mean()
    if not (crosses_above(diff, dea) & in_window).any():
        return False
    rsi = wilder_rsi(close)
    # Rounded so that float noise cannot split an exact tie MA5 = MA8 (closes have 2 decimals).
    ma5 = close.rolling(5).mean().round(10)
    ma8 = close.rolling(8).mean().round(10)
    burst = 5 * volume > 2 * volume.shift(1).rolling(5).sum()  # exact on integer volumes
    ma_cross = crosses_above(ma5, ma8)
    state = "idle"
    for i in np.flatnonzero(in_window.to_numpy()):
        r = rsi.iloc[i]
        if r < 30:
            state = "oversold"
        elif state == "oversold" and r > 50:
            state = "idle"
            if burst.iloc[i] and ma_cross.iloc[i]:
                return True
    return False


def main() -> None:
    hits = []
    for path in sorted(daily_dir().glob("*.csv")):
        df = load(path)
        if len(df) and qualifies(df):
            hits.append(path.stem.split(".")[-1])
    hits = sorted(hits)[:10]
    text = "\n".join(hits) if hits else NO_RESULT
    Path("result.txt").write_text(text + "\n", encoding="utf-8")
    print(f"{len(hits)} codes written to result.txt")


if __name__ == "__main__":
    main()
