"""summary.py: totals over any split of the attempts equal the whole (the xdist-safety property)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_realfin.results import TaskResult, Usage
from pytest_realfin.summary import Summary, summarize, wilson_interval

_USAGE = st.builds(
    Usage,
    input_tokens=st.integers(0, 10**6),
    cached_input_tokens=st.integers(0, 10**5),
    output_tokens=st.integers(0, 10**5),
    calls=st.integers(0, 20),
    unknown_calls=st.integers(0, 2),
)


@st.composite
def results(draw) -> TaskResult:
    failure = draw(
        st.sampled_from([None, "no_output_file", "invalid_output", "wrong_answer", "agent_error"])
    )
    success = failure is None and draw(st.booleans())
    return TaskResult(
        task_id="task_01_x",
        model="m",
        success=success,
        failure_class=failure,
        usage=draw(_USAGE),
        duration_s=float(draw(st.integers(0, 100))),
    )


@given(st.lists(results(), max_size=30), st.data())
def test_any_partition_sums_to_the_whole(items, data):
    cut = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=4)))
    parts = [items[a:b] for a, b in zip([0, *cut], [*cut, len(items)], strict=True)]
    shuffled = data.draw(st.permutations(parts))
    total = Summary()
    for part in shuffled:
        total = total + summarize(part)
    assert total == summarize(items)


@given(st.lists(results(), max_size=30))
def test_counts_are_consistent(items):
    s = summarize(items)
    assert s.tasks == len(items)
    assert s.successes == sum(r.success for r in items)
    assert s.failed == (
        s.no_output_file + s.invalid_output + s.wrong_answer + s.agent_errors + s.unclassified
    )
    assert 0.0 <= s.accuracy <= 1.0
    low, high = wilson_interval(s.successes, s.tasks)
    assert 0.0 <= low <= s.accuracy + 1e-9
    assert s.accuracy - 1e-9 <= high <= 1.0


def test_empty_run():
    s = summarize([])
    assert (s.tasks, s.accuracy, s.efficiency) == (0, 0.0, 0.0)
    assert s.to_dict()["accuracy_ci95"] == [0.0, 1.0]


def test_efficiency_is_successes_per_million_total_tokens_rounded_like_the_seed():
    usage = Usage(input_tokens=600_000, cached_input_tokens=100_000, output_tokens=300_000)
    ok = TaskResult(task_id="task_01_x", model="m", success=True, usage=usage)
    s = summarize([ok, ok.model_copy(update={"success": False, "failure_class": "wrong_answer"})])
    assert s.usage.total_tokens == 2_000_000
    assert s.efficiency == 0.5
    d = s.to_dict()
    assert d["input_tokens"] == 1_400_000  # the seed's input = the whole prompt, cached included
    assert d["cached_input_tokens"] == 200_000
    assert d["total_tokens"] == d["input_tokens"] + d["output_tokens"]
