"""Grade a workspace: load ``verifiers/<task_id>.py``, read the output, run ``check``, classify.

Verification runs in the pytest process after the agent has stopped and reads the output file only.
The expected answer is computed from the market data (never stored) and cached per task and data
fingerprint, so repeats of a task pay for it once per process.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_realfin.errors import MissingDataError, VerifierError
from pytest_realfin.results import FailureClass, Predicate, PredicateKind

__all__ = [
    "MAX_OUTPUT_BYTES",
    "Grade",
    "VerifierSet",
    "classify",
    "grade_text",
    "grade_workspace",
    "read_output",
]

MAX_OUTPUT_BYTES = 1 << 20
"""Outputs above 1 MiB are rejected unread: no task asks for more than a few hundred rows."""

_CLASS_OF_KIND: tuple[tuple[PredicateKind, FailureClass], ...] = (
    ("file", "no_output_file"),
    ("format", "invalid_output"),
    ("answer", "wrong_answer"),
)


@dataclass(frozen=True)
class Grade:
    """The verdict on one output file: every predicate, and the failure class when one failed."""

    predicates: dict[str, Predicate]
    failure_class: FailureClass | None

    @property
    def success(self) -> bool:
        """Every predicate held."""
        return all(p.ok for p in self.predicates.values())


def classify(predicates: Mapping[str, Predicate]) -> FailureClass | None:
    """The failure class of a set of predicates, or None when all hold.

    The kind decides, not the order: a missing file outranks a broken format, which outranks a wrong
    answer, so every failed attempt gets exactly one class.
    """
    failing = {p.kind for p in predicates.values() if not p.ok}
    for kind, failure in _CLASS_OF_KIND:
        if kind in failing:
            return failure
    return None


def read_output(
    path: Path, limit: int = MAX_OUTPUT_BYTES
) -> tuple[str | None, dict[str, Predicate]]:
    """Read the output file as UTF-8 text (BOM stripped), or say why it cannot be graded.

    Returns:
        ``(text, predicates)``: the text (None when unusable) and the ``file_created`` predicate,
        plus a failed ``format`` predicate when the file is too large or not UTF-8.
    """
    name = path.name
    if not path.is_file():
        observed = "a directory" if path.is_dir() else "nothing"
        detail = f"expected the file {name} in the workspace root; found {observed}"
        return None, {"file_created": Predicate(ok=False, detail=detail, kind="file")}
    size = path.stat().st_size
    created = {
        "file_created": Predicate(ok=True, detail=f"{name} exists ({size} bytes)", kind="file")
    }
    if size > limit:
        detail = f"expected at most {limit} bytes; observed {size} bytes"
        return None, {**created, "output_size": Predicate(ok=False, detail=detail, kind="format")}
    raw = path.read_bytes()[:limit]
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), created
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        detail = f"expected UTF-8 text; byte 0x{bad} at offset {exc.start} is not UTF-8"
        return None, {**created, "utf8": Predicate(ok=False, detail=detail, kind="format")}


CheckFn = Callable[[str, Any], Mapping[str, Predicate]]


def _cause(exc: BaseException) -> str:
    """``Type: first line``: what a verifier raised, kept to one line for the error message."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def grade_text(task_id: str, text: str, answer: Any, check: CheckFn) -> dict[str, Predicate]:
    """Run a verifier's ``check`` and validate what it returns.

    Raises:
        VerifierError: ``check`` raised or returned something other than named predicates; a
            verifier must turn hostile output into failed predicates, so either is a verifier bug.
    """
    try:
        result = check(text, answer)
    except Exception as exc:  # the verifier boundary: any crash here is the verifier's bug
        msg = (
            f"verifiers/{task_id}.py: check() raised {_cause(exc)} on the agent's "
            f"output; a verifier must return failed predicates, not raise — fix the verifier"
        )
        raise VerifierError(msg) from exc
    if not isinstance(result, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Predicate) for k, v in result.items()
    ):
        msg = (
            f"verifiers/{task_id}.py: check() returned {type(result).__name__}; "
            f"expected dict[str, Predicate]"
        )
        raise VerifierError(msg)
    return dict(result)


class VerifierSet:
    """The verifier modules of one ``verifiers/`` folder, with their expected answers cached.

    Args:
        verifiers_dir: the folder holding ``<task_id>.py`` modules.
        max_output_bytes: the output size cap.
    """

    def __init__(self, verifiers_dir: Path, max_output_bytes: int = MAX_OUTPUT_BYTES) -> None:
        self.verifiers_dir = verifiers_dir
        self.max_output_bytes = max_output_bytes
        self._modules: dict[str, ModuleType] = {}
        self._answers: dict[tuple[str, str], Any] = {}

    def module(self, task_id: str) -> ModuleType:
        """Import ``<verifiers_dir>/<task_id>.py`` once.

        Raises:
            VerifierError: the file is missing, does not import, or lacks ``expected``/``check``.
        """
        if task_id in self._modules:
            return self._modules[task_id]
        path = self.verifiers_dir / f"{task_id}.py"
        if not path.is_file():
            msg = (
                f"{path}: no verifier for task {task_id!r}; add it, exporting "
                f"expected(market) and check(output_text, answer)"
            )
            raise VerifierError(msg)
        name = f"realfin_verifiers.{task_id}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a spec
            msg = f"{path}: cannot be imported as a Python module"
            raise VerifierError(msg)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # importing user code: report the cause in one line
            sys.modules.pop(name, None)
            msg = f"{path}: import failed ({_cause(exc)}); fix the verifier module"
            raise VerifierError(msg) from exc
        for attr in ("expected", "check"):
            if not callable(getattr(module, attr, None)):
                msg = f"{path}: does not define {attr}(); a verifier exports expected and check"
                raise VerifierError(msg)
        self._modules[task_id] = module
        return module

    def expected(self, task_id: str, market: Any) -> Any:
        """The task's expected answer on ``market``, computed once per data fingerprint.

        Raises:
            MissingDataError: the data lacks something the verifier needs (the task is skipped).
            VerifierError: the verifier crashed on the truth.
        """
        key = (task_id, str(getattr(market, "fingerprint", id(market))))
        if key not in self._answers:
            module = self.module(task_id)
            try:
                self._answers[key] = module.expected(market)
            except MissingDataError:
                raise
            except Exception as exc:  # the verifier boundary, as in grade_text
                msg = (
                    f"verifiers/{task_id}.py: expected(market) raised {_cause(exc)}; "
                    f"the verifier cannot compute the truth on this data — fix the verifier"
                )
                raise VerifierError(msg) from exc
        return self._answers[key]

    def grade(self, task_id: str, output_path: Path, market: Any) -> Grade:
        """Grade one output file against the expected answer on ``market``.

        Raises:
            VerifierError: the verifier is missing or broken (never because the output is bad).
        """
        answer = self.expected(task_id, market)
        text, predicates = read_output(output_path, self.max_output_bytes)
        if text is not None:
            checked = grade_text(task_id, text, answer, self.module(task_id).check)
            checked.pop("file_created", None)
            predicates.update(checked)
        return Grade(predicates=predicates, failure_class=classify(predicates))


def grade_workspace(
    task_id: str,
    workspace: Path,
    *,
    data_dir: Path | None = None,
    tasks_dir: Path = Path("tasks"),
    verifiers_dir: Path | None = None,
) -> dict[str, Any]:
    """Re-score an existing workspace (``realfin grade``): the verdict as a JSON-able dict.

    Args:
        task_id: the task whose output contract and verifier apply.
        workspace: the folder holding the output file.
        data_dir: the ``api_cache`` the agent saw (default: the embedded default data set).
        tasks_dir: where ``<task_id>/task.yaml`` lives.
        verifiers_dir: where ``<task_id>.py`` lives (default: ``verifiers/`` next to ``tasks_dir``).

    Raises:
        TaskSpecError: the task file is missing or malformed.
        VerifierError: the verifier is missing or broken.
    """
    from pytest_realfin.market import Market, default_dataset
    from pytest_realfin.spec import load_task

    spec = load_task(tasks_dir / task_id / "task.yaml")
    if not workspace.is_dir():
        msg = f"workspace={str(workspace)!r} is not a folder; pass the attempt's workspace folder"
        raise VerifierError(msg)
    market = Market.load(data_dir if data_dir is not None else default_dataset())
    verifiers = VerifierSet(verifiers_dir or tasks_dir.parent / "verifiers")
    grade = verifiers.grade(spec.id, workspace / spec.output.file, market)
    return {
        "task_id": spec.id,
        "workspace": str(workspace),
        "output_file": spec.output.file,
        "success": grade.success,
        "failure_class": grade.failure_class,
        "predicates": {name: p.model_dump(mode="json") for name, p in grade.predicates.items()},
    }
