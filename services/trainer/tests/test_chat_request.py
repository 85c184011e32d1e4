from __future__ import annotations

from typing import Any

import pytest

from understudy_trainer.chat_request import ApiError, parse_chat_request

MESSAGES = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def test_reads_a_full_request() -> None:
    request = parse_chat_request(
        {
            "model": "m",
            "messages": MESSAGES,
            "tools": TOOLS,
            "tool_choice": "auto",
            "max_completion_tokens": 7,
            "temperature": 0.5,
            "top_p": 0.9,
            "seed": -3,
            "stop": "END",
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert request.model == "m"
    assert request.tools == TOOLS
    assert request.max_tokens == 7
    assert request.sampling == {"do_sample": True, "temperature": 0.5, "top_p": 0.9}
    assert request.seed == -3
    assert request.stop == ["END"]
    assert request.stream
    assert request.include_usage


def test_defaults() -> None:
    request = parse_chat_request({"model": "m", "messages": MESSAGES})
    assert request.tools is None
    assert request.max_tokens is None
    assert request.sampling == {"do_sample": True, "temperature": 1.0, "top_p": 1.0}
    assert request.stop == []
    assert not request.stream
    assert not request.include_usage


def test_temperature_zero_is_greedy_and_tool_choice_none_hides_tools() -> None:
    request = parse_chat_request(
        {
            "model": "m",
            "messages": MESSAGES,
            "temperature": 0,
            "tools": TOOLS,
            "tool_choice": "none",
        }
    )
    assert request.sampling == {"do_sample": False}
    assert request.tools is None


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages"),
        ({"tools": {"f": 1}}, "tools"),
        ({"n": 2}, "n"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"seed": 1.5}, "seed"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": [1]}, "stop"),
    ],
)
def test_rejects_bad_parameters(changes: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_chat_request({"model": "m", "messages": MESSAGES, **changes})
    assert caught.value.status == 400
    assert caught.value.param == param
    assert caught.value.body()["error"]["type"] == "invalid_request_error"
