"""Verifier of task_03_volatility_ranking: the 5 highest 10-day close CVs (ddof 1) at 2024-05-31."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pytest_realfin.checks import Expected, check_table, contract_for, plain_code
from pytest_realfin.results import Predicate

WINDOW = ("2024-05-20", "2024-05-31")
TOP = 5


def volatility(market: Any) -> pd.Series:
    """CV (%) of the 10 window closes of every stock traded on all window days, unrounded."""
    close = market.panel("close").loc[WINDOW[0] : WINDOW[1]]
    traded = market.traded.loc[WINDOW[0] : WINDOW[1]] & close.notna()
    full = traded.all(axis=0) & (len(close) > 1)
    window = close.loc[:, full]
    cv = window.std(axis=0, ddof=1) / window.mean(axis=0) * 100.0
    cv.index = [plain_code(str(c)) for c in cv.index]
    return cv.astype(np.float64)


def ranking(market: Any) -> pd.Series:
    """Every ranked stock's CV, in the task's order: CV descending, code ascending on ties."""
    cv = volatility(market)
    frame = pd.DataFrame({"code": cv.index, "cv": cv.to_numpy()})
    frame = frame.sort_values(["cv", "code"], ascending=[False, True], kind="mergesort")
    return pd.Series(frame["cv"].to_numpy(), index=frame["code"].to_numpy(), name="cv")


def expected(market: Any) -> Expected:
    ranked = ranking(market)
    top = ranked.iloc[:TOP]
    rows = tuple((str(code), float(value)) for code, value in top.items())
    return Expected(contract=contract_for(__file__), rows=rows, qualifying=len(ranked))


def check(output_text: str, answer: Expected) -> dict[str, Predicate]:
    return check_table(output_text, answer)
