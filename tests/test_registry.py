"""The model registry: shipped entries, user overrides, command-line overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from pytest_realfin.errors import ConfigError
from pytest_realfin.registry import ModelConfig, load_registry, resolve_model

DASHSCOPE = "https://dashscope.aliyuncs.com/compatible-mode/v1"
DEEPSEEK = "https://api.deepseek.com"


@pytest.mark.parametrize(
    ("name", "provider", "base_url", "key_env", "size"),
    [
        ("qwen3.5-35b-a3b", "dashscope", DASHSCOPE, "ALI_API_KEY", "35B-A3B"),
        ("qwen3.5-122b-a10b", "dashscope", DASHSCOPE, "ALI_API_KEY", "122B-A10B"),
        ("deepseek-v4-flash", "deepseek", DEEPSEEK, "DEEPSEEK_API_KEY", None),
        ("deepseek-v4-pro", "deepseek", DEEPSEEK, "DEEPSEEK_API_KEY", None),
    ],
)
def test_shipped_entries(
    name: str, provider: str, base_url: str, key_env: str, size: str | None
) -> None:
    config = resolve_model(name)
    assert (config.name, config.provider, config.base_url) == (name, provider, base_url)
    assert config.api_key_env == key_env
    assert config.size_label == size
    assert config.request_model == name


def test_oracle_entry_has_no_endpoint() -> None:
    config = resolve_model("oracle")
    assert config.provider == "oracle"
    assert config.base_url is None
    assert config.api_key_env is None


def test_config_is_frozen_and_strict() -> None:
    config = resolve_model("deepseek-v4-pro")
    with pytest.raises(pydantic.ValidationError):
        config.base_url = "http://elsewhere"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="tempreture"):
        ModelConfig(name="m", tempreture=0.5)  # type: ignore[call-arg]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_user_registry_overrides_and_extends(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
models:
  deepseek-v4-flash:
    provider: deepseek
    base_url: https://proxy.example/v1
    api_key_env: MY_PROXY_KEY
    max_tokens: 4096
  my-vllm:
    provider: vllm
    base_url: http://127.0.0.1:8000/v1
    api_model: Qwen/Qwen3-8B
    extra_body: {chat_template_kwargs: {enable_thinking: false}}
""",
    )
    flash = resolve_model("deepseek-v4-flash", registry_path=path)
    assert (flash.base_url, flash.api_key_env, flash.max_tokens) == (
        "https://proxy.example/v1",
        "MY_PROXY_KEY",
        4096,
    )
    local = resolve_model("my-vllm", registry_path=path)
    assert local.request_model == "Qwen/Qwen3-8B"
    assert local.extra_body == {"chat_template_kwargs": {"enable_thinking": False}}
    assert local.api_key_env is None
    assert resolve_model("deepseek-v4-pro", registry_path=path).base_url == DEEPSEEK
    assert set(load_registry(path)) >= {"oracle", "qwen3.5-35b-a3b", "my-vllm"}


def test_unknown_name_lists_known_and_the_generic_flags() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_model("gpt-nope")
    message = str(info.value)
    assert "'gpt-nope'" in message
    for known in ("qwen3.5-35b-a3b", "deepseek-v4-pro", "oracle"):
        assert known in message
    assert "--realfin-base-url URL --realfin-api-key-env VAR" in message
    assert "\n" not in message


def test_unknown_name_with_base_url_is_an_adhoc_endpoint() -> None:
    config = resolve_model(
        "llama3.1:8b", base_url="http://localhost:11434/v1/", api_key_env="OLLAMA_KEY"
    )
    assert (config.name, config.provider) == ("llama3.1:8b", "custom")
    assert config.base_url == "http://localhost:11434/v1"
    assert config.api_key_env == "OLLAMA_KEY"


def test_command_line_overrides_entry() -> None:
    config = resolve_model(
        "qwen3.5-35b-a3b", base_url="http://127.0.0.1:9999/v1", api_key_env="OTHER_KEY"
    )
    assert config.base_url == "http://127.0.0.1:9999/v1"
    assert config.api_key_env == "OTHER_KEY"
    assert (config.provider, config.size_label) == ("dashscope", "35B-A3B")
    assert resolve_model("qwen3.5-35b-a3b").base_url == DASHSCOPE


@pytest.mark.parametrize(
    ("base_url", "match"),
    [("localhost:8000", "must start with http"), ("http://x/v1", None)],
)
def test_base_url_checks(base_url: str, match: str | None) -> None:
    if match is None:
        with pytest.raises(ConfigError, match="oracle"):
            resolve_model("oracle", base_url=base_url)
    else:
        with pytest.raises(ConfigError, match=match):
            resolve_model("m", base_url=base_url)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("models: [unclosed", "line 1"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("models:\n  m: 3\n", "models.m must be a mapping"),
        ("models:\n  m:\n    tempreture: 0.5\n", "models.m.tempreture"),
        ("models:\n  m:\n    temperature: hot\n", "models.m.temperature='hot'"),
        ("models:\n  m:\n    provider: azure\n", "models.m.provider='azure'"),
        ("models:\n  m:\n    timeout_s: -1\n", "models.m.timeout_s=-1"),
        ("models:\n  m:\n    name: other\n", "models.m"),
        ("extra: 1\nmodels: {}\n", "one key `models`"),
    ],
)
def test_malformed_registry_names_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        resolve_model("deepseek-v4-pro", registry_path=path)
    message = str(info.value)
    assert str(path) in message
    assert fragment in message
    assert "\n" not in message


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        resolve_model("oracle", registry_path=tmp_path / "absent.yaml")
