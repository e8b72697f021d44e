"""The ``Model`` seam and its OpenAI-compatible implementation.

This is the only module that imports ``openai`` (lazily, inside ``OpenAIModel``), so loading the
plugin stays cheap and every provider's quirks are normalised in one place: usage shapes (via
``wire``), ``reasoning_content``, and which HTTP failures are worth retrying.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pytest_realfin.errors import ConfigError, ModelError
from pytest_realfin.registry import ModelConfig
from pytest_realfin.results import Usage
from pytest_realfin.wire import Backoff, normalize_usage, parse_retry_after

__all__ = [
    "Backoff",
    "Message",
    "Model",
    "ModelResponse",
    "OpenAIModel",
    "ToolCall",
    "assistant_message",
    "normalize_usage",
    "parse_retry_after",
]

Message = dict[str, Any]
"""One chat message in the OpenAI wire format (role, content, tool_calls, tool_call_id)."""

_NO_KEY = "no-key"  # keyless local servers (vLLM, Ollama) accept any bearer token
_CONTEXT_HINTS = (
    "context_length",
    "context length",
    "context window",
    "maximum context",
    "too long",
)
_CONTEXT_HINTS_DASHSCOPE = ("range of input length",)


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for."""

    id: str
    name: str
    arguments: str
    """The raw JSON argument string, parsed by the agent (a bad one is a format error)."""


@dataclass(frozen=True)
class ModelResponse:
    """One model reply, provider differences already removed."""

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    latency_s: float = 0.0
    """Duration of the HTTP exchange that succeeded (retries and their waits excluded)."""
    reasoning_content: str | None = None
    """The provider's separate chain of thought (DeepSeek, Qwen, vLLM ``reasoning``), if any."""
    attempts: int = 1
    """HTTP requests this reply took, the successful one included."""


@runtime_checkable
class Model(Protocol):
    """Anything that can answer a chat: a real endpoint, a scripted fake, the oracle."""

    name: str
    """The model name as the user gave it (``--realfin-model``)."""

    def query(self, messages: list[Message], tools: list[dict[str, Any]] | None) -> ModelResponse:
        """Answer the conversation so far; ``tools`` is the tool schema list, None for text mode."""
        ...


def assistant_message(response: ModelResponse) -> Message:
    """The assistant message to append to the history after ``response``.

    ``reasoning_content`` is echoed back exactly when the provider sent one: DeepSeek's thinking
    mode answers HTTP 400 when the reasoning of a tool-calling turn is missing from later requests,
    DashScope ignores it, and providers that never emit it (OpenAI) never receive it.
    """
    message: Message = {"role": "assistant", "content": response.content}
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in response.tool_calls
        ]
    if response.reasoning_content:
        message["reasoning_content"] = response.reasoning_content
    return message


class _Malformed(Exception):
    """The endpoint answered 200 with a body that is not a chat completion."""


@dataclass(frozen=True)
class _Failure:
    retryable: bool
    message: str
    retry_after: float | None = None


def _text_content(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts
        return "".join(p.get("text", "") for p in value if isinstance(p, Mapping))
    msg = f"message.content has type {type(value).__name__}"
    raise _Malformed(msg)


def _tool_call(raw: Any, index: int) -> ToolCall:
    function = raw.get("function") if isinstance(raw, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        msg = f"tool_calls[{index}] has no function name"
        raise _Malformed(msg)
    arguments = function.get("arguments")
    if not isinstance(arguments, str):  # some servers send a JSON object, not a string
        arguments = json.dumps(arguments if arguments is not None else {})
    call_id = raw.get("id") if isinstance(raw.get("id"), str) else f"call_{index}"
    return ToolCall(id=call_id, name=function["name"], arguments=arguments)


def parse_completion(text: str, latency_s: float, attempts: int) -> ModelResponse:
    """A chat-completion body (JSON text) as a ``ModelResponse``; raises ``_Malformed``."""
    try:
        data = json.loads(text)
    except ValueError:
        msg = f"body is not JSON: {text[:80]!r}"
        raise _Malformed(msg) from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        error = data.get("error") if isinstance(data, dict) else None
        raise _Malformed(
            f"no choices in body (error: {error!r})" if error else "no choices in body"
        )
    message = choices[0].get("message")
    if not isinstance(message, Mapping):
        msg = "choices[0] has no message"
        raise _Malformed(msg)
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        msg = "message.tool_calls is not a list"
        raise _Malformed(msg)
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    return ModelResponse(
        content=_text_content(message.get("content")),
        tool_calls=tuple(_tool_call(c, i) for i, c in enumerate(raw_calls)),
        usage=normalize_usage(data.get("usage")),
        finish_reason=choices[0].get("finish_reason"),
        latency_s=latency_s,
        reasoning_content=reasoning if isinstance(reasoning, str) else None,
        attempts=attempts,
    )


class OpenAIModel:
    """A model behind any OpenAI-compatible chat-completions endpoint, via the official client.

    The client's own retries are off (``max_retries=0``): this class retries 408/409/429, 5xx,
    timeouts, dropped connections and malformed bodies itself, up to ``config.max_retries`` times,
    so the policy (and ``Retry-After``) is the same for every provider and testable with a fake
    clock. Anything else (401/403, 404, 400, a context-window overflow) raises ``ModelError`` at
    once, with a message naming what to fix. The API key never appears in a message or a repr.

    Args:
        config: the resolved registry entry.
        api_key: the key itself; default: read the variable ``config.api_key_env`` names.
        sleep: called with each backoff wait (tests pass a recorder).
        rng: jitter source (seed it for reproducible waits).
        backoff: the retry schedule.
        clock: wall clock used to turn an HTTP-date ``Retry-After`` into seconds.
        http_client: an ``httpx2.Client`` for the openai client (custom transports in tests).

    Raises:
        ModelError: the key variable is unset or empty.
        ConfigError: the entry has no base URL (``oracle`` is not an endpoint).
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        api_key: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        http_client: Any = None,
    ) -> None:
        if config.base_url is None:
            msg = (
                f"--realfin-model={config.name!r} (provider {config.provider}) has no base_url; "
                f"pass --realfin-base-url URL (provider 'oracle' runs without an endpoint)"
            )
            raise ConfigError(msg)
        import openai

        # openai >= 3 rides on httpx2, older releases on httpx; we need only its Response type.
        transport = "httpx2" if importlib.util.find_spec("httpx2") is not None else "httpx"
        if api_key is None and config.api_key_env is not None:
            api_key = os.environ.get(config.api_key_env, "").strip()
            if not api_key:
                env = config.api_key_env
                msg = (
                    f"model {config.name!r}: environment variable {env} is not set or empty; "
                    f"export {env}=<your API key>, or name another variable with "
                    f"--realfin-api-key-env"
                )
                raise ModelError(msg)
        self.name = config.name
        self.config = config
        self._secret = api_key or ""
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._openai = openai
        self._raw_response = importlib.import_module(transport).Response
        self._client = openai.OpenAI(
            api_key=api_key or _NO_KEY,
            base_url=config.base_url,
            timeout=config.timeout_s,
            max_retries=0,
            http_client=http_client,
        )

    @property
    def secret_env(self) -> tuple[str, ...]:
        """The variable holding the API key, whatever its name: trajectories scrub its value."""
        return (self.config.api_key_env,) if self.config.api_key_env else ()

    def __repr__(self) -> str:
        return f"OpenAIModel(name={self.name!r}, base_url={self.config.base_url!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAIModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(
        self, messages: list[Message], tools: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        config = self.config
        request: dict[str, Any] = {"model": config.request_model, "messages": messages}
        if tools:
            request["tools"] = tools
        if config.temperature is not None:
            request["temperature"] = config.temperature
        if config.max_tokens is not None:
            request["max_tokens"] = config.max_tokens
        return {**request, **config.extra_body}

    def query(self, messages: list[Message], tools: list[dict[str, Any]] | None) -> ModelResponse:
        """Send the conversation; retry transient failures; return the normalised reply.

        Raises:
            ModelError: a permanent failure (``retryable=False``), or the retries are spent
                (``retryable=True``).
        """
        request = self._request(messages, tools)
        attempts = self.config.max_retries + 1
        for attempt in range(1, attempts + 1):
            start = time.perf_counter()
            try:
                # The SDK's documented raw route: `chat.completions.create` walks every message
                # through its TypedDict transform (~3 ms at 10 messages, growing with the history).
                raw = self._client.post(
                    "/chat/completions", cast_to=self._raw_response, body=request
                )
                return parse_completion(raw.text, time.perf_counter() - start, attempt)
            except (self._openai.OpenAIError, _Malformed) as exc:
                failure = self._classify(exc)
            if not failure.retryable:
                raise ModelError(self._redact(failure.message), retryable=False) from None
            wait = self._backoff.delay(attempt - 1, self._rng, failure.retry_after)
            if wait > self._backoff.max_wait_s:
                msg = f"{failure.message}; the server asks to wait {wait:.0f}s, more than allowed"
                raise ModelError(self._redact(msg), retryable=True) from None
            if attempt < attempts:
                self._sleep(wait)
        msg = f"{failure.message} (gave up after {attempts} attempts)"
        raise ModelError(self._redact(msg), retryable=True)

    def _redact(self, message: str) -> str:
        return message.replace(self._secret, "***") if self._secret else message

    def _classify(self, exc: Exception) -> _Failure:
        """Decide whether a failure is transient, and word the message that names the fix."""
        openai, config = self._openai, self.config
        where = f"model {config.name!r} at {config.base_url}"
        if isinstance(exc, _Malformed):
            return _Failure(True, f"{where}: malformed response ({exc})")
        if isinstance(exc, openai.APITimeoutError):
            return _Failure(
                True,
                f"{where}: no answer within timeout_s={config.timeout_s:g}; raise timeout_s in the "
                f"model registry, or check that --realfin-base-url points at a live endpoint",
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return _Failure(
                True,
                f"{where}: connection failed ({type(cause).__name__}); check "
                f"--realfin-base-url={config.base_url!r} and the network",
            )
        if not isinstance(exc, openai.APIStatusError):
            return _Failure(True, f"{where}: malformed response ({type(exc).__name__}: {exc})")
        status, detail = exc.status_code, _server_message(exc)
        retry_after = parse_retry_after(exc.response.headers, self._clock())
        if status == 429:
            return _Failure(True, f"{where}: rate limited (HTTP 429: {detail})", retry_after)
        if status >= 500 or status in (408, 409):
            return _Failure(True, f"{where}: server error (HTTP {status}: {detail})", retry_after)
        if status in (401, 403):
            key = (
                f"the key in ${config.api_key_env}; export {config.api_key_env}=<a valid key> or "
                f"name another variable with --realfin-api-key-env"
                if config.api_key_env
                else "no API key was sent; pass --realfin-api-key-env VAR naming the key variable"
            )
            return _Failure(
                False, f"{where}: authentication failed (HTTP {status}: {detail}); {key}"
            )
        if status == 404:
            return _Failure(
                False,
                f"{where}: model {config.request_model!r} not found (HTTP 404: {detail}); check "
                f"--realfin-model (or api_model in the model registry) and --realfin-base-url",
            )
        lowered = f"{detail} {getattr(exc, 'code', '')}".lower()
        if status in (400, 413) and any(
            h in lowered for h in _CONTEXT_HINTS + _CONTEXT_HINTS_DASHSCOPE
        ):
            return _Failure(
                False,
                f"{where}: the conversation exceeds the model's context window (HTTP {status}: "
                f"{detail}); lower max_tokens in the registry or the agent's turn or output limits",
            )
        return _Failure(
            False,
            f"{where}: request rejected (HTTP {status}: {detail}); check temperature, max_tokens "
            f"and extra_body in the model registry entry",
        )


def _server_message(exc: Any) -> str:
    """The endpoint's own error text, one line and short (bodies can be whole HTML pages)."""
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        text = inner.get("message") if isinstance(inner, Mapping) else inner
        text = str(text if text is not None else body)
    else:
        text = str(body) if body is not None else str(exc.message)
    text = " ".join(text.split())
    return text[:200] + ("..." if len(text) > 200 else "")
