"""Auxiliary tables of a RealFin cache (universe, fundamentals, indices, ETFs, intraday, macro).

Each table is read on first use and kept; a missing file raises ``MissingDataError`` naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pytest_realfin.errors import DataError, MissingDataError
from pytest_realfin.market.csvio import STRING_COLUMNS, read_columns

__all__ = ["AuxReader", "dataset_paths"]

_PATHS = {
    "index": "baostock/index_daily_*/{code}.csv",
    "universe": "baostock/universe_*_sz30.csv",
    "industry": "baostock/stock_industry_*.csv",
    "profit": "baostock/profit_quarterly.csv",
    "dividend": "baostock/dividend.csv",
    "constituents": "baostock/index_constituents/{code}.csv",
    "min30": "baostock/min30_qfq_*",
    "moneyflow": "moneyflow/daily_moneyflow.csv",
    "etf": "tencent/{code}_day_qfq_*.json",
    "holdings": "tencent/holdings/{code}.csv",
    "cgb_yield": "macro/cgb_yield_10y.csv",
    "lc_futures": "futures/gfex_lc_main_daily.csv",
}
_DATE_COLUMNS = STRING_COLUMNS - {
    "time",
    "code",
    "code_name",
    "industry",
    "industryClassification",
    "sector",
}


def dataset_paths() -> dict[str, str]:
    """Dataset kind -> glob pattern relative to ``api_cache`` (``{code}`` filled in per series)."""
    return dict(_PATHS)


def _frame(cols: dict[str, np.ndarray]) -> pd.DataFrame:
    df = pd.DataFrame(cols)
    for c in df.columns:
        if c in _DATE_COLUMNS:
            df[c] = pd.to_datetime(df[c].replace("", None), format="%Y-%m-%d")
    return df


class AuxReader:
    """Lazy access to the auxiliary datasets below ``root``."""

    def __init__(self, root: Path, meta: dict[str, Any]) -> None:
        self.root = root
        self.meta = meta
        self._tables: dict[str, pd.DataFrame] = {}
        self._rows: dict[str, int] = {
            k: int(v["rows"])
            for k, v in (meta.get("files") or {}).items()
            if isinstance(v, dict) and "rows" in v
        }

    def _find(self, need: str) -> Path | None:
        kind, _, code = need.partition(":")
        pattern = _PATHS[kind].format(code=code)
        hits = sorted(self.root.glob(pattern))
        return hits[0] if hits else None

    def _path(self, need: str) -> Path:
        path = self._find(need)
        if path is None:
            kind, _, code = need.partition(":")
            msg = f"{self.root}: missing file {_PATHS[kind].format(code=code)} ({need})"
            raise MissingDataError(msg)
        return path

    def _csv(self, need: str, path: Path | None = None) -> pd.DataFrame:
        if need not in self._tables:
            p = path or self._path(need)
            rows = self._rows.get(str(p.relative_to(self.root)))
            self._tables[need] = _frame(read_columns(p, rows))
        return self._tables[need]

    def _dated(self, need: str) -> pd.DataFrame:
        df = self._csv(need)
        return df.set_index(pd.DatetimeIndex(df["date"], name="date")).drop(columns="date")

    @property
    def universe(self) -> pd.DataFrame:
        """``code,code_name,ipoDate,outDate,type,status`` (dates parsed; blank outDate is NaT)."""
        return self._csv("universe")

    @property
    def industry(self) -> pd.DataFrame:
        """``updateDate,code,code_name,industry,industryClassification,sector``."""
        return self._csv("industry")

    @property
    def profit(self) -> pd.DataFrame:
        """Quarterly reports; a row is known from its ``pubDate`` on (point in time)."""
        return self._csv("profit")

    @property
    def dividend(self) -> pd.DataFrame:
        """Dividend plans with announcement, registration, ex and pay dates."""
        return self._csv("dividend")

    @property
    def moneyflow(self) -> pd.DataFrame:
        """Daily large / extra-large order flows (CNY), long format ``date,code,...``."""
        return self._csv("moneyflow")

    @property
    def cgb_yield(self) -> pd.DataFrame:
        """10-year government bond yield (% a year), indexed by date, column ``yield``."""
        return self._dated("cgb_yield")

    @property
    def lc_futures(self) -> pd.DataFrame:
        """GFEX lithium-carbonate main contract from 2023-07-21, indexed by date."""
        return self._dated("lc_futures")

    def constituents(self, code: str = "sz.399006") -> pd.DataFrame:
        """Membership snapshots ``effective_date,code,weight`` of an index."""
        return self._csv(f"constituents:{code}")

    def index(self, code: str) -> pd.DataFrame:
        """Daily bars of an index (``sh.000001``, ``sz.399006`` ...), indexed by date."""
        return self._dated(f"index:{code}")

    def etf_holdings(self, code: str) -> pd.DataFrame:
        """Holdings snapshots ``effective_date,code,weight`` of an ETF (e.g. ``sz159929``)."""
        return self._csv(f"holdings:{code}")

    def etf(self, code: str) -> pd.DataFrame:
        """Tencent daily bars of an ETF (``sz159915``): open, close, high, low, volume (lots)."""
        need = f"etf:{code}"
        if need not in self._tables:
            path = self._path(need)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                rows = data.get("qfqday") or data.get("day")
                arr = np.array([r[1:6] for r in rows], dtype=np.float64)
                days = pd.DatetimeIndex([r[0] for r in rows], name="date")
            except (OSError, ValueError, TypeError, IndexError, AttributeError) as exc:
                msg = f"{path}: not a Tencent day file ({exc}); expected a 'qfqday' list"
                raise DataError(msg) from exc
            cols = ["open", "close", "high", "low", "volume"]
            self._tables[need] = pd.DataFrame(arr, index=days, columns=cols)
        return self._tables[need]

    def min30(self, code: str) -> pd.DataFrame:
        """30-minute bars of a stock in 2024 (``date,time,code,open,...``); empty if it has none."""
        folder = self._path("min30")
        path = folder / f"{code}.csv"
        if not path.exists():
            cols = ["date", "time", "code", "open", "high", "low", "close", "volume", "amount"]
            return pd.DataFrame({c: [] for c in cols})
        return self._csv(f"min30:{code}", path)
