"""``Market``: one reader for any cache in the RealFin layout, synthetic or real.

Daily stock files become (dates x codes) float64 panels, one per column; auxiliary tables are read
lazily on
first use. A real cache may lack columns or whole datasets (the original had 13 columns and no
fundamentals): ``missing`` names what is absent and ``require`` raises ``MissingDataError`` naming
the file or column. Parsed panels are cached as ``.npz`` under the data cache directory, keyed by
the files' names, sizes and modification times, so a second load skips CSV parsing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pytest_realfin.errors import ConfigError, DataError, MissingDataError
from pytest_realfin.market.csvio import read_columns
from pytest_realfin.market.layout import DAILY_COLUMNS, ETF_CODES, INDEX_CODES
from pytest_realfin.market.reader_aux import AuxReader, dataset_paths

__all__ = ["Market", "array_file"]

_NUMERIC = tuple(c for c in DAILY_COLUMNS if c not in ("date", "code"))


def _cache_dir() -> Path:
    from pytest_realfin.market.cache import cache_root

    return cache_root() / "arrays"


class Market(AuxReader):
    """Market data of one cache folder (``api_cache``) as panels and tables.

    Attributes:
        root: the ``api_cache`` folder.
        dates: sessions present in any daily file (tz-naive ``DatetimeIndex``).
        codes: stock codes such as ``sz.300750``, sorted.
        fields: daily columns that at least one stock file has.
        missing: names of absent columns (``daily:peTTM``) and datasets (``profit``, ``min30``,
        ...). fingerprint: sha256 identifying the data (from ``DATASET.json`` when present).
    """

    def __init__(
        self,
        root: Path,
        dates: pd.DatetimeIndex,
        codes: tuple[str, ...],
        panels: dict[str, np.ndarray],
        fingerprint: str,
        meta: dict[str, Any],
    ) -> None:
        super().__init__(root, meta)
        self.dates = dates
        self.codes = codes
        self._panels = panels
        self.fields = tuple(c for c in _NUMERIC if c in panels)
        self.fingerprint = fingerprint
        self.missing = (
            tuple(f"daily:{c}" for c in _NUMERIC if c not in panels) + self._missing_sets()
        )

    # ----------------------------------------------------------------------------------- loading
    @classmethod
    def load(cls, api_cache: Path | str, use_cache: bool = True) -> Market:
        """Read ``api_cache`` (the folder holding ``baostock/``), using the array cache if allowed.

        Raises:
            DataError: the folder is not a RealFin cache, or a file is corrupt or truncated (the
                message names the file and line).
        """
        root = Path(api_cache)
        files, meta, fingerprint, npz = _locate(root)
        if use_cache and npz.exists():
            try:
                return cls._from_npz(root, npz, fingerprint, meta)
            except (OSError, ValueError, KeyError):
                pass
        rows = _expected_rows(root, meta)
        market = cls._parse(root, files, rows, fingerprint, meta)
        if use_cache:
            market._save_npz(npz)
        return market

    @classmethod
    def _parse(
        cls,
        root: Path,
        files: list[Path],
        rows: dict[str, int],
        fingerprint: str,
        meta: dict[str, Any],
    ) -> Market:
        tables = []
        for p in files:
            cols = read_columns(p, rows.get(str(p.relative_to(root))), header=("date",))
            try:
                days = np.asarray(cols["date"], dtype="datetime64[D]")
            except ValueError as exc:
                msg = f"{p}: a 'date' value is not YYYY-MM-DD ({exc}); rebuild the file"
                raise DataError(msg) from exc
            if days.size > 1 and not (np.diff(days.astype(np.int64)) > 0).all():
                bad = int(np.flatnonzero(np.diff(days.astype(np.int64)) <= 0)[0]) + 3
                msg = f"{p}: line {bad}: dates are not strictly increasing; the file is corrupt"
                raise DataError(msg)
            tables.append((p.stem, days, cols))
        all_days = np.unique(np.concatenate([t[1] for t in tables]))
        dates = pd.DatetimeIndex(all_days.astype("datetime64[ns]"), name="date")
        codes = tuple(t[0] for t in tables)
        present = {c for t in tables for c in t[2]}
        panels = {c: np.full((all_days.size, len(codes)), np.nan) for c in _NUMERIC if c in present}
        for j, (_, days, cols) in enumerate(tables):
            idx = np.searchsorted(all_days, days)
            for c, arr in panels.items():
                if c in cols:
                    arr[idx, j] = cols[c]
        return cls(root, dates, codes, panels, fingerprint, meta)

    @classmethod
    def _from_npz(cls, root: Path, npz: Path, fingerprint: str, meta: dict[str, Any]) -> Market:
        with np.load(npz, allow_pickle=False) as z:
            dates = pd.DatetimeIndex(z["__dates"].astype("datetime64[ns]"), name="date")
            codes = tuple(str(c) for c in z["__codes"])
            panels = {c: z[c] for c in _NUMERIC if c in z.files}
        return cls(root, dates, codes, panels, fingerprint, meta)

    def _save_npz(self, npz: Path) -> None:
        try:
            npz.parent.mkdir(parents=True, exist_ok=True)
            tmp = npz.with_name(f"{npz.stem}.{os.getpid()}.tmp.npz")
            arrays = dict(self._panels)
            arrays["__dates"] = self.dates.values.astype("datetime64[D]")
            arrays["__codes"] = np.array(self.codes)
            # numpy's stub checks the keyword arrays against its own allow_pickle: bool.
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
            tmp.replace(npz)
        except OSError:
            pass  # a read-only cache dir only costs speed

    # ------------------------------------------------------------------------------------ panels
    def panel(self, field: str) -> pd.DataFrame:
        """Return a daily column as a (dates x codes) float64 frame; blanks and absent rows are NaN.

        Raises:
            MissingDataError: no stock file has this column.
        """
        if field not in self._panels:
            if field in _NUMERIC:
                self.require(f"daily:{field}")
            msg = f"Market.panel: unknown field {field!r}; expected one of {list(_NUMERIC)}"
            raise ConfigError(msg)
        return pd.DataFrame(self._panels[field], index=self.dates, columns=pd.Index(self.codes))

    @property
    def traded(self) -> pd.DataFrame:
        """Bool (dates x codes): traded (``tradestatus == 1`` if present) and has a close."""
        close = self._panels.get("close")
        if close is None:
            self.require("daily:close")
            raise AssertionError  # pragma: no cover
        ok = ~np.isnan(close)
        if "tradestatus" in self._panels:
            ok &= self._panels["tradestatus"] == 1
        return pd.DataFrame(ok, index=self.dates, columns=pd.Index(self.codes))

    # -------------------------------------------------------------------------------- missing data
    def _missing_sets(self) -> tuple[str, ...]:
        names = [
            *(f"index:{c}" for c in INDEX_CODES),
            "universe",
            "industry",
            "profit",
            "dividend",
            "constituents:sz.399006",
            "min30",
            "moneyflow",
            *(f"etf:{c}" for c in ETF_CODES),
            "cgb_yield",
            "lc_futures",
        ]
        return tuple(n for n in names if self._find(n) is None)

    def require(self, *needs: str) -> None:
        """Raise ``MissingDataError`` naming every need that the cache lacks.

        Args:
            needs: names as in ``missing``: ``daily:<column>``, ``index:<code>``, ``etf:<code>``,
                ``universe``, ``industry``, ``profit``, ``dividend``, ``constituents:sz.399006``,
                ``min30``, ``moneyflow``, ``cgb_yield``, ``lc_futures``.
        """
        absent = [n for n in needs if n in self.missing]
        unknown = [n for n in needs if n not in self.missing and not self._known(n)]
        if unknown:
            msg = f"Market.require: unknown data names {unknown}; "
            msg += f"expected names like {self._examples()}"
            raise ConfigError(msg)
        if absent:
            what = "; ".join(_describe(n) for n in absent)
            msg = f"{self.root}: missing {what}"
            raise MissingDataError(msg)

    def _known(self, need: str) -> bool:
        if need.startswith("daily:"):
            return need[6:] in _NUMERIC
        return need in dataset_paths() or need.split(":")[0] in ("index", "etf", "constituents")

    @staticmethod
    def _examples() -> list[str]:
        return ["daily:peTTM", "profit", "min30", "index:sz.399006", "etf:sz159929"]


def _describe(need: str) -> str:
    if need.startswith("daily:"):
        return f"column {need[6:]!r} in baostock/daily_qfq_*/*.csv"
    kind, _, code = need.partition(":")
    path = dataset_paths().get(kind, kind)
    return f"file {path.format(code=code)} ({need})"


def array_file(api_cache: Path | str) -> Path | None:
    """The ``arrays/*.npz`` file ``Market.load`` uses for ``api_cache`` as it is on disk now.

    ``realfin data prune`` keeps exactly these files for the data sets it keeps; the key is a
    one-way hash, so this is the only way to tell which data set an array file belongs to.

    Returns:
        The path (which may not exist yet), or ``None`` if ``api_cache`` is not a readable cache.
    """
    try:
        return _locate(Path(api_cache))[3]
    except (OSError, DataError):
        return None


def _locate(root: Path) -> tuple[list[Path], dict[str, Any], str, Path]:
    """The stock files, ``DATASET.json``, fingerprint and array file of the cache at ``root``.

    One definition for ``Market.load`` and ``array_file``, so that prune keeps exactly the array
    files loads use. The array file's key covers every stock file's size and mtime, so an edited
    file is parsed again rather than served stale.

    Raises:
        DataError: ``root`` is not a RealFin cache, or its ``DATASET.json`` is unreadable.
    """
    daily = sorted(p for p in root.glob("baostock/daily_qfq_*") if p.is_dir())
    if not daily:
        msg = (
            f"{root}: no baostock/daily_qfq_*/ folder; expected an api_cache "
            "folder in the RealFin layout (build one with `realfin data build`)"
        )
        raise DataError(msg)
    files = sorted(daily[0].glob("*.csv"))
    if not files:
        msg = f"{daily[0]}: no stock CSV files; expected one sz.300xxx.csv per stock"
        raise DataError(msg)
    meta = _read_json(root / "DATASET.json") if (root / "DATASET.json").exists() else {}
    stats = []
    for path in files:
        st = path.stat()
        stats.append(f"{path.relative_to(root)} {st.st_size} {st.st_mtime_ns}")
    fingerprint = str(meta.get("fingerprint") or _weak_fingerprint(root, stats))
    key = hashlib.sha256("\n".join([fingerprint, str(root.resolve()), *stats]).encode())
    return files, meta, fingerprint, _cache_dir() / f"{key.hexdigest()[:40]}.npz"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{path}: not readable JSON ({exc}); rebuild the data set"
        raise DataError(msg) from exc
    if not isinstance(data, dict):
        msg = f"{path}: expected a JSON object, found {type(data).__name__}"
        raise DataError(msg)
    return data


def _expected_rows(root: Path, meta: dict[str, Any]) -> dict[str, int]:
    rows: dict[str, int] = {}
    files = meta.get("files")
    if isinstance(files, dict):
        rows.update(
            {k: int(v["rows"]) for k, v in files.items() if isinstance(v, dict) and "rows" in v}
        )
        return rows
    for manifest in root.glob("baostock/manifest_daily_qfq_*.json"):
        for entry in _read_json(manifest).get("files", []):
            if isinstance(entry, dict) and "path" in entry and "rows" in entry:
                rows[str(entry["path"])] = int(entry["rows"])
    return rows


def _weak_fingerprint(root: Path, stats: list[str]) -> str:
    h = hashlib.sha256()
    for manifest in sorted(root.glob("**/manifest_*.json")):
        h.update(manifest.read_bytes())
    for s in stats:
        h.update(s.rsplit(" ", 1)[0].encode())
    return h.hexdigest()
