"""The model registry: what ``--realfin-model NAME`` means (endpoint, key variable, provider, size).

The shipped ``models.yaml`` knows the seed's models; a user registry file with the same schema adds
or replaces entries, and ``--realfin-base-url``/``--realfin-api-key-env`` override any entry or
stand in for one, so any OpenAI-compatible endpoint (vLLM, Ollama, OpenAI) works from the command
line alone.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pytest_realfin.errors import ConfigError

__all__ = ["ModelConfig", "Provider", "load_registry", "resolve_model"]

Provider = Literal["openai", "dashscope", "deepseek", "vllm", "ollama", "oracle", "custom"]
"""Where the endpoint lives; ``oracle`` is the embedded reference-solution model (no endpoint)."""

SHIPPED_REGISTRY = "models.yaml"
_ENTRY_FIELDS = "provider, base_url, api_key_env, size_label, temperature, max_tokens, ..."


class ModelConfig(BaseModel):
    """One model endpoint, as resolved from the registry and the command line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    """The name the user gave (``--realfin-model``); results and reports are keyed by it."""
    provider: Provider = "custom"
    """Who serves it; decides nothing on the wire (all are OpenAI-compatible) but labels reports."""
    base_url: str | None = None
    """The OpenAI-compatible base URL (the part before ``/chat/completions``); None for oracle."""
    api_key_env: str | None = None
    """The environment variable holding the API key; None for keyless local servers."""
    size_label: str | None = None
    """A human label for the model's size in reports, e.g. ``35B-A3B``."""
    temperature: float | None = Field(default=0.0, ge=0.0, le=2.0)
    """Sampling temperature; None leaves the provider default (thinking modes ignore it anyway)."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Maximum output tokens per call; None leaves the provider default."""
    extra_body: dict[str, Any] = {}
    """Provider-specific request body parameters, e.g. DashScope ``enable_thinking``."""
    timeout_s: float = Field(default=180.0, gt=0)
    """Per-request timeout; the seed harness used 180 s."""
    max_retries: int = Field(default=6, ge=0, le=50)
    """Retries of transient failures (429, 5xx, timeouts, dropped connections, malformed bodies)."""
    api_model: str | None = None
    """The model id sent to the endpoint when it differs from ``name``."""

    @property
    def request_model(self) -> str:
        """The id put in the request's ``model`` field."""
        return self.api_model or self.name


def _read_yaml(path: Path | str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"model registry {path}: cannot be read ({exc.strerror}); pass an existing YAML file"
        raise ConfigError(msg) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        msg = (
            f"model registry {path}:{line} is not valid YAML; expected a mapping "
            f"`models: {{name: {{field: value}}}}`"
        )
        raise ConfigError(msg) from exc


def _parse(data: Any, source: str) -> dict[str, ModelConfig]:
    """Validate a registry document: ``{models: {name: {field: value}}}``."""
    if (
        not isinstance(data, dict)
        or set(data) - {"models"}
        or not isinstance(data.get("models"), dict)
    ):
        msg = (
            f"model registry {source}: top level must be a mapping with one key `models` "
            f"(a mapping of model name to entry); got {type(data).__name__}"
        )
        raise ConfigError(msg)
    entries: dict[str, ModelConfig] = {}
    for name, entry in data["models"].items():
        if not isinstance(entry, dict):
            msg = f"model registry {source}: models.{name} must be a mapping of {_ENTRY_FIELDS}"
            raise ConfigError(msg)
        try:
            entries[str(name)] = ModelConfig(name=str(name), **entry)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(part) for part in err["loc"])
            value = err.get("input")
            msg = (
                f"model registry {source}: models.{name}.{key}={value!r} is invalid "
                f"({err['msg']}); expected fields: {', '.join(ModelConfig.model_fields)}"
            )
            raise ConfigError(msg) from None
        except TypeError as exc:  # e.g. a `name:` key colliding with the mapping key
            msg = (
                f"model registry {source}: models.{name} is invalid ({exc}); remove the `name` key"
            )
            raise ConfigError(msg) from None
    return entries


def load_registry(registry_path: Path | str | None = None) -> dict[str, ModelConfig]:
    """The shipped registry, extended and overridden by the user's file.

    Args:
        registry_path: a YAML file with the shipped schema; its entries replace shipped ones whole.

    Raises:
        ConfigError: a registry file is unreadable or malformed (the message names file and key).
    """
    shipped = resources.files("pytest_realfin").joinpath(SHIPPED_REGISTRY)
    entries = _parse(yaml.safe_load(shipped.read_text(encoding="utf-8")), f"{shipped}")
    if registry_path is not None:
        entries.update(_parse(_read_yaml(registry_path), str(registry_path)))
    return entries


def resolve_model(
    name: str,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    registry_path: Path | str | None = None,
) -> ModelConfig:
    """Resolve ``--realfin-model NAME`` (plus optional overrides) to a ``ModelConfig``.

    Args:
        name: the model name; a registry entry, or any name when ``base_url`` is given.
        base_url: ``--realfin-base-url``; overrides the entry's, or defines an ad-hoc endpoint.
        api_key_env: ``--realfin-api-key-env``; overrides the entry's key variable.
        registry_path: a user registry file layered over the shipped one.

    Raises:
        ConfigError: unknown name without ``base_url``, or a malformed registry file.
    """
    registry = load_registry(registry_path)
    entry = registry.get(name)
    if entry is None:
        if base_url is None:
            known = ", ".join(sorted(registry))
            msg = (
                f"--realfin-model={name!r} is not in the model registry (known: {known}); for any "
                f"OpenAI-compatible endpoint (vLLM, Ollama, OpenAI) pass "
                f"--realfin-base-url URL --realfin-api-key-env VAR"
            )
            raise ConfigError(msg)
        entry = ModelConfig(name=name, provider="custom")
    overrides: dict[str, Any] = {}
    if base_url is not None:
        if entry.provider == "oracle":
            msg = (
                f"--realfin-base-url={base_url!r} does not apply to --realfin-model=oracle; drop it"
            )
            raise ConfigError(msg)
        if not base_url.startswith(("http://", "https://")):
            msg = f"--realfin-base-url={base_url!r} must start with http:// or https://"
            raise ConfigError(msg)
        overrides["base_url"] = base_url.rstrip("/")
    if api_key_env is not None:
        overrides["api_key_env"] = api_key_env or None
    return entry.model_copy(update=overrides) if overrides else entry
