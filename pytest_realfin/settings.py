"""The ``--realfin-*`` options: their table, and validation into one frozen ``Settings``.

Pure (no pytest import): ``plugin`` feeds it a lookup of raw values (command line over ini) and
turns a ``ConfigError`` into ``pytest.UsageError``. Each message names the option or ini key, the
bad value and the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_args

from pytest_realfin.errors import ConfigError
from pytest_realfin.runner import MODES
from pytest_realfin.spec import Lang

if TYPE_CHECKING:
    from pytest_realfin.registry import ModelConfig
    from pytest_realfin.sandbox import EnvironmentKind

__all__ = ["OPTIONS", "Lookup", "Settings", "dest", "missing_key", "parse_settings"]

OPTIONS: tuple[tuple[str, str, str], ...] = (
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
    ("max-turns", "N", "agent turn limit per attempt (default 16)"),
    ("command-timeout", "SECONDS", "timeout of one agent command (default 180)"),
    ("tasks", "DIR", "tasks folder (default <rootdir>/tasks)"),
    ("verifiers", "DIR", "verifiers folder (default: verifiers/ next to the tasks folder)"),
)  # fmt: skip
"""``(noun, metavar, help)``: option ``--realfin-<noun>``, ini key ``dest(noun)``."""

Lookup = Callable[[str], tuple[str | None, str, Path]]
"""``noun -> (raw value or None, where it came from, the folder relative paths start from)``."""


def dest(noun: str) -> str:
    """The option's attribute name and ini key: ``realfin_<noun>``."""
    return "realfin_" + noun.replace("-", "_")


@dataclass(frozen=True)
class Settings:
    """The plugin's options after validation (command line over ini over default)."""

    model: str | None
    model_config: ModelConfig | None
    """The resolved registry entry, or None without a model."""
    mode: str
    lang: Lang
    data_dir: Path | None
    """None means the embedded default data set, built on first use."""
    run_dir: Path
    repeats: int
    sandbox: EnvironmentKind
    max_turns: int | None
    command_timeout: float | None
    tasks_dir: Path
    verifiers_dir: Path


def _choice(lookup: Lookup, noun: str, choices: tuple[str, ...], default: str) -> str:
    value, where, _ = lookup(noun)
    if value is None:
        return default
    if value not in choices:
        msg = f"{where}={value!r} is not one of {', '.join(choices)}; pick one"
        raise ConfigError(msg)
    return value


def _number(lookup: Lookup, noun: str, kind: Callable[[str], Any]) -> Any:
    value, where, _ = lookup(noun)
    if value is None:
        return None
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or number <= 0:
        msg = f"{where}={value!r} is not a positive {kind.__name__}; pass e.g. {where}=3"
        raise ConfigError(msg)
    return number


def _path(lookup: Lookup, noun: str, *, must_exist: bool) -> Path | None:
    value, where, base = lookup(noun)
    if value is None:
        return None
    path = (base / Path(value).expanduser()).resolve()
    if must_exist and not path.exists():
        msg = f"{where}={value!r}: {path} does not exist; pass an existing path"
        raise ConfigError(msg)
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def _default_run_dir(rootpath: Path, model: str | None, mode: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = rootpath / "realfin-results" / _slug(model or "none") / mode
    run_dir, n = base / stamp, 1
    while run_dir.exists():
        n += 1
        run_dir = base / f"{stamp}-{n}"
    return run_dir


def parse_settings(lookup: Lookup, *, rootpath: Path, run_dir: Path | None = None) -> Settings:
    """Validate every option once.

    Args:
        lookup: raw values by noun (see ``Lookup``).
        rootpath: pytest's rootdir: the default tasks folder and run folder live under it.
        run_dir: the run folder chosen by the xdist controller (workers must not pick their own).

    Raises:
        ConfigError: one line naming the option or ini key, the bad value and the fix.
    """
    mode = _choice(lookup, "mode", MODES, "baseline")
    lang = cast(Lang, _choice(lookup, "lang", get_args(Lang), "zh"))
    sandbox = cast(
        "EnvironmentKind", _choice(lookup, "sandbox", ("auto", "bwrap", "local"), "auto")
    )
    model = lookup("model")[0]
    model_config: ModelConfig | None = None
    if model is not None:
        from pytest_realfin.registry import resolve_model

        model_config = resolve_model(
            model,
            base_url=lookup("base-url")[0],
            api_key_env=lookup("api-key-env")[0],
            registry_path=_path(lookup, "registry", must_exist=True),
        )
    tasks_dir = _path(lookup, "tasks", must_exist=True) or rootpath / "tasks"
    verifiers = _path(lookup, "verifiers", must_exist=True) or tasks_dir.parent / "verifiers"
    if run_dir is None:
        run_dir = _path(lookup, "run-dir", must_exist=False)
    return Settings(
        model=model,
        model_config=model_config,
        mode=mode,
        lang=lang,
        data_dir=_path(lookup, "data", must_exist=True),
        run_dir=run_dir or _default_run_dir(rootpath, model, mode),
        repeats=_number(lookup, "repeats", int) or 1,
        sandbox=sandbox,
        max_turns=_number(lookup, "max-turns", int),
        command_timeout=_number(lookup, "command-timeout", float),
        tasks_dir=tasks_dir.resolve(),
        verifiers_dir=verifiers.resolve(),
    )


def missing_key(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """Why the model cannot be called (its key variable is unset or empty), or None if it can.

    Checked once before any task runs, so a forgotten ``export`` is one line at start-up rather
    than forty identical agent errors.
    """
    config = settings.model_config
    var = config.api_key_env if config is not None else None
    if not var or environ.get(var, "").strip():
        return None
    return (
        f"--realfin-model={settings.model!r} reads its API key from ${var}, which is not set; "
        f"export {var}=<your key>, or name another variable with --realfin-api-key-env"
    )
