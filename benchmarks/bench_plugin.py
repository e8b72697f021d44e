"""Plugin cost and parallel speed-up.

1. Collection: ``pytest --collect-only -q`` of the repository's tasks with the plugin versus
   pytest's own start-up without it (``-p no:realfin``), and the same over 40 generated tasks.
   Target: the plugin adds <= 0.5 s.
2. Latency-bound run: 40 generated tasks, each driven through the real harness (OpenAIModel, local
   sandbox, verifier) by the loopback fake OpenAI server with 200 ms latency per call and 8 turns
   per task, at ``-n 1`` versus ``-n 8``. Target: speed-up >= 6x (the limit is 8x). The CPU of
   each run (pytest and its workers; the fake server's own is not counted) is printed, and one more
   ``-n 8`` run at zero latency shows the work that does not overlap with model latency: on a
   machine with fewer cores than workers, the start of 8 workers (interpreter, plugins, the openai
   SDK) is CPU-bound and comes before any model call, so it adds to the latency floor.

Unrelated third-party plugins installed here (hypothesis, pytest-benchmark, anyio) are switched off
(``UNRELATED``) because with ``PYTHONDONTWRITEBYTECODE`` set pytest re-rewrites their ~120 modules
in every process, about 1 s of CPU per xdist worker that has nothing to do with this plugin. The
collection figures are printed both ways.

    python3 benchmarks/bench_plugin.py [--tasks 40] [--latency 0.2] [--turns 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNRELATED = ["-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:anyio"]
sys.path.insert(0, str(ROOT))

from tests.fakeserver import FakeOpenAI, bash_call  # noqa: E402

TASK = """\
schema_version: 1
id: {id}
name: 基准任务
category: bench
cutoff: 2024-04-08
prompt:
  zh: "写入 42 到 answer.txt"
  en: "write 42 to answer.txt"
output:
  file: answer.txt
"""
VERIFIER = """\
from pytest_realfin.results import Predicate

def expected(market):
    return "42"

def check(output_text, answer):
    ok = output_text.strip() == answer
    return {"value": Predicate(ok=ok, detail=f"expected {answer}", kind="answer")}
"""
CONFTEST = """\
import pytest

class _NoMarket:
    fingerprint = "none"
    missing = frozenset()
    def require(self, *needs):
        pass

@pytest.fixture(scope="session")
def realfin_market():
    return _NoMarket()
"""
# Each turn bumps a counter in the workspace; the last one writes the answer and submits.
COMMAND = (
    "n=$(cat .turns 2>/dev/null || echo 0); n=$((n+1)); echo $n > .turns; "
    'if [ "$n" -ge {turns} ]; then echo 42 > answer.txt; '
    "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT; fi"
)


def make_project(root: Path, n_tasks: int) -> None:
    (root / "verifiers").mkdir(parents=True)
    (root / "data").mkdir()
    for i in range(n_tasks):
        task_id = f"task_{i:02d}_bench"
        (root / "tasks" / task_id).mkdir(parents=True)
        (root / "tasks" / task_id / "task.yaml").write_text(TASK.format(id=task_id), "utf-8")
        (root / "verifiers" / f"{task_id}.py").write_text(VERIFIER, "utf-8")
    (root / "conftest.py").write_text(CONFTEST, "utf-8")
    (root / "pytest.ini").write_text("[pytest]\nrealfin_data = data\n", "utf-8")


def pytest_run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    wall, _, out = pytest_timed(args, cwd, env)
    return wall, out


def pytest_timed(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds of pytest and every process it started, and stdout."""
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = sum(getattr(after, f) - getattr(before, f) for f in ("children_user", "children_system"))
    if proc.returncode not in (0, 5):
        sys.exit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    return wall, cpu, proc.stdout


def median_wall(args: list[str], cwd: Path, repeats: int) -> float:
    return statistics.median(pytest_run(args, cwd)[0] for _ in range(repeats))


def bench_collection(project: Path, repeats: int) -> None:
    print(f"collection (median wall of {repeats} runs of `pytest --collect-only -q`)")
    cases = (("repo tasks", ROOT), ("40 tasks", project))
    for (label, cwd), extra in ((c, e) for e in ([], UNRELATED) for c in cases):
        bare = median_wall(
            [*extra, "-p", "no:realfin", "--collect-only", "-q", "tasks"], cwd, repeats
        )
        model = [*extra, "--realfin-model", "oracle", "--collect-only", "-q"]
        withp = median_wall(model, cwd, repeats)
        added = withp - bare
        verdict = "ok" if added <= 0.5 else "OVER TARGET"
        plugins = "lean" if extra else "all plugins"
        print(
            f"  {label:<11} {plugins:<11} no plugin {bare:5.2f} s  with plugin {withp:5.2f} s  "
            f"added {added:+.2f} s  ({verdict})"
        )


def session_seconds(stdout: str) -> float:
    match = re.search(r" in ([0-9.]+)s", stdout.strip().splitlines()[-1])
    return float(match.group(1)) if match else float("nan")


@dataclass(frozen=True)
class ParallelRun:
    wall: float
    session: float
    cpu: float
    startup: float
    """Launch to the first attempt's start: interpreter, plugins, collection, the openai import."""
    attempts: float
    """First attempt's start to the last one's end: where model latency is."""
    out: str

    def line(self, label: str, floor: float | None) -> str:
        text = (
            f"  {label}: wall {self.wall:5.1f} s (start-up {self.startup:4.1f} s, attempts "
            f"{self.attempts:5.1f} s, exit {self.wall - self.startup - self.attempts:4.1f} s), "
            f"session {self.session:5.1f} s, CPU {self.cpu:5.1f} s"
        )
        return text + (f" (latency floor {floor:.1f} s)" if floor is not None else "")


def _parallel_run(
    project: Path, server: FakeOpenAI, workers: int, turns: int, tag: str
) -> ParallelRun:
    args = [
        "--realfin-model", "fake-model", "--realfin-base-url", server.base_url,
        "--realfin-api-key-env", "BENCH_FAKE_KEY", "--realfin-sandbox", "local",
        "--realfin-max-turns", str(turns + 2), "-n", str(workers), "-q",
        "--realfin-run-dir", f"run-{tag}", *UNRELATED,
    ]  # fmt: skip
    launched = time.time()
    wall, cpu, out = pytest_timed(args, project, {**os.environ, "BENCH_FAKE_KEY": "k"})
    spans = []
    for path in (project / f"run-{tag}").glob("*/r*/trajectory.json"):
        data = json.loads(path.read_text("utf-8"))
        stamps = (data["started_at"], data["finished_at"])
        spans.append(tuple(dt.datetime.fromisoformat(s).timestamp() - launched for s in stamps))
    first = min((s for s, _ in spans), default=float("nan"))
    last = max((e for _, e in spans), default=float("nan"))
    return ParallelRun(wall, session_seconds(out), cpu, first, last - first, out)


def bench_parallel(project: Path, n_tasks: int, latency: float, turns: int) -> None:
    cores = os.cpu_count() or 1
    print(
        f"latency-bound run: {n_tasks} tasks x {turns} turns x {latency * 1000:.0f} ms per call; "
        f"{cores} cores, load {os.getloadavg()[0]:.1f}"
    )
    reply = bash_call(COMMAND.format(turns=turns))
    runs = {}
    with FakeOpenAI(default=reply, latency_s=latency) as server:
        for workers in (1, 8):
            run = _parallel_run(project, server, workers, turns, f"n{workers}")
            if f"{n_tasks} passed" not in run.out:
                sys.exit(f"-n {workers}: not all tasks passed:\n{run.out[-3000:]}")
            runs[workers] = run
            print(run.line(f"-n {workers}", n_tasks * turns * latency / workers))
    one, eight = runs[1], runs[8]
    print(
        f"  speed-up -n 8 vs -n 1: wall {one.wall / eight.wall:.2f}x, "
        f"session {one.session / eight.session:.2f}x (target >= 6x)"
    )
    with FakeOpenAI(default=reply) as server:
        zero = _parallel_run(project, server, 8, turns, "zero")
    print(zero.line("-n 8, zero latency", None))
    print(
        f"  CPU of the zero-latency run / {cores} cores = {zero.cpu / cores:.1f} s: work that "
        f"latency cannot hide when workers outnumber cores (the start-up comes before any call)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-parallel", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="realfin-bench-") as tmp:
        project = Path(tmp)
        make_project(project, args.tasks)
        bench_collection(project, args.repeats)
        if not args.skip_parallel:
            bench_parallel(project, args.tasks, args.latency, args.turns)


if __name__ == "__main__":
    main()
