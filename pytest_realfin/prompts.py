"""What the harness tells the model: system message, task prompt, observations, corrections.

The text describes the protocol, the paths and the output file only; it never names indicators or
keywords (the original prompt coached the model to print the graders' keywords, see
bayesian-agent.md §6 B). Templates are ``str.format`` strings with every field required, so a
missing value is a ``KeyError`` at once rather than a silently blank prompt.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pytest_realfin.spec import Lang, TaskSpec

__all__ = [
    "BASH_TOOL",
    "SUBMIT_SENTINEL",
    "build_prompt",
    "parse_text_action",
    "render_observation",
    "system_message",
    "truncate_middle",
]

SUBMIT_SENTINEL = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
"""A command whose output starts with this line ends the run as submitted (mini-swe-agent v2)."""

BASH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": (
            "Run one bash command in /workspace and return its exit code and combined "
            "stdout and stderr. Each call is a fresh shell: files persist, cd and variables do not."
        ),
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string", "description": "The bash command."}},
            "required": ["command"],
            "additionalProperties": False,
        },
    },
}

_SYSTEM = {
    "tool": (
        "You are an agent that solves a data-analysis task by running bash commands in a Linux "
        "sandbox without network access.\n"
        "Call the `bash` tool exactly once in every reply, with one command. Each command runs in "
        "a fresh shell in /workspace; files persist between commands, `cd` and variables do not. "
        "A command is stopped after {timeout:g} seconds. You have at most {turns} replies.\n"
        "When the task is done, run `echo {sentinel}` as a command on its own; "
        "you cannot continue after it."
    ),
    "text": (
        "You are an agent that solves a data-analysis task by running bash commands in a Linux "
        "sandbox without network access.\n"
        "Every reply must contain exactly one fenced block with one command:\n"
        "```bash\n<command>\n```\n"
        "Each command runs in a fresh shell in /workspace; files persist between commands, "
        "`cd` and variables do not. A command is stopped after {timeout:g} seconds. You have at "
        "most {turns} replies.\n"
        "When the task is done, reply with a block holding only `echo {sentinel}`; "
        "you cannot continue after it."
    ),
}

_HARNESS = {
    "en": (
        "## Workspace\n"
        "- Your working directory is /workspace. `task.json` there repeats the task and its output "
        "contract.\n"
        "- The market data is under /workspace/api_cache/ (read-only). "
        "`realfin_cache_manifest.json` lists its files, columns and code formats: read it first.\n"
        "- python3 with pandas and numpy is installed. There is no network access.\n"
        "- Write the answer to /workspace/{output_file} exactly as the task below specifies.\n"
        "- When the file is written and checked, submit with `echo {sentinel}` as a command on its "
        "own.\n"
    ),
    "zh": (
        "## 工作区\n"
        "- 工作目录是 /workspace，其中的 `task.json` 给出任务和输出要求。\n"
        "- 行情数据在 /workspace/api_cache/（只读）。`realfin_cache_manifest.json` 列出了文件、"
        "字段和代码格式，请先阅读。\n"
        "- 已安装 python3、pandas 和 numpy，没有网络。\n"
        "- 按下面任务的要求把答案写入 /workspace/{output_file}。\n"
        "- 文件写好并检查无误后，单独执行命令 `echo {sentinel}` 提交。\n"
    ),
}
_TASK_HEADING = {"en": "## Task\n", "zh": "## 任务\n"}


def system_message(protocol: Literal["tool", "text"], *, timeout_s: float, max_turns: int) -> str:
    """The system message for a protocol, stating the command timeout and the turn budget."""
    return _SYSTEM[protocol].format(timeout=timeout_s, turns=max_turns, sentinel=SUBMIT_SENTINEL)


def build_prompt(spec: TaskSpec, *, lang: Lang = "zh", skill_context: str = "") -> str:
    """The first user message of an attempt.

    Args:
        spec: the task.
        lang: language of the task prompt and of the harness instructions.
        skill_context: text of the mode's Skill (empty in the baseline), placed first.

    Returns:
        Skill context, then the harness instructions, then the task prompt.
    """
    harness = _HARNESS[lang].format(output_file=spec.output.file, sentinel=SUBMIT_SENTINEL)
    task = spec.prompt.text(lang)
    parts = [skill_context.strip(), harness, _TASK_HEADING[lang] + task.strip() + "\n"]
    return "\n".join(p for p in parts if p)


def truncate_middle(text: str, limit: int) -> str:
    """Keep the first and last ``limit // 2`` characters, with a note saying how much was elided."""
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    elided = len(text) - head - tail
    note = (
        f"\n[... {elided} of {len(text)} characters elided. Print less: use head, tail or grep, or "
        "write long results to a file and inspect parts of it ...]\n"
    )
    return text[:head] + note + text[len(text) - tail :]


def render_observation(
    output: str, returncode: int, *, timed_out: bool, timeout_s: float, limit: int
) -> str:
    """The observation message for one command (mini-swe-agent's returncode/output layout)."""
    lines = [f"<returncode>{returncode}</returncode>"]
    if timed_out:
        lines.append(
            f"<warning>The command was stopped after {timeout_s:g} seconds, with every process it "
            "started. Use a faster approach or a smaller step.</warning>"
        )
    lines.append(f"<output>\n{truncate_middle(output, limit)}</output>")
    return "\n".join(lines)


_FENCE = re.compile(r"```bash[^\S\n]*\n(.*?)\n?```", re.DOTALL)


def parse_text_action(content: str) -> list[str]:
    """Commands in ``bash`` fenced blocks of a text-protocol reply (exactly one is valid)."""
    return [m.group(1) for m in _FENCE.finditer(content)]
