"""The pilots' standalone solutions agree with their verifiers on the default data.

Each ``tasks/<id>/solution.py`` runs as an agent's script would: in a fresh workspace whose
``api_cache`` points at the data, with no access to ``pytest_realfin``. Two independent
implementations that agree are the check on both.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_realfin.spec import load_task
from pytest_realfin.verify import classify
from tests.pilots import PILOTS, ROOT, verifier


@pytest.mark.parametrize("task_id", PILOTS)
def test_solution_is_standalone(task_id: str) -> None:
    tree = ast.parse((ROOT / "tasks" / task_id / "solution.py").read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {m for m in imported if m.split(".")[0] in ("pytest_realfin", "verifiers")}


@pytest.mark.slow
@pytest.mark.parametrize("task_id", PILOTS)
def test_solution_output_passes_the_verifier(
    task_id: str, tmp_path: Path, default_api_cache: Path, default_market: Any
) -> None:
    (tmp_path / "api_cache").symlink_to(default_api_cache, target_is_directory=True)
    script = ROOT / "tasks" / task_id / "solution.py"
    run = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    output = tmp_path / load_task(ROOT / "tasks" / task_id / "task.yaml").output.file
    text = output.read_text(encoding="utf-8")
    module = verifier(task_id)
    answer = module.expected(default_market)
    preds = module.check(text, answer)
    failing = {k: p.detail for k, p in preds.items() if not p.ok}
    assert classify(preds) is None, failing
    assert answer.rows, "the oracle must find a non-empty answer on the default data"
