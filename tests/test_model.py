"""OpenAIModel through the real openai client against the loopback fake server (no client mocks)."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
from email.utils import formatdate
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_realfin.errors import ConfigError, ModelError
from pytest_realfin.model import Model, OpenAIModel, assistant_message
from pytest_realfin.registry import ModelConfig
from pytest_realfin.results import Usage
from pytest_realfin.wire import Backoff, normalize_usage, parse_retry_after
from tests.fakeserver import (
    FakeOpenAI,
    Fault,
    Reply,
    bash_call,
    deepseek_usage,
    openai_usage,
    text_reply,
)

KEY_ENV = "REALFIN_TEST_API_KEY"
SECRET = "sk-test-0123456789abcdef"
BASH_TOOL = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run a bash command.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
}
USER = [{"role": "user", "content": "hi"}]


class Sleeps:
    """A recording stand-in for time.sleep, so retry tests take no wall time."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_model(fake_openai: FakeOpenAI, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(KEY_ENV, SECRET)
    models: list[OpenAIModel] = []

    def make(*, clock: Any = None, **overrides: Any) -> OpenAIModel:
        fields: dict[str, Any] = {
            "name": "fake-model",
            "base_url": fake_openai.base_url,
            "api_key_env": KEY_ENV,
            "timeout_s": 5.0,
            "max_retries": 3,
            **overrides,
        }
        extra = {"clock": clock} if clock is not None else {}
        model = OpenAIModel(ModelConfig(**fields), sleep=sleeps, rng=random.Random(0), **extra)
        models.append(model)
        return model

    yield make
    for model in models:
        model.close()


def test_is_a_model(make_model: Any) -> None:
    assert isinstance(make_model(), Model)


def test_tool_call_episode(fake_openai: FakeOpenAI, make_model: Any) -> None:
    fake_openai.enqueue(
        bash_call("ls -la", call_id="c1", usage=openai_usage(100, 10)),
        bash_call("cat out.csv", call_id="c2", usage=openai_usage(150, 20)),
        text_reply("done", usage=openai_usage(200, 5)),
    )
    model = make_model(
        api_model="served-id",
        temperature=0.3,
        max_tokens=512,
        extra_body={"enable_thinking": False},
    )
    messages: list[dict[str, Any]] = list(USER)
    commands, total = [], Usage()
    for _ in range(3):
        reply = model.query(messages, [BASH_TOOL])
        total += reply.usage
        messages.append(assistant_message(reply))
        for call in reply.tool_calls:
            assert call.name == "bash"
            commands.append(json.loads(call.arguments)["command"])
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "ok"})
    assert commands == ["ls -la", "cat out.csv"]
    assert reply.content == "done"
    assert reply.finish_reason == "stop"
    assert reply.tool_calls == ()
    assert total == Usage(input_tokens=450, output_tokens=35, calls=3)

    assert len(fake_openai.requests) == 3
    first, last = fake_openai.requests[0], fake_openai.requests[2]
    assert first.path == "/v1/chat/completions"
    assert first.headers["authorization"] == f"Bearer {SECRET}"
    assert first.body["model"] == "served-id"
    assert first.body["temperature"] == 0.3
    assert first.body["max_tokens"] == 512
    assert first.body["enable_thinking"] is False  # extra_body lands at the top level
    assert first.body["tools"] == [BASH_TOOL]
    sent = last.messages
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == "c1"
    assert sent[2]["tool_call_id"] == "c1"
    assert "reasoning_content" not in sent[1]


def test_text_mode_sends_no_tools(fake_openai: FakeOpenAI, make_model: Any) -> None:
    fake_openai.enqueue(text_reply("```bash\nls\n```"))
    reply = make_model(temperature=None).query(USER, None)
    assert reply.content == "```bash\nls\n```"
    body = fake_openai.requests[0].body
    assert "tools" not in body
    assert "temperature" not in body
    assert "max_tokens" not in body


@pytest.mark.parametrize(
    "usage",
    [
        openai_usage(1000, 300, cached=600, reasoning=120),
        deepseek_usage(1000, 300, cache_hit=600, reasoning=120),
    ],
    ids=["openai", "deepseek"],
)
def test_usage_cached_and_reasoning(fake_openai: FakeOpenAI, make_model: Any, usage: Any) -> None:
    fake_openai.enqueue(text_reply("x", usage=usage))
    got = make_model().query(USER, None).usage
    assert got == Usage(
        input_tokens=400, cached_input_tokens=600, output_tokens=300, reasoning_tokens=120, calls=1
    )
    assert got.total_tokens == 1300


def test_missing_usage_is_unknown_not_zero(fake_openai: FakeOpenAI, make_model: Any) -> None:
    fake_openai.enqueue(text_reply("x", usage=None))
    usage = make_model().query(USER, None).usage
    assert usage == Usage(calls=1, unknown_calls=1)
    assert not usage.known


def test_reasoning_content_is_kept_and_echoed(fake_openai: FakeOpenAI, make_model: Any) -> None:
    fake_openai.enqueue(bash_call("ls", reasoning_content="I should list files."), text_reply("ok"))
    model = make_model()
    reply = model.query(USER, [BASH_TOOL])
    assert reply.reasoning_content == "I should list files."
    model.query([*USER, assistant_message(reply)], [BASH_TOOL])
    assert fake_openai.requests[1].messages[1]["reasoning_content"] == "I should list files."


def test_object_arguments_become_json_text(fake_openai: FakeOpenAI, make_model: Any) -> None:
    call = {
        "id": "c9",
        "type": "function",
        "function": {"name": "bash", "arguments": {"command": 1}},
    }
    fake_openai.enqueue(Reply(tool_calls=(call,)))
    (got,) = make_model().query(USER, [BASH_TOOL]).tool_calls
    assert json.loads(got.arguments) == {"command": 1}


def test_429_honours_retry_after_seconds(
    fake_openai: FakeOpenAI, make_model: Any, sleeps: Sleeps
) -> None:
    fake_openai.enqueue(Fault(429, retry_after="7"), text_reply("ok"))
    reply = make_model().query(USER, None)
    assert reply.content == "ok"
    assert reply.attempts == 2
    assert sleeps.waits == [7.0]
    assert len(fake_openai.requests) == 2


def test_429_honours_retry_after_http_date(
    fake_openai: FakeOpenAI, make_model: Any, sleeps: Sleeps
) -> None:
    now = 1_800_000_000.0
    fake_openai.enqueue(Fault(429, retry_after=formatdate(now + 42, usegmt=True)), text_reply("ok"))
    assert make_model(clock=lambda: now).query(USER, None).content == "ok"
    assert sleeps.waits == [pytest.approx(42.0)]


def test_500_then_success_backs_off(
    fake_openai: FakeOpenAI, make_model: Any, sleeps: Sleeps
) -> None:
    fake_openai.enqueue(Fault(500), Fault(502), text_reply("ok"))
    reply = make_model().query(USER, None)
    assert (reply.content, reply.attempts) == ("ok", 3)
    base = Backoff()
    assert len(sleeps.waits) == 2
    assert base.base_s * 0.5 <= sleeps.waits[0] <= base.base_s
    assert base.base_s <= sleeps.waits[1] <= 2 * base.base_s


def test_slow_response_times_out_then_retry_succeeds(
    fake_openai: FakeOpenAI, make_model: Any, sleeps: Sleeps
) -> None:
    fake_openai.enqueue(Reply(content="late", delay_s=2.0), text_reply("fast"))
    reply = make_model(timeout_s=0.3).query(USER, None)
    assert (reply.content, reply.attempts) == ("fast", 2)
    assert len(sleeps.waits) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault(malformed=True),
        Fault(malformed=True, body='{"error": {"message": "upstream hiccup"}}'),
        Fault(malformed=True, body='{"choices": [{"message": {"tool_calls": [{"id": "x"}]}}]}'),
        Fault(drop=True),
    ],
    ids=["truncated-json", "no-choices", "nameless-tool-call", "dropped"],
)
def test_transient_body_fault_then_success(
    fake_openai: FakeOpenAI, make_model: Any, fault: Fault
) -> None:
    fake_openai.enqueue(fault, text_reply("ok"))
    reply = make_model().query(USER, None)
    assert (reply.content, reply.attempts) == ("ok", 2)


def test_retries_exhausted(fake_openai: FakeOpenAI, make_model: Any, sleeps: Sleeps) -> None:
    fake_openai.default = Fault(503, message="overloaded")
    with pytest.raises(ModelError, match=r"HTTP 503: overloaded.*gave up after 3 attempts") as info:
        make_model(max_retries=2).query(USER, None)
    assert info.value.retryable
    assert len(fake_openai.requests) == 3
    assert len(sleeps.waits) == 2


def test_malformed_exhausted_says_malformed(fake_openai: FakeOpenAI, make_model: Any) -> None:
    fake_openai.default = Fault(malformed=True)
    with pytest.raises(ModelError, match="malformed response") as info:
        make_model(max_retries=1).query(USER, None)
    assert info.value.retryable


def test_connection_refused_names_base_url(sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(KEY_ENV, SECRET)
    config = ModelConfig(name="m", base_url=f"http://127.0.0.1:{port}/v1", api_key_env=KEY_ENV)
    with (
        OpenAIModel(config.model_copy(update={"max_retries": 1}), sleep=sleeps) as model,
        pytest.raises(ModelError, match="--realfin-base-url") as info,
    ):
        model.query(USER, None)
    assert info.value.retryable
    assert len(sleeps.waits) == 1


def test_retry_after_beyond_limit_gives_up_at_once(
    fake_openai: FakeOpenAI, make_model: Any, sleeps: Sleeps
) -> None:
    fake_openai.enqueue(Fault(429, retry_after="86400"), text_reply("never"))
    with pytest.raises(ModelError, match="wait 86400s") as info:
        make_model().query(USER, None)
    assert info.value.retryable
    assert sleeps.waits == []
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_error_stops_at_once_and_hides_key(
    fake_openai: FakeOpenAI, make_model: Any, sleeps: Sleeps, status: int
) -> None:
    # Real providers echo (part of) the key; the message must still not carry it.
    fake_openai.enqueue(Fault(status, message=f"Incorrect API key provided: {SECRET}"))
    model = make_model()
    with pytest.raises(ModelError, match=KEY_ENV) as info:
        model.query(USER, None)
    assert not info.value.retryable
    assert len(fake_openai.requests) == 1
    assert sleeps.waits == []
    assert SECRET not in str(info.value)
    assert SECRET not in repr(model)
    assert "--realfin-api-key-env" in str(info.value)


def test_404_names_the_model(fake_openai: FakeOpenAI, make_model: Any) -> None:
    fake_openai.enqueue(Fault(404, message="The model does not exist"))
    with pytest.raises(ModelError, match=r"'served-x' not found.*--realfin-model") as info:
        make_model(api_model="served-x").query(USER, None)
    assert not info.value.retryable
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("This model's maximum context length is 65536 tokens", "context window"),
        ("Range of input length should be [1, 98304]", "context window"),
        ("temperature must be <= 2", "request rejected"),
    ],
)
def test_bad_request_is_not_retried(
    fake_openai: FakeOpenAI, make_model: Any, message: str, expected: str
) -> None:
    fake_openai.enqueue(Fault(400, message=message))
    with pytest.raises(ModelError, match=expected) as info:
        make_model().query(USER, None)
    assert not info.value.retryable
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_key_variable(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("REALFIN_NO_SUCH_KEY", raising=False)
    else:
        monkeypatch.setenv("REALFIN_NO_SUCH_KEY", value)
    config = ModelConfig(
        name="m", base_url="http://127.0.0.1:9/v1", api_key_env="REALFIN_NO_SUCH_KEY"
    )
    with pytest.raises(ModelError, match=r"REALFIN_NO_SUCH_KEY is not set.*export"):
        OpenAIModel(config)


def test_keyless_endpoint(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(text_reply("ok"))
    with OpenAIModel(ModelConfig(name="local", base_url=fake_openai.base_url)) as model:
        assert model.query(USER, None).content == "ok"
    assert fake_openai.requests[0].headers["authorization"] == "Bearer no-key"


def test_oracle_is_not_an_endpoint() -> None:
    with pytest.raises(ConfigError, match="no base_url"):
        OpenAIModel(ModelConfig(name="oracle", provider="oracle"))


def test_fake_server_rejects_wrong_key(make_model: Any, fake_openai: FakeOpenAI) -> None:
    fake_openai.require_key = "another-key"
    with pytest.raises(ModelError, match="authentication failed"):
        make_model().query(USER, None)


def test_model_module_does_not_import_openai() -> None:
    code = (
        "import sys, pytest_realfin.model, pytest_realfin.registry; print('openai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


counts = st.integers(min_value=0, max_value=10**7)


@given(prompt=counts, completion=counts, cached=counts, reasoning=counts)
def test_usage_shapes_agree(prompt: int, completion: int, cached: int, reasoning: int) -> None:
    cached, reasoning = min(cached, prompt), min(reasoning, completion)
    a = normalize_usage(openai_usage(prompt, completion, cached=cached, reasoning=reasoning))
    b = normalize_usage(deepseek_usage(prompt, completion, cache_hit=cached, reasoning=reasoning))
    assert a == b
    assert a.prompt_tokens == prompt
    assert a.total_tokens == prompt + completion
    assert a.cached_input_tokens == cached
    assert 0 <= a.reasoning_tokens <= a.output_tokens


@given(st.one_of(st.none(), st.text(), st.dictionaries(st.text(), st.integers())))
def test_unreadable_usage_is_unknown(raw: Any) -> None:
    usage = normalize_usage(raw)
    if usage.known:
        assert isinstance(raw, dict)
        assert {"prompt_tokens", "completion_tokens"} <= raw.keys()
    else:
        assert usage == Usage(calls=1, unknown_calls=1)


@given(seconds=st.integers(min_value=0, max_value=10**6))
def test_retry_after_forms(seconds: int) -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": str(seconds)}, now) == seconds
    assert parse_retry_after({"retry-after-ms": str(seconds)}, now) == seconds / 1000
    date = formatdate(now + seconds, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now) == pytest.approx(seconds)
    assert parse_retry_after({"retry-after": "soon"}, now) is None
    assert parse_retry_after({}, now) is None


@given(retry=st.integers(min_value=0, max_value=40), seed=st.integers())
def test_backoff_is_bounded_and_grows(retry: int, seed: int) -> None:
    policy = Backoff(base_s=1.0, max_s=30.0)
    wait = policy.delay(retry, random.Random(seed), None)
    ceiling = min(30.0, 2.0**retry)
    assert ceiling / 2 <= wait <= ceiling
    assert policy.delay(retry, random.Random(seed), 3.5) == 3.5


def test_timeouts_exhausted_name_the_timeout(fake_openai: FakeOpenAI, make_model: Any) -> None:
    fake_openai.default = Reply(content="late", delay_s=2.0)
    with pytest.raises(ModelError, match=r"timeout_s=0\.2.*gave up after 1 attempts") as info:
        make_model(timeout_s=0.2, max_retries=0).query(USER, None)
    assert info.value.retryable


def test_base_url_without_v1_and_latency(fake_openai: FakeOpenAI, make_model: Any) -> None:
    # DeepSeek's documented base URL has no /v1; the client then posts to /chat/completions.
    fake_openai.latency_s = 0.1
    fake_openai.enqueue(text_reply("ok"))
    reply = make_model(base_url=f"http://127.0.0.1:{fake_openai.port}").query(USER, None)
    assert fake_openai.requests[0].path == "/chat/completions"
    assert reply.latency_s >= 0.1


def test_exhausted_script_fails_loudly(fake_openai: FakeOpenAI, make_model: Any) -> None:
    with pytest.raises(ModelError, match="script exhausted at request 1") as info:
        make_model().query(USER, None)
    assert not info.value.retryable
