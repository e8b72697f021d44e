"""Load and validate ``tasks/<task_id>/task.yaml`` into frozen models; the only task YAML parser.

A task file is an interface with the agent (the prompt and the output contract) and with the
verifier (decimals, tolerances, the no-result line), so every key is typed and unknown keys are
errors.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pytest_realfin.errors import TaskSpecError

__all__ = ["Lang", "OutputContract", "Prompt", "TaskSpec", "discover_tasks", "load_task"]

Lang = Literal["zh", "en"]
"""The two prompt languages."""

_TASK_ID = re.compile(r"^task_\d{2}_[a-z0-9_]+$")
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML has it: every xdist worker parses every task file."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Prompt(_Frozen):
    """The task text in both languages; each must pin every ambiguity the verifier decides."""

    zh: str = Field(min_length=1)
    """Chinese prompt (the default, as in the original benchmark)."""
    en: str = Field(min_length=1)
    """English prompt with the same content."""

    def text(self, lang: Lang) -> str:
        """The prompt in ``lang``."""
        return self.zh if lang == "zh" else self.en


class OutputContract(_Frozen):
    """What the single output file must look like."""

    file: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    """File name in the workspace root."""
    columns: tuple[str, ...] = ()
    """Column names in order, for comma-separated rows (empty for free-form outputs)."""
    header: bool = False
    """Whether the first line is the header ``",".join(columns)``."""
    no_result_line: str | None = None
    """The exact line to write when nothing qualifies, or None when no empty answer is allowed."""
    max_rows: int | None = Field(default=None, ge=1)
    """Row cap (after the header), or None."""
    ordering: str = ""
    """How rows are ordered, including the tie-break (restated from the prompt for reviewers)."""
    decimals: dict[str, int] = {}
    """Decimal places per numeric column."""
    tolerances: dict[str, float] = {}
    """Absolute tolerance per numeric column (normally half a unit of the requested rounding)."""


class TaskSpec(_Frozen):
    """One RealFin task as the harness, the agent and the verifier see it."""

    schema_version: Literal[1] = 1
    id: str
    """``task_NN_slug``; also the verifier module name and the test id."""
    name: str
    """Short Chinese title from the original benchmark."""
    category: str
    cutoff: dt.date
    """The analysis date: no bar after it is used unless the prompt says so."""
    timeout_seconds: int = Field(default=300, ge=10)
    """Wall-time budget of one attempt (the original per-task value)."""
    prompt: Prompt
    output: OutputContract
    data_needs: tuple[str, ...] = ()
    """Datasets (``daily``, ``index``, ``industry``...) or ``daily:<column>`` the task needs."""

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _TASK_ID.match(value):
            msg = f"id={value!r} is not of the form task_NN_slug (e.g. task_01_macd_rsi_filter)"
            raise ValueError(msg)
        return value

    def public_view(self) -> dict[str, Any]:
        """What the agent may see (``task.json``): never the verifier, tolerances or answers."""
        out = self.output
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "cutoff": self.cutoff.isoformat(),
            "prompt": {"zh": self.prompt.zh, "en": self.prompt.en},
            "output": {
                "file": out.file,
                "columns": list(out.columns),
                "header": out.header,
                "no_result_line": out.no_result_line,
                "max_rows": out.max_rows,
                "ordering": out.ordering,
                "decimals": dict(out.decimals),
            },
        }


def _first_error(path: Path, exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "<root>"
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        return f"{path}: key {where!r} is not allowed; remove it or fix its spelling"
    if err["type"] == "missing":
        return f"{path}: key {where!r} is missing; add it (see tasks/README.md)"
    return f"{path}: {where}={value!r} is invalid: {err['msg']}"


def load_task(path: Path) -> TaskSpec:
    """Parse one task file.

    Raises:
        TaskSpecError: with one line naming the file, the key, the bad value and the fix.
    """
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        msg = f"{path}: cannot be read as YAML ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        raise TaskSpecError(msg) from None
    if not isinstance(raw, dict):
        msg = f"{path}: top level is {type(raw).__name__}, expected a mapping of task keys"
        raise TaskSpecError(msg)
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        raise TaskSpecError(_first_error(path, exc)) from None
    if spec.id != path.parent.name:
        msg = (
            f"{path}: id={spec.id!r} differs from its folder {path.parent.name!r}; make them equal"
        )
        raise TaskSpecError(msg)
    return spec


def discover_tasks(tasks_dir: Path) -> list[Path]:
    """Every ``task.yaml`` under ``tasks_dir``, sorted by task id."""
    return sorted(tasks_dir.glob("task_*/task.yaml"))
