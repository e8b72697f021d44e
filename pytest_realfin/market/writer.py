"""Write a generated market in the RealFin cache layout (see the project's DATA.md).

CSV files are written with pyarrow (fixed decimals via decimal types, blanks as empty fields), so
the bytes depend only on the values: the same seed, version and universe give byte-identical files.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from pytest_realfin.market.calendar import DATA_END, DATA_START
from pytest_realfin.market.gen_aux import Series
from pytest_realfin.market.gen_intraday import BAR_ENDS
from pytest_realfin.market.gen_universe import SECTORS
from pytest_realfin.market.generator import GENERATOR_VERSION, Synth
from pytest_realfin.market.layout import (
    DAILY_COLUMNS,
    DAILY_DIR,
    ETF_DIR,
    INDEX_DIR,
    MIN30_DIR,
    etf_file,
)

__all__ = ["write_market"]

_W = pcsv.WriteOptions(include_header=False, quoting_style="none")
_RANGE = {"start": DATA_START.isoformat(), "end": DATA_END.isoformat()}
"""The data range, as every manifest and ``DATASET.json`` state it."""


def _col(x: np.ndarray | pd.Series, kind: str) -> pa.Array:
    """Arrow column: 'str', 'int' or 'dN' (N decimals); NaN becomes a blank field."""
    if kind == "str":
        return pa.array(np.asarray(x, dtype=object))
    arr = np.asarray(x, dtype=np.float64)
    mask = np.isnan(arr)
    if kind == "int":
        return pa.array(np.where(mask, 0, arr).astype(np.int64), mask=mask)
    dec = int(kind[1:])
    a = pa.array(np.where(mask, 0.0, arr), mask=mask)
    return pc.cast(pc.round(a, dec), pa.decimal128(22, dec), safe=False)


def _csv_bytes(cols: Mapping[str, tuple[np.ndarray | pd.Series, str]]) -> bytes:
    table = pa.table({k: _col(v, kind) for k, (v, kind) in cols.items()})
    buf = io.BytesIO()
    buf.write((",".join(cols) + "\n").encode())
    pcsv.write_csv(table, buf, _W)
    return buf.getvalue()


class _Out:
    """Collects written files (relative path -> sha256, rows) for manifests and the fingerprint."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, dict[str, int | str]] = {}

    def put(self, rel: str, data: bytes, rows: int | None = None) -> dict[str, int | str]:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        info: dict[str, int | str] = {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        if rows is not None:
            info["rows"] = rows
        self.files[rel] = info
        return info

    def csv(
        self, rel: str, cols: Mapping[str, tuple[np.ndarray | pd.Series, str]]
    ) -> dict[str, int | str]:
        rows = len(next(iter(cols.values()))[0])
        return self.put(rel, _csv_bytes(cols), rows)

    def json(self, rel: str, obj: object) -> None:
        self.put(rel, (json.dumps(obj, ensure_ascii=False, indent=1) + "\n").encode())


def _daily(out: _Out, s: Synth) -> None:
    b, f, u = s.bars, s.fund, s.uni
    dates = s.dates.strftime("%Y-%m-%d").to_numpy()
    entries = []
    for i, code in enumerate(u.codes):
        m = b.listed[:, i]
        k = int(m.sum())
        cols = {
            "date": (dates[m], "str"),
            "code": (np.full(k, code, dtype=object), "str"),
            "open": (b.open[m, i], "d2"),
            "high": (b.high[m, i], "d2"),
            "low": (b.low[m, i], "d2"),
            "close": (b.close[m, i], "d2"),
            "preclose": (b.preclose[m, i], "d2"),
            "volume": (b.volume[m, i], "int"),
            "amount": (b.amount[m, i], "d2"),
            "adjustflag": (np.full(k, 2.0), "int"),
            "turn": (b.turn[m, i], "d6"),
            "tradestatus": (b.tradestatus[m, i], "int"),
            "pctChg": (b.pct_chg[m, i], "d6"),
            "peTTM": (f.pe[m, i], "d4"),
            "psTTM": (f.ps[m, i], "d4"),
            "pcfNcfTTM": (f.pcf[m, i], "d4"),
            "pbMRQ": (f.pb[m, i], "d4"),
            "isST": (u.st[m, i].astype(float), "int"),
        }
        assert tuple(cols) == DAILY_COLUMNS
        rel = f"{DAILY_DIR}/{code}.csv"
        info = out.csv(rel, cols)
        entries.append({"code": code, "path": rel, "rows": k, "sha256": info["sha256"]})
    out.json(
        "baostock/manifest_daily_qfq_20200102_20260331.json",
        {
            "dataset": "daily_qfq",
            "source": "RealFin-Synth",
            **_RANGE,
            "adjustflag": "2",
            "fields": list(DAILY_COLUMNS),
            "files": entries,
        },
    )


def _series_cols(dates: np.ndarray, code: str, x: Series) -> dict[str, tuple[np.ndarray, str]]:
    return {
        "date": (dates, "str"),
        "code": (np.full(dates.size, code, dtype=object), "str"),
        "open": (x.open, "d2"),
        "high": (x.high, "d2"),
        "low": (x.low, "d2"),
        "close": (x.close, "d2"),
        "preclose": (x.preclose, "d2"),
        "volume": (x.volume, "int"),
        "amount": (x.amount, "d2"),
        "pctChg": (np.round((x.close / x.preclose - 1) * 100, 6), "d6"),
    }


def _aux(out: _Out, s: Synth) -> None:
    dates = s.dates.strftime("%Y-%m-%d").to_numpy()
    entries = []
    for code, x in s.aux.indices.items():
        rel = f"{INDEX_DIR}/{code}.csv"
        info = out.csv(rel, _series_cols(dates, code, x))
        entries.append({"code": code, "path": rel, "rows": dates.size, "sha256": info["sha256"]})
    out.json(
        "baostock/manifest_aux_daily_qfq_20200102_20260331.json",
        {"dataset": "index_daily", **_RANGE, "files": entries},
    )
    etf_entries = []
    for code, x in s.aux.etfs.items():
        rows = [
            [d, f"{o:.3f}", f"{c:.3f}", f"{h:.3f}", f"{lo:.3f}", f"{v:.0f}"]
            for d, o, c, h, lo, v in zip(
                dates, x.open, x.close, x.high, x.low, x.volume, strict=True
            )
        ]
        rel = f"{ETF_DIR}/{etf_file(code)}"
        data = json.dumps({"code": code, "qfqday": rows}, separators=(",", ":")).encode()
        info = out.put(rel, data, len(rows))
        etf_entries.append({"code": code, "path": rel, "rows": len(rows), "sha256": info["sha256"]})
    for code, table in s.aux.holdings.items():
        out.csv(f"{ETF_DIR}/holdings/{code}.csv", _table_cols(table, {"weight": "d6"}))
    out.json(
        f"{ETF_DIR}/manifest_day_qfq_20200102_20260331.json",
        {
            "dataset": "etf_day_qfq",
            **_RANGE,
            "files": etf_entries,
        },
    )
    out.csv(
        "baostock/index_constituents/sz.399006.csv",
        _table_cols(s.aux.constituents, {"weight": "d6"}),
    )
    out.csv("macro/cgb_yield_10y.csv", _table_cols(s.aux.cgb, {"yield": "d4"}))
    lc_kinds = {c: "int" for c in s.aux.lc.columns if c != "date"}
    out.csv("futures/gfex_lc_main_daily.csv", _table_cols(s.aux.lc, lc_kinds))


def _table_cols(df: pd.DataFrame, kinds: dict[str, str]) -> dict[str, tuple[np.ndarray, str]]:
    return {c: (df[c].to_numpy(), kinds.get(c, "str")) for c in df.columns}


def _reference(out: _Out, s: Synth) -> None:
    u = s.uni
    out.csv(
        "baostock/universe_20260331_sz30.csv",
        {
            "code": (np.array(u.codes, dtype=object), "str"),
            "code_name": (np.array(u.names, dtype=object), "str"),
            "ipoDate": (np.array(u.ipo_date, dtype=object), "str"),
            "outDate": (np.array(u.out_date, dtype=object), "str"),
            "type": (np.ones(len(u.codes)), "int"),
            "status": (np.array([0.0 if d else 1.0 for d in u.out_date]), "int"),
        },
    )
    from pytest_realfin.market.gen_universe import _INDUSTRY

    n = len(u.codes)
    out.csv(
        "baostock/stock_industry_20260331.csv",
        {
            "updateDate": (np.full(n, "2026-03-30", dtype=object), "str"),
            "code": (np.array(u.codes, dtype=object), "str"),
            "code_name": (np.array(u.names, dtype=object), "str"),
            "industry": (np.array([_INDUSTRY[k] for k in u.sector], dtype=object), "str"),
            "industryClassification": (np.full(n, "证监会行业分类", dtype=object), "str"),
            "sector": (np.array([SECTORS[k] for k in u.sector], dtype=object), "str"),
        },
    )
    p = s.fund.profit
    kinds = dict.fromkeys(("roeAvg", "npMargin", "gpMargin", "epsTTM"), "d6")
    kinds |= {"netProfit": "d2", "MBRevenue": "d2", "totalShare": "int", "liqaShare": "int"}
    out.csv("baostock/profit_quarterly.csv", _table_cols(p, kinds))
    out.csv(
        "baostock/dividend.csv",
        _table_cols(s.fund.dividend, {"dividCashPsBeforeTax": "d4", "dividStocksPs": "d2"}),
    )


def _intraday(out: _Out, s: Synth) -> None:
    m = s.min30
    days = m.dates.strftime("%Y%m%d").to_numpy()
    dash = m.dates.strftime("%Y-%m-%d").to_numpy()
    times = np.array([[d + t + "00000" for t in BAR_ENDS] for d in days], dtype=object)
    ddates = np.repeat(dash[:, None], 8, axis=1)
    for i, code in enumerate(s.uni.codes):
        ok = m.ok[:, i]
        if not ok.any():
            continue
        k = int(ok.sum()) * 8
        out.csv(
            f"{MIN30_DIR}/{code}.csv",
            {
                "date": (ddates[ok].ravel(), "str"),
                "time": (times[ok].ravel(), "str"),
                "code": (np.full(k, code, dtype=object), "str"),
                "open": (m.open[ok, i].ravel(), "d2"),
                "high": (m.high[ok, i].ravel(), "d2"),
                "low": (m.low[ok, i].ravel(), "d2"),
                "close": (m.close[ok, i].ravel(), "d2"),
                "volume": (m.volume[ok, i].ravel(), "int"),
                "amount": (m.amount[ok, i].ravel(), "d2"),
                "adjustflag": (np.full(k, 2.0), "int"),
            },
        )
    b = s.bars
    traded = b.tradestatus == 1
    t_idx, c_idx = np.nonzero(traded)
    order = np.lexsort((c_idx, t_idx))
    t_idx, c_idx = t_idx[order], c_idx[order]
    cols: dict[str, tuple[np.ndarray, str]] = {
        "date": (s.dates.strftime("%Y-%m-%d").to_numpy()[t_idx], "str"),
        "code": (np.array(s.uni.codes, dtype=object)[c_idx], "str"),
    }
    for name, arr in s.moneyflow.items():
        cols[name] = (arr[t_idx, c_idx], "d2")
    out.csv("moneyflow/daily_moneyflow.csv", cols)


def write_market(s: Synth, api_cache: Path) -> Path:
    """Write every file of the layout into ``api_cache`` (created; must not exist) and return it."""
    if api_cache.exists():
        shutil.rmtree(api_cache)
    api_cache.mkdir(parents=True)
    out = _Out(api_cache)
    _daily(out, s)
    _aux(out, s)
    _reference(out, s)
    _intraday(out, s)
    h = hashlib.sha256()
    for rel in sorted(out.files):
        h.update(f"{rel}\0{out.files[rel]['sha256']}\n".encode())
    meta = {
        "name": "RealFin-Synth",
        "version": GENERATOR_VERSION,
        "generator_version": GENERATOR_VERSION,
        "synthetic": True,
        "seed": s.seed,
        "universe": len(s.uni.codes),
        **_RANGE,
        "fingerprint": h.hexdigest(),
        "files": {rel: out.files[rel] for rel in sorted(out.files)},
    }
    (api_cache / "DATASET.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return api_cache
