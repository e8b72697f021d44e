"""The one exception hierarchy of pytest-realfin.

Every error the package raises on purpose is a ``RealfinError``; each also subclasses the
builtin that fits, so callers that only know Python's exceptions still catch it::

    RealfinError
    ├── ConfigError (ValueError)        bad option, ini key or registry entry
    ├── TaskSpecError (ValueError)      malformed tasks/<id>/task.yaml
    ├── DataError (ValueError)          corrupt or truncated market-data file
    │   └── MissingDataError            a dataset or column a task needs is absent
    ├── ModelError (RuntimeError)       the endpoint failed for good (auth, bad request, retries)
    ├── SandboxError (RuntimeError)     the sandbox could not be set up or run a command
    └── VerifierError (RuntimeError)    a verifier module is missing or broken (not a bad output)

Messages follow one shape: where, the bad value, what was expected, how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "MissingDataError",
    "ModelError",
    "RealfinError",
    "SandboxError",
    "TaskSpecError",
    "VerifierError",
]


class RealfinError(Exception):
    """Base of every error raised on purpose by pytest-realfin."""


class ConfigError(RealfinError, ValueError):
    """A command-line option, ini key or model-registry entry has a bad value."""


class TaskSpecError(RealfinError, ValueError):
    """A task file does not match the task schema."""


class DataError(RealfinError, ValueError):
    """A market-data file is corrupt, truncated or in the wrong layout."""


class MissingDataError(DataError):
    """A dataset or column is absent from the cache; tasks needing it are skipped, not failed."""


class ModelError(RealfinError, RuntimeError):
    """The model endpoint failed in a way retrying will not fix, or the retries ran out.

    Attributes:
        retryable: whether the last failure was transient (retries ran out) or permanent.
    """

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class SandboxError(RealfinError, RuntimeError):
    """The sandbox could not be created or could not run a command."""


class VerifierError(RealfinError, RuntimeError):
    """A verifier module is missing, does not export the contract, or crashed on the truth."""
