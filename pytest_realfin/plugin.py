"""The pytest plugin (entry point ``realfin``): every hook, option, ini key, fixture and StashKey.

Workers compute; only the xdist controller (or the single process without xdist) aggregates the
per-test records that ride on the reports, prints the summary and writes results.json and table.md.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_realfin import report as rp
from pytest_realfin.errors import ConfigError, MissingDataError
from pytest_realfin.items import NO_MODEL_REASON, TaskFile, TaskItem
from pytest_realfin.results import TaskResult
from pytest_realfin.runner import (
    MODES,
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
from pytest_realfin.summary import Summary
from pytest_realfin.verify import VerifierSet

__all__ = ["Settings", "settings_key"]

_WORKERINPUT_RUN_DIR = "realfin_run_dir"


@dataclass(frozen=True)
class Settings:
    """The plugin's options after validation (CLI over ini over default)."""

    model: str | None
    model_config: Any
    mode: str
    lang: str
    data_dir: Path | None
    run_dir: Path
    repeats: int
    sandbox: str
    max_turns: int | None
    command_timeout: float | None
    tasks_dir: Path
    verifiers_dir: Path


settings_key = pytest.StashKey[Settings]()
verifiers_key = pytest.StashKey[VerifierSet]()
reporter_key = pytest.StashKey["RealfinReporter"]()
result_key = pytest.StashKey[TaskResult]()
reported_key = pytest.StashKey[bool]()

# noun, metavar, help; every option --realfin-<noun> has the ini key realfin_<noun with _>.
_OPTIONS = (
    ("model", "NAME", "model to benchmark: a registry name (e.g. oracle, qwen3.5-35b-a3b) or any "
     "name with --realfin-base-url; without it task items are skipped"),
    ("base-url", "URL", "OpenAI-compatible base URL (overrides the registry entry)"),
    ("api-key-env", "VAR", "environment variable holding the API key (never the key itself)"),
    ("registry", "FILE", "a model registry YAML layered over the shipped one"),
    ("lang", "zh|en", "prompt language (default zh)"),
    ("mode", "MODE", "baseline (default), bayesian-full or bayesian-incremental"),
    ("data", "DIR", "market-data api_cache folder (default: the embedded synthetic data set)"),
    ("run-dir", "DIR", "run directory (default realfin-results/<model>/<mode>/<timestamp>)"),
    ("repeats", "N", "attempts per task (default 1)"),
    ("sandbox", "auto|bwrap|local", "where agent commands run (default auto)"),
    ("max-turns", "N", "agent turn limit per attempt"),
    ("command-timeout", "SECONDS", "timeout of one agent command"),
    ("tasks", "DIR", "tasks folder (default <rootdir>/tasks)"),
    ("verifiers", "DIR", "verifiers folder (default: verifiers/ next to the tasks folder)"),
)  # fmt: skip


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--realfin-*`` options and their ``realfin_*`` ini keys."""
    group = parser.getgroup("realfin", "RealFin-Bench agent evaluation")
    for noun, metavar, text in _OPTIONS:
        dest = "realfin_" + noun.replace("-", "_")
        group.addoption(f"--realfin-{noun}", dest=dest, metavar=metavar, default=None, help=text)
        parser.addini(dest, f"{text} (ini form of --realfin-{noun})", type="string", default="")


def _raw(config: pytest.Config, noun: str) -> tuple[str | None, str]:
    """The value of an option and where it came from (for error messages)."""
    dest = "realfin_" + noun.replace("-", "_")
    value = config.getoption(dest)
    if value is not None:
        return str(value), f"--realfin-{noun}"
    ini = str(config.getini(dest) or "").strip()
    return (ini or None), f"ini {dest}"


def _choice(config: pytest.Config, noun: str, choices: tuple[str, ...], default: str) -> str:
    value, where = _raw(config, noun)
    if value is None:
        return default
    if value not in choices:
        msg = f"{where}={value!r} is not one of {', '.join(choices)}; pick one"
        raise pytest.UsageError(msg)
    return value


def _number(config: pytest.Config, noun: str, kind: Callable[[str], Any]) -> Any:
    value, where = _raw(config, noun)
    if value is None:
        return None
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or number <= 0:
        msg = f"{where}={value!r} is not a positive {kind.__name__}; pass e.g. {where}=3"
        raise pytest.UsageError(msg)
    return number


def _path(config: pytest.Config, noun: str, *, must_exist: bool) -> Path | None:
    value, where = _raw(config, noun)
    if value is None:
        return None
    base = config.invocation_params.dir if where.startswith("--") else config.rootpath
    path = (base / Path(value).expanduser()).resolve()
    if must_exist and not path.exists():
        msg = f"{where}={value!r}: {path} does not exist; pass an existing path"
        raise pytest.UsageError(msg)
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def _run_dir(config: pytest.Config, model: str | None, mode: str) -> Path:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and _WORKERINPUT_RUN_DIR in workerinput:
        return Path(workerinput[_WORKERINPUT_RUN_DIR])
    explicit = _path(config, "run-dir", must_exist=False)
    if explicit is not None:
        return explicit
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = config.rootpath / "realfin-results" / _slug(model or "none") / mode
    run_dir, n = base / stamp, 1
    while run_dir.exists():
        n += 1
        run_dir = base / f"{stamp}-{n}"
    return run_dir


def _settings(config: pytest.Config) -> Settings:
    """Validate every option once; a bad value is a one-line ``UsageError`` naming the fix."""
    mode = _choice(config, "mode", MODES, "baseline")
    lang = _choice(config, "lang", ("zh", "en"), "zh")
    sandbox = _choice(config, "sandbox", ("auto", "bwrap", "local"), "auto")
    model, _ = _raw(config, "model")
    model_config = None
    if model is not None:
        from pytest_realfin.registry import resolve_model

        registry = _path(config, "registry", must_exist=True)
        try:
            model_config = resolve_model(
                model,
                base_url=_raw(config, "base-url")[0],
                api_key_env=_raw(config, "api-key-env")[0],
                registry_path=registry,
            )
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    tasks_dir = _path(config, "tasks", must_exist=True) or config.rootpath / "tasks"
    verifiers = _path(config, "verifiers", must_exist=True) or tasks_dir.parent / "verifiers"
    return Settings(
        model=model,
        model_config=model_config,
        mode=mode,
        lang=lang,
        data_dir=_path(config, "data", must_exist=True),
        run_dir=_run_dir(config, model, mode),
        repeats=_number(config, "repeats", int) or 1,
        sandbox=sandbox,
        max_turns=_number(config, "max-turns", int),
        command_timeout=_number(config, "command-timeout", float),
        tasks_dir=tasks_dir.resolve(),
        verifiers_dir=verifiers.resolve(),
    )


def pytest_configure(config: pytest.Config) -> None:
    """Validate options; point collection at the tasks when a model is given without paths."""
    config.addinivalue_line("markers", "realfin(task, category): a RealFin-Bench task attempt")
    settings = _settings(config)
    config.stash[settings_key] = settings
    config.stash[verifiers_key] = VerifierSet(settings.verifiers_dir)
    if settings.model is not None and config.args_source != pytest.Config.ArgsSource.ARGS:
        # `pytest --realfin-model X` means "run the benchmark", not testpaths (the project's tests).
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
    prepare_workspace(workspace, item.spec, realfin_data, lang=realfin_settings.lang)  # type: ignore[arg-type]
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

    env = getattr(settings.model_config, "api_key_env", None)
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
        lang=realfin_settings.lang,  # type: ignore[arg-type]
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
    result = grade_attempt(
        realfin_attempt,
        item.config.stash[verifiers_key],
        realfin_market,
        model=settings.model or "",
        mode=settings.mode,
        run_dir=settings.run_dir,
    )
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
        self.summary = Summary()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = report.__dict__.get("realfin")
        if isinstance(data, dict):
            result = TaskResult.model_validate(data)
            self.results.append(result)
            self.summary = self.summary + Summary.of(result)

    def _model(self) -> str:
        return self.settings.model or "none"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.results:
            return
        settings = self.settings
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
            summary=self.summary,
            results=self.results,
            extra=extra,
        )
        rp.write_json(settings.run_dir / "results.json", document)
        table = rp.table_markdown(self._model(), self.summary)
        (settings.run_dir / "table.md").write_text(table, encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
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
