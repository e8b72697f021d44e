"""Strict CSV reading for market files: fast with pyarrow, and errors that name the file and line.

pyarrow's own messages do not carry line numbers, so on any parse or conversion failure the file is
re-scanned with the ``csv`` module to find the first offending line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from pytest_realfin.errors import DataError

__all__ = ["STRING_COLUMNS", "read_columns"]

STRING_COLUMNS = frozenset(
    {
        "date",
        "time",
        "code",
        "code_name",
        "ipoDate",
        "outDate",
        "updateDate",
        "industry",
        "industryClassification",
        "sector",
        "pubDate",
        "statDate",
        "dividPlanAnnounceDate",
        "dividRegistDate",
        "dividOperateDate",
        "dividPayDate",
        "effective_date",
    }
)
"""Columns kept as text; every other column is parsed as float64 (blank -> NaN)."""


def _locate(path: Path, arrow_msg: str) -> DataError:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                return DataError(f"{path}: line 1: empty file, expected a CSV header")
            for lineno, row in enumerate(reader, start=2):
                if len(row) != len(header):
                    return DataError(
                        f"{path}: line {lineno}: {len(row)} fields, expected {len(header)} "
                        f"({','.join(header)}); the file is truncated or corrupt, rebuild it"
                    )
                for name, value in zip(header, row, strict=True):
                    if name in STRING_COLUMNS or value == "":
                        continue
                    try:
                        float(value)
                    except ValueError:
                        return DataError(
                            f"{path}: line {lineno}: column {name!r} has {value[:40]!r}, "
                            "expected a number or a blank; the file is corrupt, rebuild it"
                        )
    except UnicodeDecodeError as exc:
        return DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); rebuild it")
    return DataError(f"{path}: unreadable CSV ({arrow_msg.splitlines()[0]}); rebuild it")


def read_columns(
    path: Path, expected_rows: int | None = None, header: tuple[str, ...] | None = None
) -> dict[str, np.ndarray]:
    """Read a CSV into column arrays: text as objects, the rest float64 (blank -> NaN).

    Args:
        path: the CSV file.
        expected_rows: data rows the manifest lists; fewer or more is a truncated/corrupt file.
        header: if given, the columns the header must start with... or at least contain.

    Raises:
        DataError: the file is missing, malformed, truncated, or a number column holds text.
    """
    try:
        with path.open("rb") as fh:
            first = fh.readline().decode("utf-8", errors="replace").strip()
    except OSError as exc:
        msg = f"{path}: cannot read ({exc.strerror}); check the path and permissions"
        raise DataError(msg) from exc
    names = [c.strip() for c in first.split(",")] if first else []
    if not names or names == [""]:
        msg = f"{path}: line 1: empty file, expected a CSV header"
        raise DataError(msg)
    if header is not None and not set(header) <= set(names):
        missing = [c for c in header if c not in names]
        msg = f"{path}: line 1: header lacks {missing}; expected columns {list(header)}"
        raise DataError(msg)
    types = {c: (pa.string() if c in STRING_COLUMNS else pa.float64()) for c in names}
    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=False),
            convert_options=pcsv.ConvertOptions(
                column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as exc:
        raise _locate(path, str(exc)) from exc
    if expected_rows is not None and table.num_rows != expected_rows:
        msg = (
            f"{path}: line {table.num_rows + 2}: file has {table.num_rows} data rows, the manifest "
            f"lists {expected_rows}; the file is truncated or was changed, rebuild it"
        )
        raise DataError(msg)
    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        col = table.column(name)
        if name in STRING_COLUMNS:
            out[name] = np.asarray(col.to_pylist(), dtype=object)
        else:
            out[name] = col.to_numpy().astype(np.float64, copy=False)
    return out
