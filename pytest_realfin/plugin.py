"""The pytest plugin (entry point ``realfin``): every hook, option, ini key, fixture and StashKey.

Workers compute; only the xdist controller (or the single process without xdist) aggregates the
per-test records that ride on the reports, prints the summary and writes results.json and table.md.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_realfin import report as rp
from pytest_realfin.errors import ConfigError, MissingDataError
from pytest_realfin.items import NO_MODEL_REASON, TaskFile, TaskItem
from pytest_realfin.results import TaskResult
from pytest_realfin.runner import (
    Agent,
    AgentRun,
    Attempt,
    HarnessAgent,
    SkillContext,
    agent_error_result,
    attempt_dir,
    fresh_workspace,
    grade_attempt,
    run_agent_phase,
)
from pytest_realfin.settings import (
    OPTIONS,
    Lookup,
    Settings,
    dest,
    missing_key,
    parse_settings,
)
from pytest_realfin.summary import Summary, summarize
from pytest_realfin.verify import VerifierSet

__all__ = ["RealfinReporter", "realfin_task", "settings_key"]

_WORKERINPUT_RUN_DIR = "realfin_run_dir"


settings_key = pytest.StashKey[Settings]()
verifiers_key = pytest.StashKey[VerifierSet]()
reporter_key = pytest.StashKey["RealfinReporter"]()
result_key = pytest.StashKey[TaskResult]()
reported_key = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--realfin-*`` options and their ``realfin_*`` ini keys."""
    group = parser.getgroup("realfin", "RealFin-Bench agent evaluation")
    for noun, metavar, text in OPTIONS:
        name = dest(noun)
        group.addoption(f"--realfin-{noun}", dest=name, metavar=metavar, default=None, help=text)
        parser.addini(name, f"{text} (ini form of --realfin-{noun})", type="string", default="")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """With a model and no paths, collect the tasks folder instead of ``testpaths``.

    Done this early (the option values are known, the paths not yet decided) so that pytest loads
    the tasks' conftest files, not those of ``testpaths`` (the project's own tests, with their
    heavier fixtures). ``pytest_configure`` validates the same options and repeats the switch.
    """
    namespace = early_config.known_args_namespace
    if namespace.file_or_dir or getattr(namespace, "pyargs", False):
        return
    lookup = _lookup(early_config, namespace)
    if lookup("model")[0] is None:
        return
    value, _, base = lookup("tasks")
    tasks = (base / value).resolve() if value else early_config.rootpath / "tasks"
    if tasks.is_dir():
        args.append(str(tasks))
        namespace.file_or_dir = [str(tasks)]


def _lookup(config: pytest.Config, namespace: Any = None) -> Lookup:
    """Raw option values, command line over ini (``namespace``: the early, partial parse)."""

    def lookup(noun: str) -> tuple[str | None, str, Path]:
        value = getattr(namespace, dest(noun), None) if namespace else config.getoption(dest(noun))
        if value is not None:
            return str(value), f"--realfin-{noun}", config.invocation_params.dir
        ini = str(config.getini(dest(noun)) or "").strip()
        base = config.inipath.parent if config.inipath else config.rootpath
        return (ini or None), f"ini {dest(noun)}", base

    return lookup


def _settings(config: pytest.Config) -> Settings:
    """Validate every option once; a bad value is a one-line ``UsageError`` naming the fix."""
    workerinput = getattr(config, "workerinput", {})
    run_dir = workerinput.get(_WORKERINPUT_RUN_DIR)
    try:
        return parse_settings(
            _lookup(config),
            rootpath=config.rootpath,
            run_dir=Path(run_dir) if run_dir else None,
        )
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    """Validate options; point collection at the tasks when a model is given without paths."""
    config.addinivalue_line("markers", "realfin(task, category): a RealFin-Bench task attempt")
    settings = _settings(config)
    problem = missing_key(settings, os.environ)
    if problem and not config.option.collectonly:
        raise pytest.UsageError(problem)
    config.stash[settings_key] = settings
    config.stash[verifiers_key] = VerifierSet(settings.verifiers_dir)
    if settings.model is not None and config.args_source != pytest.Config.ArgsSource.ARGS:
        # `pytest --realfin-model X` means "run the benchmark", not testpaths (the project's tests).
        if not settings.tasks_dir.is_dir():
            msg = (
                f"--realfin-model={settings.model!r}: the tasks folder {settings.tasks_dir} "
                f"does not exist; pass --realfin-tasks DIR or run from the benchmark's root"
            )
            raise pytest.UsageError(msg)
        config.args = [str(settings.tasks_dir)]
        config.args_source = pytest.Config.ArgsSource.ARGS
    if hasattr(config, "workerinput"):
        return
    reporter = RealfinReporter(config, settings)
    config.stash[reporter_key] = reporter
    config.pluginmanager.register(reporter, "realfin-reporter")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(settings), "realfin-xdist")
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(_HtmlHooks(reporter), "realfin-html")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """One header line when the benchmark is configured."""
    settings = config.stash[settings_key]
    if settings.model is None:
        return []
    return [
        f"realfin: model {settings.model}, mode {settings.mode}, lang {settings.lang}, "
        f"tasks {settings.tasks_dir}, run dir {settings.run_dir}"
    ]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> TaskFile | None:
    """Collect ``<tasks dir>/<task_id>/task.yaml`` files, and nothing else."""
    if file_path.name != "task.yaml":
        return None
    settings = parent.config.stash[settings_key]
    if file_path.parent.parent.resolve() != settings.tasks_dir:
        return None
    return TaskFile.from_parent(
        parent,
        path=file_path,
        test_function=realfin_task,
        repeats=settings.repeats,
        skip_reason=NO_MODEL_REASON if settings.model is None else None,
    )


# --- fixtures --------------------------------------------------------------------------------


def _item(request: pytest.FixtureRequest) -> TaskItem:
    node = request.node
    if not isinstance(node, TaskItem):
        msg = f"{node.nodeid}: realfin fixtures serve RealFin task items only"
        raise pytest.UsageError(msg)
    return node


@pytest.fixture(scope="session")
def realfin_settings(pytestconfig: pytest.Config) -> Settings:
    """The validated ``--realfin-*`` settings of this session."""
    return pytestconfig.stash[settings_key]


@pytest.fixture(scope="session")
def realfin_model(realfin_settings: Settings) -> Any:
    """The resolved ``registry.ModelConfig`` of ``--realfin-model``."""
    if realfin_settings.model_config is None:
        pytest.skip(NO_MODEL_REASON)
    return realfin_settings.model_config


@pytest.fixture(scope="session")
def realfin_data(realfin_settings: Settings) -> Path:
    """The market-data ``api_cache`` folder: ``--realfin-data``, else the embedded default."""
    if realfin_settings.data_dir is not None:
        return realfin_settings.data_dir
    from pytest_realfin.market import default_dataset

    return Path(default_dataset())


@pytest.fixture(scope="session")
def realfin_market(realfin_data: Path) -> Any:
    """The ``Market`` the verifiers compute expected answers from (loaded once per process)."""
    from pytest_realfin.market import Market

    return Market.load(realfin_data)


@pytest.fixture
def realfin_skills(realfin_settings: Settings) -> SkillContext:
    """This attempt's Skill state: an empty context in every mode until Skill evolution lands."""
    return SkillContext(mode=realfin_settings.mode)


@pytest.fixture
def realfin_workspace(
    request: pytest.FixtureRequest, realfin_settings: Settings, realfin_data: Path
) -> Path:
    """A fresh workspace for this attempt: ``<run dir>/<task_id>/r<N>/workspace``."""
    from pytest_realfin.workspace import prepare_workspace

    item = _item(request)
    folder = attempt_dir(realfin_settings.run_dir, item.spec.id, item.repeat) / "workspace"
    workspace = fresh_workspace(folder)
    prepare_workspace(workspace, item.spec, realfin_data, lang=realfin_settings.lang)
    return workspace


@pytest.fixture(scope="session")
def realfin_agent(realfin_settings: Settings, realfin_model: Any) -> Agent:
    """The agent under test; override this fixture in a conftest.py to benchmark your own agent."""
    return HarnessAgent(
        realfin_model,
        sandbox=realfin_settings.sandbox,
        tasks_dir=realfin_settings.tasks_dir,
        max_turns=realfin_settings.max_turns,
        command_timeout=realfin_settings.command_timeout,
    )


def _secrets(settings: Settings) -> tuple[str, ...]:
    from pytest_realfin.trajectory import secret_values

    env = settings.model_config.api_key_env if settings.model_config is not None else None
    named = os.environ.get(env) if env else None
    return tuple({*secret_values().values(), *([named] if named else [])})


def _record(item: pytest.Item, result: TaskResult) -> None:
    item.stash[result_key] = result
    item.user_properties.extend(
        [
            ("realfin_task", result.task_id),
            ("realfin_success", result.success),
            ("realfin_failure_class", result.failure_class or ""),
            ("realfin_total_tokens", result.usage.total_tokens),
        ]
    )


@pytest.fixture
def realfin_attempt(
    request: pytest.FixtureRequest,
    realfin_settings: Settings,
    realfin_agent: Agent,
    realfin_market: Any,
    realfin_skills: SkillContext,
    realfin_workspace: Path,
    realfin_data: Path,
) -> AgentRun:
    """Run the agent on this attempt (setup phase: an infrastructure failure is a pytest error)."""
    item = _item(request)
    if item.spec.data_needs:
        try:
            realfin_market.require(*item.spec.data_needs)
        except MissingDataError as exc:
            pytest.skip(f"{item.spec.id}: {exc}")
    attempt = Attempt(
        spec=item.spec,
        repeat=item.repeat,
        workspace=realfin_workspace,
        attempt_dir=realfin_workspace.parent,
        data_dir=realfin_data,
        lang=realfin_settings.lang,
        skills=realfin_skills,
    )
    run = run_agent_phase(realfin_agent, attempt, _secrets(realfin_settings))
    if run.error is not None:
        settings = realfin_settings
        result = agent_error_result(run, settings.model or "", settings.mode, settings.run_dir)
        _record(item, result)
        pytest.fail(rp.failure_message(result), pytrace=False)
    return run


def realfin_task(
    request: pytest.FixtureRequest, realfin_attempt: AgentRun, realfin_market: Any
) -> None:
    """The test body of every task item: grade the output file; a rejection is a failure."""
    item = _item(request)
    settings = item.config.stash[settings_key]
    try:
        result = grade_attempt(
            realfin_attempt,
            item.config.stash[verifiers_key],
            realfin_market,
            model=settings.model or "",
            mode=settings.mode,
            run_dir=settings.run_dir,
        )
    except MissingDataError as exc:  # the verifier needs data the task file did not declare
        pytest.skip(f"{item.spec.id}: {exc}")
    _record(item, result)
    if not result.success:
        pytest.fail(rp.failure_message(result, realfin_attempt.last_steps), pytrace=False)


# --- reports and aggregation -----------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the attempt's record (a JSON-able dict) to the report that carries its outcome."""
    report = yield
    if result_key in item.stash and not item.stash.get(reported_key, False):
        item.stash[reported_key] = True
        report.__dict__["realfin"] = item.stash[result_key].model_dump(mode="json")
    return report


class RealfinReporter:
    """Controller-side aggregation: sums the records from the reports, writes and prints the run."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.results: list[TaskResult] = []

    @property
    def summary(self) -> Summary:
        """The totals of the records received so far."""
        return summarize(self.results)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep the attempt record a worker (or this process) attached to ``report``."""
        data = report.__dict__.get("realfin")
        if isinstance(data, dict):
            self.results.append(TaskResult.model_validate(data))

    def _model(self) -> str:
        return self.settings.model or "none"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write ``results.json`` and ``table.md`` into the run directory."""
        if not self.results:
            return
        settings, summary = self.settings, self.summary
        extra = {
            "lang": settings.lang,
            "repeats": settings.repeats,
            "sandbox": settings.sandbox,
            "run_dir": str(settings.run_dir),
            "data_dir": str(settings.data_dir) if settings.data_dir else "default",
            "model_config": (
                settings.model_config.model_dump(mode="json") if settings.model_config else None
            ),
            "pytest_exitstatus": int(exitstatus),
        }
        document = rp.results_document(
            model=self._model(),
            mode=settings.mode,
            summary=summary,
            results=self.results,
            extra=extra,
        )
        rp.write_json(settings.run_dir / "results.json", document)
        table = rp.table_markdown(self._model(), summary)
        (settings.run_dir / "table.md").write_text(table, encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print the seed's summary table and the failure counts."""
        if not self.results:
            return
        terminalreporter.section("RealFin summary")
        run_dir = self.settings.run_dir
        for line in rp.terminal_lines(self._model(), self.settings.mode, self.summary, run_dir):
            terminalreporter.write_line(line)


class _XdistHooks:
    """pytest-xdist hooks, registered only when xdist is active: hand the run dir to workers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_WORKERINPUT_RUN_DIR] = str(self.settings.run_dir)


class _HtmlHooks:
    """pytest-html hooks, registered only when pytest-html is present, on the controller."""

    def __init__(self, reporter: RealfinReporter) -> None:
        self.reporter = reporter

    def pytest_html_results_summary(self, prefix: list[str], summary: Any, postfix: Any) -> None:
        rep = self.reporter
        if rep.results:
            prefix.append(rp.html_summary(rep._model(), rep.settings.mode, rep.summary))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, "<th>Predicates</th>")
        cells.insert(3, '<th class="sortable" data-column-type="tokens">Tokens</th>')

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        data = report.__dict__.get("realfin")
        predicates, tokens = "", ""
        if isinstance(data, dict):
            result = TaskResult.model_validate(data)
            predicates = rp.html_predicates(result)
            tokens = str(result.usage.total_tokens)
        cells.insert(2, f'<td class="col-predicates">{predicates}</td>')
        cells.insert(3, f'<td class="col-tokens">{tokens}</td>')
