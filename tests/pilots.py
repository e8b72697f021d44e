"""The pilot tasks' ids and their verifier modules, loaded the way the plugin loads them."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from pytest_realfin.verify import VerifierSet

ROOT = Path(__file__).resolve().parents[1]
PILOTS = ("task_01_macd_rsi_filter", "task_03_volatility_ranking", "task_22_bullish_sandwich")
_VERIFIERS = VerifierSet(ROOT / "verifiers")


def verifier(task_id: str) -> ModuleType:
    """``verifiers/<task_id>.py``, imported once through the product's own loader."""
    return _VERIFIERS.module(task_id)
