"""pytest-realfin: RealFin-Bench as a pytest suite, graded against answers computed from data."""

from __future__ import annotations

from pytest_realfin.errors import (
    ConfigError,
    DataError,
    MissingDataError,
    ModelError,
    RealfinError,
    SandboxError,
    TaskSpecError,
    VerifierError,
)
from pytest_realfin.results import Predicate, TaskResult, Usage

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "MissingDataError",
    "ModelError",
    "Predicate",
    "RealfinError",
    "SandboxError",
    "TaskResult",
    "TaskSpecError",
    "Usage",
    "VerifierError",
    "__version__",
]
