"""Paths and column sets of the RealFin cache layout, shared by the writer and the reader."""

from __future__ import annotations

__all__ = [
    "DAILY_COLUMNS",
    "DAILY_DIR",
    "ETF_CODES",
    "ETF_DIR",
    "INDEX_CODES",
    "INDEX_DIR",
    "MIN30_DIR",
    "etf_file",
]

DAILY_DIR = "baostock/daily_qfq_20200102_20260331"
INDEX_DIR = "baostock/index_daily_20200102_20260331"
MIN30_DIR = "baostock/min30_qfq_20240102_20241231"
ETF_DIR = "tencent"
DAILY_COLUMNS = (
    "date",
    "code",
    "open",
    "high",
    "low",
    "close",
    "preclose",
    "volume",
    "amount",
    "adjustflag",
    "turn",
    "tradestatus",
    "pctChg",
    "peTTM",
    "psTTM",
    "pcfNcfTTM",
    "pbMRQ",
    "isST",
)
"""Columns of a daily stock file, in file order."""
INDEX_CODES = ("sh.000001", "sz.399001", "sz.399006", "sh.000300")
ETF_CODES = ("sz159915", "sz159929", "sz159813", "sz159642", "sh511010")


def etf_file(code: str) -> str:
    """File name of an ETF's Tencent daily file, e.g. ``sz159915_day_qfq_<range>.json``."""
    return f"{code}_day_qfq_20200102_20260331.json"
