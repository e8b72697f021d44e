"""atomic.py: a file is replaced whole, with the permissions open() would give, or not at all."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pytest_realfin.atomic import write_text_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_with_ordinary_permissions_and_leaves_no_temp(tmp_path: Path) -> None:
    reference = tmp_path / "plain.txt"
    reference.write_text("x", encoding="utf-8")
    target = tmp_path / "sub" / "result.json"
    write_text_atomic(target, "{}\n")
    write_text_atomic(target, '{"a": 1}\n')
    assert target.read_text(encoding="utf-8") == '{"a": 1}\n'
    assert _mode(target) == _mode(reference)
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "trajectory.json"
    write_text_atomic(target, "old\n")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "half \ud800 written")  # a lone surrogate cannot be UTF-8
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["trajectory.json"]
