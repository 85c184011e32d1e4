"""OpenAI chat messages in and out of Hugging Face chat templates.

OpenAI carries tool-call arguments as JSON strings; HF templates expect objects (they render them
with `tojson`), so arguments are parsed on the way in. Models answer tool calls in the Hermes
format (`<tool_call>{"name": ..., "arguments": ...}</tool_call>`), which Qwen2.5/Qwen3, Hermes
and the tiny template emit; those blocks are parsed back into OpenAI tool calls on the way out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

TOOL_CALL_OPEN = "<tool_call>"
_TOOL_CALL_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def content_text(content: object) -> str:
    """The text of a message's content: a string, null, or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def parse_arguments(arguments: object) -> Any:
    """Tool-call arguments as a JSON value; a string that is not JSON stays a string."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return arguments


def template_message(message: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI message in the shape chat templates render."""
    role = message["role"]
    rendered: dict[str, Any] = {
        # Templates know `system`; OpenAI's newer `developer` role means the same to a small model.
        "role": "system" if role == "developer" else role,
        "content": content_text(message.get("content")),
    }
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list) and tool_calls:
        rendered["tool_calls"] = [
            {
                "id": call.get("id"),
                "type": "function",
                "function": {
                    "name": call.get("function", {}).get("name", ""),
                    "arguments": parse_arguments(call.get("function", {}).get("arguments")),
                },
            }
            for call in tool_calls
            if isinstance(call, dict)
        ]
    for key in ("tool_call_id", "name"):
        if isinstance(message.get(key), str):
            rendered[key] = message[key]
    return rendered


def template_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [template_message(message) for message in messages]


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Any

    def canonical(self) -> str:
        """Key-order-independent form, so two calls compare equal when their JSON does."""
        return json.dumps(
            {"name": self.name, "arguments": self.arguments},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True)
class Answer:
    """An assistant turn reduced to what the metrics compare: its text and its tool calls."""

    content: str
    tool_calls: tuple[ToolCall, ...]

    def text(self) -> str:
        parts = [self.content.strip(), *(call.canonical() for call in self.tool_calls)]
        return "\n".join(part for part in parts if part)


def answer_from_message(message: dict[str, Any]) -> Answer:
    calls = template_message(message).get("tool_calls", [])
    return Answer(
        content=content_text(message.get("content")),
        tool_calls=tuple(
            ToolCall(name=call["function"]["name"], arguments=call["function"]["arguments"])
            for call in calls
        ),
    )


def parse_generation(text: str) -> Answer:
    """Splits generated text into content and Hermes tool calls; malformed blocks stay content."""
    calls: list[ToolCall] = []
    content: list[str] = []
    position = 0
    for match in _TOOL_CALL_BLOCK.finditer(text):
        call = _parse_tool_call(match.group(1))
        if call is None:
            continue
        content.append(text[position : match.start()])
        calls.append(call)
        position = match.end()
    content.append(text[position:])
    return Answer(content="".join(content).strip(), tool_calls=tuple(calls))


def _parse_tool_call(body: str) -> ToolCall | None:
    try:
        raw = json.loads(body)
    except json.JSONDecodeError:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        return None
    # Llama-style templates name the arguments `parameters`.
    arguments = raw.get("arguments", raw.get("parameters", {}))
    return ToolCall(name=raw["name"], arguments=parse_arguments(arguments))
