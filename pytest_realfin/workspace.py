"""One attempt's workspace: ``task.json``, ``realfin_cache_manifest.json``, the ``api_cache`` mount.

The manifest describes the data that is actually there (a real cache may lack datasets or columns),
with paths relative to the workspace only: the original runner's manifest named its absolute
``benchmark_root``, which pointed the agent straight at the graders.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from pytest_realfin.atomic import write_text_atomic
from pytest_realfin.spec import Lang, TaskSpec

__all__ = ["build_cache_manifest", "prepare_workspace"]

_DATASETS: tuple[tuple[str, str, str], ...] = (
    ("DATASET.json", "dataset", "Name, version, seed, universe size, synthetic flag, fingerprint."),
    ("baostock/daily_qfq_*", "daily", "One CSV per stock, forward-adjusted daily bars."),
    ("baostock/manifest_daily_qfq_*.json", "daily_manifest", "Per-file code, path, rows, sha256."),
    ("baostock/index_daily_*", "index", "One CSV per index (sh.000001, sz.399001, sz.399006 ...)."),
    ("baostock/manifest_aux_daily_qfq_*.json", "index_manifest", "Manifest of the index files."),
    ("baostock/universe_*.csv", "universe", "ChiNext codes, names, IPO and delisting dates."),
    ("baostock/stock_industry_*.csv", "industry", "Industry classification and sector bucket."),
    (
        "baostock/profit_quarterly.csv",
        "profit",
        "Quarterly fundamentals; a row is known from pubDate.",
    ),
    ("baostock/dividend.csv", "dividend", "Dividend plans and dates."),
    ("baostock/index_constituents", "constituents", "Index membership snapshots (weights)."),
    ("baostock/min30_qfq_*", "min30", "One CSV per stock, 30-minute bars (8 a day)."),
    ("moneyflow/daily_moneyflow.csv", "moneyflow", "Daily large/extra-large order flows in CNY."),
    (
        "tencent/*_day_qfq_*.json",
        "etf",
        "ETF daily bars: {code, qfqday: [[date, open, close, high, low, volume]]}.",
    ),
    ("tencent/manifest_day_qfq_*.json", "etf_manifest", "Manifest of the ETF files."),
    ("tencent/holdings", "etf_holdings", "ETF holdings snapshots (weights)."),
    ("macro/cgb_yield_10y.csv", "cgb_yield", "10-year government bond yield, % a year."),
    ("futures/gfex_lc_main_daily.csv", "lc_futures", "Lithium-carbonate main contract, daily."),
)

_CODE_FORMATS = {
    "stock": "baostock style 'sz.300750' (exchange, dot, 6 digits); file names are '<code>.csv'",
    "index": "baostock style 'sh.000001', 'sz.399006'",
    "etf": "Tencent style 'sz159915' (no dot) in file names and in the 'code' field",
    "date": "'YYYY-MM-DD' strings; min30 'time' is 'YYYYMMDDHHMMSSsss'",
    "units": "volume in shares (ETF volume in lots of 100), amount in CNY, turn and pctChg in %",
    "tradestatus": "1 traded, 0 suspended; suspended rows may have blank OHLCV fields",
    "tencent_values": "Tencent rows are strings and put close before high/low",
}


class _Stamps:
    """Modification times of what a manifest was built from: the folders listed, the files read.

    Any file added, removed or renamed changes its folder's mtime, and a rewritten CSV changes its
    own, so equal stamps mean an equal manifest; checking them is a few dozen ``stat`` calls.
    """

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def add(self, path: Path | str) -> None:
        self.seen[str(path)] = _mtime(path)

    def frozen(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(self.seen.items()))


def _mtime(path: Path | str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return -1


def _csv_header(path: Path, stamps: _Stamps) -> list[str]:
    stamps.add(path)
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.readline().strip().lstrip("\ufeff").split(",")
    except OSError:
        return []


def _describe(data_dir: Path, rel: Path, name: str, note: str, stamps: _Stamps) -> dict[str, Any]:
    path = data_dir / rel
    entry: dict[str, Any] = {"name": name, "path": f"api_cache/{rel.as_posix()}", "note": note}
    if path.is_dir():
        stamps.add(path)
        files = sorted(p for p in path.iterdir() if p.is_file())
        entry["kind"] = "directory"
        entry["files"] = len(files)
        if files:
            entry["example"] = files[0].name
            if files[0].suffix == ".csv":
                entry["columns"] = _csv_header(files[0], stamps)
    else:
        entry["kind"] = "file"
        if path.suffix == ".csv":
            entry["columns"] = _csv_header(path, stamps)
    return entry


def _other_files(data_dir: Path, known: set[str], stamps: _Stamps) -> list[str]:
    """Files outside the known layout, by relative path, without descending into known folders."""
    other: list[str] = []
    for folder, dirs, files in os.walk(data_dir):
        stamps.add(folder)
        rel = os.path.relpath(folder, data_dir)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        dirs[:] = [d for d in dirs if prefix + d not in known]
        other.extend(
            prefix + f for f in files if prefix + f not in known and Path(folder, f).is_file()
        )
    return sorted(other, key=lambda rel: rel.split("/"))  # Path order: part by part


def _build(data_dir: Path, stamps: _Stamps) -> dict[str, Any]:
    datasets: list[dict[str, Any]] = []
    missing: list[str] = []
    known: set[str] = set()
    stamps.add(data_dir)
    for pattern, name, note in _DATASETS:
        stamps.add((data_dir / pattern).parent)  # the folder the pattern lists
        matches = sorted(data_dir.glob(pattern))
        if not matches:
            missing.append(name)
            continue
        known.update(m.relative_to(data_dir).as_posix() for m in matches)
        if name == "etf":  # one file per ETF: a single entry listing them
            files = [m.name for m in matches]
            datasets.append(
                {
                    "name": name,
                    "path": "api_cache/tencent/",
                    "kind": "files",
                    "files": files,
                    "note": note,
                }
            )
            continue
        datasets.extend(
            _describe(data_dir, m.relative_to(data_dir), name, note, stamps) for m in matches
        )
    other = _other_files(data_dir, known, stamps) if data_dir.is_dir() else []
    return {
        "schema_version": 1,
        "root": "api_cache",
        "note": "Paths are relative to the workspace (/workspace); api_cache/ is read-only.",
        "datasets": datasets,
        "missing": missing,
        "other_files": other[:50],
        "code_formats": _CODE_FORMATS,
    }


def build_cache_manifest(data_dir: Path) -> dict[str, Any]:
    """Describe what exists under ``data_dir`` in the RealFin layout (DATA.md), by relative path.

    Args:
        data_dir: the ``api_cache`` folder (synthetic or a real cache).

    Returns:
        A JSON-able dict: ``datasets`` found (path, columns, file count), ``missing`` dataset names,
        ``other_files`` outside the known layout, and notes on code and date formats.
    """
    return _build(data_dir, _Stamps())


_SETTLED_NS = 2_000_000_000
_MANIFESTS: dict[str, tuple[tuple[tuple[str, int], ...], str]] = {}
"""Per data folder: the stamps a manifest was built from and its JSON text (one per process)."""


def _manifest_text(data_dir: Path) -> str:
    """The manifest's JSON, rebuilt only when a folder or file it was built from has changed.

    Every attempt of a run describes the same data: rebuilding it (a walk over ~1,300 files of the
    default data) per attempt was most of ``prepare_workspace``'s cost.
    """
    key = str(data_dir.resolve())
    cached = _MANIFESTS.get(key)
    if cached is not None and all(_mtime(path) == ns for path, ns in cached[0]):
        return cached[1]
    stamps = _Stamps()
    text = _dumps(_build(data_dir, stamps))
    frozen = stamps.frozen()
    # A change within the file system's timestamp granularity of the build could leave an mtime
    # unchanged (git's "racy" case): only data that has been still for a while is cached.
    if max((ns for _, ns in frozen), default=0) < time.time_ns() - _SETTLED_NS:
        _MANIFESTS[key] = (frozen, text)
    return text


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def prepare_workspace(
    workspace: Path, spec: TaskSpec, data_dir: Path, *, lang: Lang = "zh"
) -> Path:
    """Create the files an attempt starts from, and the ``api_cache`` mount point.

    ``api_cache`` is made an empty directory; the environment turns it into what it needs (a bind
    mount point for bubblewrap, a symlink for the local fallback). Nothing about the verifier, the
    solution or the answer is written.

    Args:
        workspace: a fresh folder for this attempt (created if missing).
        spec: the task; only ``spec.public_view()`` is written.
        data_dir: the market data, described by relative path in the manifest.
        lang: the prompt language of this attempt, recorded in ``task.json``.

    Returns:
        The workspace path.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    write_text_atomic(workspace / "task.json", _dumps({**spec.public_view(), "language": lang}))
    write_text_atomic(workspace / "realfin_cache_manifest.json", _manifest_text(data_dir))
    mount = workspace / "api_cache"
    if mount.is_symlink():
        mount.unlink()
    mount.mkdir(exist_ok=True)
    return workspace
