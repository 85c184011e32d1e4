"""The OpenAI chat-completion request body, validated into what generation needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from understudy_trainer.dataset import ROLES


class ApiError(Exception):
    """An error answered in OpenAI's `{"error": {...}}` shape."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {
            "error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}
        }


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    """None also when `tool_choice` is "none": the model is not told about tools at all."""
    max_tokens: int | None
    sampling: dict[str, Any]
    seed: int | None
    stop: list[str]
    stream: bool
    include_usage: bool


def parse_chat_request(body: object) -> ChatRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    messages = body.get("messages")
    if not (
        isinstance(messages, list)
        and messages
        and all(isinstance(m, dict) and m.get("role") in ROLES for m in messages)
    ):
        raise ApiError(400, "messages must be a non-empty list of chat messages", param="messages")
    tools = body.get("tools")
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    ):
        raise ApiError(400, "tools must be a list of tool definitions", param="tools")
    if _number(body, "n", 1) != 1:
        raise ApiError(400, "only n=1 is supported", param="n")
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    if len(stops) > 4 or not all(isinstance(s, str) for s in stops):
        raise ApiError(400, "stop must be a string or up to 4 strings", param="stop")
    options = body.get("stream_options")
    return ChatRequest(
        model=str(body.get("model")),
        messages=messages,
        tools=tools if tools and body.get("tool_choice") != "none" else None,
        max_tokens=_integer(body, "max_completion_tokens") or _integer(body, "max_tokens"),
        sampling=_sampling(body),
        seed=_integer(body, "seed", minimum=None),
        stop=stops,
        stream=body.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
    )


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    temperature = _number(body, "temperature", 1.0)
    top_p = _number(body, "top_p", 1.0)
    if not 0 <= temperature <= 2:
        raise ApiError(400, "temperature must be between 0 and 2", param="temperature")
    if not 0 < top_p <= 1:
        raise ApiError(400, "top_p must be in (0, 1]", param="top_p")
    if temperature == 0:
        return {"do_sample": False}
    return {"do_sample": True, "temperature": temperature, "top_p": top_p}


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{name} must be a number", param=name)
    return float(value)


def _integer(body: dict[str, Any], name: str, minimum: int | None = 1) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer", param=name)
    if minimum is not None and value < minimum:
        raise ApiError(400, f"{name} must be at least {minimum}", param=name)
    return value
