"""Models without an endpoint: ``ScriptedModel`` replays replies, ``OracleModel`` runs a solution.

The oracle goes through the same loop and sandbox as a real model: it sends the reference solution's
source inside a bash heredoc (never a host path, which the sandbox could not see anyway) and then
submits. Its usage is zero tokens with every call counted, so it is "known", not "unknown".
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_realfin.errors import ConfigError
from pytest_realfin.model import Message, ModelResponse, ToolCall
from pytest_realfin.prompts import SUBMIT_SENTINEL
from pytest_realfin.results import Usage

__all__ = ["OracleModel", "ScriptedModel", "bash_reply"]


def bash_reply(
    command: str, *, tools: bool, call_id: str = "call_1", usage: Usage | None = None
) -> ModelResponse:
    """A reply that runs ``command``: one ``bash`` tool call, or one fenced block in text mode."""
    use = usage if usage is not None else Usage(calls=1)
    if tools:
        call = ToolCall(id=call_id, name="bash", arguments=json.dumps({"command": command}))
        return ModelResponse(
            content=None, tool_calls=(call,), usage=use, finish_reason="tool_calls"
        )
    return ModelResponse(content=f"```bash\n{command}\n```", usage=use, finish_reason="stop")


class ScriptedModel:
    """Returns the given replies in order; an exception in the list is raised at its turn.

    Tests build episodes from it that reach each exit status. Calls past the end raise
    ``IndexError`` naming how many replies there were, so a test that under-scripts fails clearly.
    """

    def __init__(
        self, responses: Sequence[ModelResponse | BaseException], name: str = "scripted"
    ) -> None:
        self.name = name
        self.responses = list(responses)
        self.calls: list[list[Message]] = []
        """The messages each call saw (copies), for assertions."""

    def query(self, messages: list[Message], tools: list[dict[str, Any]] | None) -> ModelResponse:
        """The next scripted reply (or raise the next scripted exception)."""
        self.calls.append([dict(m) for m in messages])
        index = len(self.calls) - 1
        if index >= len(self.responses):
            msg = (
                f"ScriptedModel {self.name!r}: call {index + 1} but only {len(self.responses)} "
                "replies were scripted; add replies or lower max_turns"
            )
            raise IndexError(msg)
        item = self.responses[index]
        if isinstance(item, BaseException):
            raise item
        return item


def _heredoc(source: str) -> str:
    tag = "REALFIN_EOF"
    lines = set(source.splitlines())
    while tag in lines:
        tag += "_"
    body = source if source.endswith("\n") else source + "\n"
    return f"python3 - <<'{tag}'\n{body}{tag}"


class OracleModel:
    """Runs a task's reference solution in the sandbox (turn 1), then submits (turn 2 on).

    It is stateless: the turn is read from the number of assistant messages so far, so one
    instance can serve any number of attempts. It answers in whichever protocol it is asked in.

    Args:
        solution_path: ``tasks/<id>/solution.py``; its source is sent, never its path.
        output_file: the task's output file, listed after the run when given.
    """

    name = "oracle"

    def __init__(self, solution_path: Path, output_file: str | None = None) -> None:
        try:
            self.source = solution_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            where = str(solution_path)
            msg = f"oracle: solution_path={where!r} cannot be read ({exc}); check the task folder"
            raise ConfigError(msg) from None
        self.output_file = output_file

    def query(self, messages: list[Message], tools: list[dict[str, Any]] | None) -> ModelResponse:
        """Turn 1: the solution; later turns: the submit command. Zero tokens, one call."""
        turn = sum(1 for m in messages if m.get("role") == "assistant") + 1
        if turn == 1:
            command = _heredoc(self.source)
            if self.output_file:  # shows in the trajectory whether the file was written
                command += f"\nls -l -- {shlex.quote(self.output_file)}"
        else:
            command = f"echo {SUBMIT_SENTINEL}"
        return bash_reply(command, tools=tools is not None, call_id=f"oracle_{turn}")
