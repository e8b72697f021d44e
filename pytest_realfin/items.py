"""Collection: ``tasks/<task_id>/task.yaml`` becomes one ``pytest.Function`` item per repeat.

The items are real ``Function`` items around a generated test function, so fixtures work on them,
including a user's ``realfin_agent`` override in a conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_realfin.errors import TaskSpecError
from pytest_realfin.spec import TaskSpec, load_task

__all__ = ["NO_MODEL_REASON", "TaskFile", "TaskItem"]

NO_MODEL_REASON = (
    "no model configured: pass --realfin-model NAME (e.g. --realfin-model oracle) "
    "or set the ini key realfin_model to run RealFin tasks"
)


class TaskItem(pytest.Function):
    """One attempt (``repeat``) of one task; ``spec`` is the validated task file."""

    spec: TaskSpec
    repeat: int

    def reportinfo(self) -> tuple[Path, int, str]:
        """Point reports at the task file, not at the generated test function."""
        return self.path, 0, f"{self.spec.id}[r{self.repeat}]"


class TaskFile(pytest.File):
    """A ``task.yaml``: a malformed one is a one-line collection error naming file, key and fix."""

    def __init__(
        self,
        *,
        test_function: Callable[..., None],
        repeats: int,
        skip_reason: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.test_function = test_function
        self.repeats = repeats
        self.skip_reason = skip_reason

    def collect(self) -> Iterator[TaskItem]:
        """Yield ``task_id[r0]`` … ``task_id[r<repeats-1>]``."""
        try:
            spec = load_task(self.path)
        except TaskSpecError as exc:
            raise self.CollectError(str(exc)) from None
        for repeat in range(self.repeats):
            item = TaskItem.from_parent(
                self,
                name=f"{spec.id}[r{repeat}]",
                callobj=self.test_function,
                originalname=spec.id,
                keywords={spec.id: True, spec.category: True},
            )
            item.spec = spec
            item.repeat = repeat
            item.add_marker(pytest.mark.realfin(task=spec.id, category=spec.category))
            if self.skip_reason is not None:
                item.add_marker(pytest.mark.skip(reason=self.skip_reason))
            yield item
