"""Column-wise plumbing shared by `indicators` and `stats`: the skip-NaN rule, vectorised.

Every indicator is defined on a stock's own valid bars. To compute it for 400 stocks at once,
each column's valid rows are moved to the top (a stable sort on the NaN mask), so row k of every
column is that stock's k-th valid bar; the kernel runs on that aligned array, and the result is
moved back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

Array = npt.NDArray[np.float64]
Frame = TypeVar("Frame", pd.Series, pd.DataFrame)
Kernel = Callable[..., tuple[npt.NDArray[Any], ...]]


def to_2d(x: pd.Series | pd.DataFrame) -> Array:
    """The values of a Series as a one-column matrix, or of a DataFrame as is, in float64."""
    values = x.to_numpy(dtype=np.float64, na_value=np.nan)
    return values.reshape(-1, 1) if values.ndim == 1 else values


def like(template: Frame, values: npt.NDArray[Any]) -> Frame:
    """Wrap a (rows, columns) result with the index (and columns, or name) of ``template``."""
    if isinstance(template, pd.Series):
        return pd.Series(values[:, 0], index=template.index, name=template.name)
    return pd.DataFrame(values, index=template.index, columns=template.columns)


def check_same_shape(where: str, *inputs: pd.Series | pd.DataFrame) -> None:
    """Raise ValueError unless every input has the type, shape and index of the first."""
    first = inputs[0]
    for i, other in enumerate(inputs[1:], start=2):
        if type(other) is not type(first) or other.shape != first.shape:
            msg = (
                f"{where}: input {i} is a {type(other).__name__} of shape {other.shape}, "
                f"expected a {type(first).__name__} of shape {first.shape} like input 1; "
                "align them first"
            )
            raise ValueError(msg)
        if not other.index.equals(first.index):
            msg = f"{where}: input {i} has a different index from input 1; align them first"
            raise ValueError(msg)


def on_valid(
    where: str, kernel: Kernel, inputs: Sequence[Frame], fill: float = np.nan
) -> list[Frame]:
    """Run ``kernel`` on the rows where every input is non-NaN, per column, and scatter back.

    The kernel receives one (rows, columns) float array per input in which each column's valid
    rows come first, in their original order, followed by NaN padding; it returns arrays of the
    same shape.
    Rows where any input is NaN get ``fill`` in every output.
    """
    check_same_shape(where, *inputs)
    arrays = [to_2d(x) for x in inputs]
    valid = np.logical_and.reduce([~np.isnan(a) for a in arrays])
    if valid.all():
        outs = kernel(*arrays)
        return [like(inputs[0], out) for out in outs]
    order = np.argsort(~valid, axis=0, kind="stable")
    packed = [np.where(valid, a, np.nan) for a in arrays]
    packed = [np.take_along_axis(a, order, axis=0) for a in packed]
    results = []
    for out in kernel(*packed):
        back = np.empty_like(out)
        np.put_along_axis(back, order, out, axis=0)
        back[~valid] = fill
        results.append(like(inputs[0], back))
    return results


def ewm(x: Array, alpha: float) -> Array:
    """Recursive mean y(t) = (1 − alpha)·y(t−1) + alpha·x(t) from y(0) = x(0), per column."""
    if len(x) == 0:
        return x.copy()
    frame = pd.DataFrame(x).ewm(alpha=alpha, adjust=False, ignore_na=False).mean()
    return frame.to_numpy(dtype=np.float64)


def seeded_ewm(x: Array, alpha: float, seed: Array | float) -> Array:
    """Like `ewm`, but y(0) = (1 − alpha)·seed + alpha·x(0): the recursion starts from ``seed``."""
    padded = np.vstack([np.broadcast_to(seed, (1, x.shape[1])), x])
    return ewm(padded, alpha)[1:]


def wilder(x: Array, n: int, start: int) -> Array:
    """Wilder's average of ``x`` whose first valid row is ``start``, per column.

    avg(start + n − 1) = mean(x[start .. start + n − 1]);
    then avg(t) = (avg(t−1)·(n − 1) + x(t)) / n.
    Rows before the seed are NaN; so is every row of a column with fewer than n valid values.
    """
    out = np.full_like(x, np.nan)
    first = start + n - 1
    if len(x) <= first:
        return out
    block = x[first:].copy()
    block[0] = x[start : first + 1].mean(axis=0)
    out[first:] = ewm(block, 1.0 / n)
    return out


def rolling(x: Array, n: int, how: str) -> Array:
    """Rolling ``how`` ('mean', 'max', 'min') over the last n rows, NaN until n rows exist."""
    window = pd.DataFrame(x).rolling(n, min_periods=n)
    result: pd.DataFrame = getattr(window, how)()
    return result.to_numpy(dtype=np.float64)


def lag(x: Array, k: int = 1) -> Array:
    """Shift x down by k rows (row t holds x(t − k)), NaN-padded on top."""
    out = np.full_like(x, np.nan)
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def safe_divide(num: Array, den: Array, when_zero: float) -> Array:
    """Divide num by den, with ``when_zero`` where den == 0 (NaN stays NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den == 0, when_zero, out)


def check_window(where: str, name: str, n: int) -> None:
    """Raise ValueError unless ``n`` is a positive int (bools are rejected)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        msg = f"{where}: {name}={n!r} is not a window length; pass an int >= 1"
        raise ValueError(msg)
