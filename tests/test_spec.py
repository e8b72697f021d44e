"""spec.py: task files load into frozen models; a malformation is one line naming file and key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pytest_realfin.errors import TaskSpecError
from pytest_realfin.spec import OutputContract, Prompt, TaskSpec, discover_tasks, load_task

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = {
    "schema_version": 1,
    "id": "task_09_demo",
    "name": "演示",
    "category": "demo",
    "cutoff": "2024-05-31",
    "prompt": {"zh": "写 42", "en": "write 42"},
    "output": {"file": "answer.txt"},
}


def _write(tmp_path: Path, data: object, task_id: str = "task_09_demo") -> Path:
    folder = tmp_path / task_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "task.yaml"
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_task_loads_and_its_public_view_hides_grading() -> None:
    paths = discover_tasks(ROOT / "tasks")
    assert len(paths) >= 3
    for path in paths:
        spec = load_task(path)
        view = spec.public_view()
        assert view["id"] == spec.id == path.parent.name
        assert "tolerances" not in view["output"]
        assert view["prompt"]["zh"]
        assert view["prompt"]["en"]


def test_minimal_task_gets_the_defaults(tmp_path: Path) -> None:
    spec = load_task(_write(tmp_path, MINIMAL))
    assert spec.cutoff == dt.date(2024, 5, 31)
    assert spec.timeout_seconds == 300
    assert spec.output.header is False
    assert spec.output.no_result_line is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"promt": "x"}, "key 'promt' is not allowed; remove it or fix its spelling"),
        ({"output": {"file": "a.txt", "colums": []}}, "key 'output.colums' is not allowed"),
        ({"name": None}, "name=None is invalid"),
        ({"cutoff": "31/05/2024"}, "cutoff='31/05/2024' is invalid"),
        ({"output": {"file": "../escape.txt"}}, "output.file='../escape.txt' is invalid"),
        ({"output": {"file": "a.txt", "max_rows": 0}}, "output.max_rows=0 is invalid"),
        ({"timeout_seconds": 1}, "timeout_seconds=1 is invalid"),
        ({"schema_version": 2}, "schema_version=2 is invalid"),
        ({"id": "task_9_demo"}, "id='task_9_demo' is invalid"),
    ],
)
def test_malformed_field_is_one_line_naming_file_and_key(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = _write(tmp_path, {**MINIMAL, **change})
    with pytest.raises(TaskSpecError) as info:
        load_task(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ")
    assert message in text
    assert "\n" not in text


def test_missing_key_says_to_add_it(tmp_path: Path) -> None:
    data = {k: v for k, v in MINIMAL.items() if k != "prompt"}
    with pytest.raises(TaskSpecError, match=r"key 'prompt' is missing; add it"):
        load_task(_write(tmp_path, data))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: [unclosed", "cannot be read as YAML"),
        ("- just\n- a list\n", "top level is list, expected a mapping"),
        ("", "top level is NoneType, expected a mapping"),
    ],
)
def test_unreadable_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TaskSpecError, match=message) as info:
        load_task(_write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_id_must_match_its_folder(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL, task_id="task_10_other")
    with pytest.raises(TaskSpecError, match="differs from its folder 'task_10_other'"):
        load_task(path)


def test_spec_is_frozen() -> None:
    spec = TaskSpec.model_validate(MINIMAL)
    with pytest.raises(ValueError, match="frozen"):
        spec.name = "changed"  # type: ignore[misc]


_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
_name = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@given(
    number=st.integers(0, 99),
    slug=st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True),
    prompt=st.builds(Prompt, zh=_text, en=_text),
    output=st.builds(
        OutputContract,
        file=st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True),
        columns=st.lists(_name, max_size=4).map(tuple),
        header=st.booleans(),
        no_result_line=st.none() | _text,
        max_rows=st.none() | st.integers(1, 50),
        decimals=st.dictionaries(_name, st.integers(0, 6), max_size=3),
        tolerances=st.dictionaries(_name, st.floats(0, 1, allow_nan=False), max_size=3),
    ),
    cutoff=st.dates(dt.date(2020, 1, 2), dt.date(2026, 3, 31)),
)
def test_dump_then_load_round_trips(
    tmp_path_factory: pytest.TempPathFactory,
    number: int,
    slug: str,
    prompt: Prompt,
    output: OutputContract,
    cutoff: dt.date,
) -> None:
    spec = TaskSpec(
        id=f"task_{number:02d}_{slug}",
        name="名",
        category="c",
        cutoff=cutoff,
        prompt=prompt,
        output=output,
    )
    # Escaped (not raw) non-ASCII: YAML folds a raw NEL or U+2028 inside a scalar into a space.
    text = yaml.safe_dump(spec.model_dump(mode="json"), allow_unicode=False)
    path = _write(tmp_path_factory.mktemp("spec"), text, spec.id)
    assert load_task(path) == spec
