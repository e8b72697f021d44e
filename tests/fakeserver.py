"""A scripted OpenAI-compatible chat server on loopback, for tests and benchmarks.

Tests drive the real ``openai`` client against it, so everything below the client (HTTP, JSON,
status codes, headers, timeouts, dropped sockets) is exercised for real. The server answers
``POST /v1/chat/completions`` (and ``/chat/completions``) from a queue of steps: a ``Reply``
(content and/or tool calls, usage, finish reason) or a ``Fault`` (an HTTP error with optional
``Retry-After``, a malformed body, a dropped connection). Every request is recorded.

Usage::

    with FakeOpenAI() as server:
        server.enqueue(bash_call("ls"), text_reply("done"))
        client = openai.OpenAI(base_url=server.base_url, api_key="k")
        ...
        assert server.requests[0].body["model"] == "m"

Benchmarks put the repository root on ``sys.path`` and ``from tests.fakeserver import FakeOpenAI``.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeOpenAI",
    "Fault",
    "RecordedRequest",
    "Reply",
    "Step",
    "bash_call",
    "deepseek_usage",
    "openai_usage",
    "text_reply",
]

CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
_MALFORMED = '{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "mess'


def openai_usage(
    prompt: int = 10, completion: int = 5, *, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    """A usage block in OpenAI's shape (``*_tokens_details``); ``prompt`` includes ``cached``."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def deepseek_usage(
    prompt: int = 10, completion: int = 5, *, cache_hit: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    """A usage block in DeepSeek's shape (``prompt_cache_hit/miss_tokens``, no prompt details)."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_cache_hit_tokens": cache_hit,
        "prompt_cache_miss_tokens": prompt - cache_hit,
    }
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


@dataclass(frozen=True)
class Reply:
    """A successful chat completion.

    ``usage=None`` sends no usage block at all (some gateways do that); ``delay_s`` waits before
    answering, to test client timeouts.
    """

    content: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    usage: dict[str, Any] | None = field(default_factory=openai_usage)
    finish_reason: str | None = None
    reasoning_content: str | None = None
    delay_s: float = 0.0

    def payload(self, model: str, completion_id: str) -> dict[str, Any]:
        """The JSON body of this reply, in the OpenAI wire format."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = list(self.tool_calls)
        if self.reasoning_content is not None:
            message["reasoning_content"] = self.reasoning_content
        finish = self.finish_reason or ("tool_calls" if self.tool_calls else "stop")
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if self.usage is not None:
            body["usage"] = self.usage
        return body


@dataclass(frozen=True)
class Fault:
    """A failed exchange: an HTTP error status, a malformed 200 body, or a dropped connection."""

    status: int = 500
    message: str = "injected fault"
    retry_after: str | None = None
    """Sent verbatim as the ``Retry-After`` header (seconds or an HTTP-date)."""
    malformed: bool = False
    """Answer 200 with a truncated JSON body instead of an error."""
    drop: bool = False
    """Close the socket without answering."""
    body: str | None = None
    """A raw body to send instead of the default OpenAI error object."""
    delay_s: float = 0.0


Step = Reply | Fault


def text_reply(content: str, **kwargs: Any) -> Reply:
    """A plain assistant message (the text protocol, or a final answer)."""
    return Reply(content=content, **kwargs)


_call_ids = itertools.count(1)


def bash_call(
    command: str, *, call_id: str | None = None, content: str | None = None, **kwargs: Any
) -> Reply:
    """An assistant turn calling the single ``bash`` tool with ``{"command": command}``."""
    call = {
        "id": call_id or f"call_{next(_call_ids)}",
        "type": "function",
        "function": {"name": "bash", "arguments": json.dumps({"command": command})},
    }
    return Reply(content=content, tool_calls=(call,), **kwargs)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, for assertions."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """The decoded JSON body, or the raw text when it was not JSON."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages of a completion request."""
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []


class FakeOpenAI:
    """The server: a ``ThreadingHTTPServer`` on ``127.0.0.1`` with an ephemeral port.

    Args:
        default: what to answer when the queue is empty; None answers HTTP 418 ("script exhausted"),
            which the model client does not retry, so a test that under-scripts fails loudly.
        latency_s: a delay added before every answer.
        require_key: when set, requests whose bearer token differs get HTTP 401.
    """

    def __init__(
        self,
        *steps: Step,
        default: Step | None = None,
        latency_s: float = 0.0,
        require_key: str | None = None,
    ) -> None:
        self.default = default
        self.latency_s = latency_s
        self.require_key = require_key
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Step] = deque(steps)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The ephemeral port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (ending in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *steps: Step) -> FakeOpenAI:
        """Append steps to the script; returns the server for chaining."""
        with self._lock:
            self._queue.extend(steps)
        return self

    @property
    def pending(self) -> int:
        """Steps not yet consumed."""
        with self._lock:
            return len(self._queue)

    def start(self) -> FakeOpenAI:
        """Serve in a daemon thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; pending delays are cut short so tests end promptly."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_step(self) -> Step | None:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


def _error_body(status: int, message: str) -> str:
    kind = "rate_limit_error" if status == 429 else "invalid_request_error"
    return json.dumps({"error": {"message": message, "type": kind, "code": str(status)}})


def _make_handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without NODELAY, Nagle plus delayed ACK adds
            # ~40 ms per exchange, which would swamp the harness-overhead benchmark.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout) before we answered
                self.close_connection = True

        def do_GET(self) -> None:
            self._send(404, _error_body(404, f"no route GET {self.path}"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw
            headers = {name.lower(): value for name, value in self.headers.items()}
            server._record(RecordedRequest("POST", self.path, headers, body))
            server._wait(server.latency_s)
            if self.path not in CHAT_PATHS:
                self._send(404, _error_body(404, f"no route POST {self.path}"))
                return
            expected_auth = f"Bearer {server.require_key}"
            if server.require_key is not None and headers.get("authorization") != expected_auth:
                self._send(401, _error_body(401, "Incorrect API key provided."))
                return
            step = server._next_step()
            if step is None:
                count = len(server.requests)
                message = f"fakeserver: script exhausted at request {count}; enqueue more steps"
                self._send(418, _error_body(418, message))
                return
            server._wait(step.delay_s)
            if isinstance(step, Reply):
                model = body.get("model", "fake") if isinstance(body, dict) else "fake"
                payload = step.payload(str(model), f"chatcmpl-{next(server._ids)}")
                self._send(200, json.dumps(payload))
            elif step.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif step.malformed:
                self._send(200, step.body if step.body is not None else _MALFORMED)
            else:
                extra = {"Retry-After": step.retry_after} if step.retry_after is not None else {}
                text = (
                    step.body if step.body is not None else _error_body(step.status, step.message)
                )
                self._send(step.status, text, extra)

    return Handler
