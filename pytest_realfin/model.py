"""The ``Model`` seam and its OpenAI-compatible implementation.

This is the only module that imports ``openai`` (lazily, inside ``OpenAIModel``), so loading the plugin
stays cheap and every provider's quirks are normalised in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pytest_realfin.results import Usage

__all__ = ["Message", "Model", "ModelResponse", "ToolCall"]

Message = dict[str, Any]
"""One chat message in the OpenAI wire format (role, content, tool_calls, tool_call_id)."""


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


@runtime_checkable
class Model(Protocol):
    """Anything that can answer a chat: a real endpoint, a scripted fake, the oracle."""

    name: str
    """The model name as the user gave it (``--realfin-model``)."""

    def query(self, messages: list[Message], tools: list[dict[str, Any]] | None) -> ModelResponse:
        """Answer the conversation so far; ``tools`` is the tool schema list, or None for text mode."""
        ...
