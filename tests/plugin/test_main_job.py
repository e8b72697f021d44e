"""The README's main job for real: the oracle on a pilot task through bubblewrap and grading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_realfin.sandbox import bwrap_problem

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_oracle_passes_a_pilot_task_end_to_end(tmp_path: Path, default_api_cache: Path):
    if bwrap_problem() is not None:
        pytest.skip(f"bubblewrap unusable here: {bwrap_problem()}")
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "pytest", "--realfin-model", "oracle", "-k", "task_03",
        "--realfin-sandbox", "bwrap", "--realfin-run-dir", str(run_dir),
        "-p", "no:cacheprovider", "-p", "no:benchmark",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "1 passed" in proc.stdout
    assert "| oracle | 1/1 " in proc.stdout
    document = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    (record,) = document["results"]["realfin_benchmark"]
    assert record["task_id"] == "task_03_volatility_ranking"
    assert record["success"] is True
    assert record["exit_status"] == "submitted"
    assert {"file_created", "codes", "values", "order"} <= record["predicates"].keys()
    trajectory = (run_dir / record["run_dir"] / "trajectory.json").read_text(encoding="utf-8")
    assert str(default_api_cache) not in trajectory
    assert str(ROOT) not in trajectory
