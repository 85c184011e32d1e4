from __future__ import annotations

import math

import pytest

from understudy_trainer.chat import Answer, ToolCall
from understudy_trainer.metrics import (
    exact_match,
    generation_metrics,
    perplexity,
    token_f1,
    tool_calls_match,
    tool_names_match,
)


def text(content: str) -> Answer:
    return Answer(content=content, tool_calls=())


def calls(*pairs: tuple[str, object]) -> Answer:
    return Answer(content="", tool_calls=tuple(ToolCall(n, a) for n, a in pairs))


def test_exact_match_ignores_case_and_spacing() -> None:
    assert exact_match(text("  Positive\n"), text("positive"))
    assert not exact_match(text("positive!"), text("positive"))


def test_token_f1_is_bag_of_words_overlap() -> None:
    assert token_f1(text("the cat sat"), text("the cat sat")) == 1.0
    assert token_f1(text("dog"), text("cat")) == 0.0
    # precision 1/2, recall 1/1
    assert token_f1(text("cat dog"), text("cat")) == pytest.approx(2 / 3)
    assert token_f1(text(""), text("")) == 1.0
    assert token_f1(text(""), text("cat")) == 0.0


def test_tool_calls_compare_arguments_as_json_values() -> None:
    reference = calls(("save", {"name": "Ann", "age": 3}))
    assert tool_calls_match(calls(("save", {"age": 3, "name": "Ann"})), reference)
    assert not tool_calls_match(calls(("save", {"name": "Ann", "age": "3"})), reference)
    assert tool_names_match(calls(("save", {})), reference)
    assert not tool_names_match(calls(("delete", {"name": "Ann", "age": 3})), reference)
    # Parallel calls match in any order.
    assert tool_calls_match(calls(("a", 1), ("b", 2)), calls(("b", 2), ("a", 1)))


def test_token_f1_sees_tool_call_arguments() -> None:
    reference = calls(("save", {"name": "Ann Lee", "age": 3}))
    close = calls(("save", {"name": "Ann", "age": 3}))
    assert 0.5 < token_f1(close, reference) < 1.0


def test_generation_metrics_average_over_samples() -> None:
    predicted = [
        text("positive"),
        text("neutral"),
        calls(("save", {"a": 1})),
        calls(("save", {"a": 2})),
    ]
    reference = [
        text("positive"),
        text("negative"),
        calls(("save", {"a": 1})),
        calls(("save", {"a": 1})),
    ]
    metrics = generation_metrics(predicted, reference)
    assert metrics["generation_samples"] == 4
    assert metrics["exact_match"] == 0.5
    assert metrics["tool_call_samples"] == 2
    assert metrics["tool_name_match"] == 1.0
    assert metrics["tool_call_match"] == 0.5
    assert 0.5 < metrics["token_f1"] < 1.0


def test_generation_metrics_without_tool_answers() -> None:
    metrics = generation_metrics([text("a")], [text("a")])
    assert metrics["tool_call_samples"] == 0
    assert metrics["tool_name_match"] is None
    assert metrics["tool_call_match"] is None


def test_perplexity() -> None:
    assert perplexity(math.log(42.0)) == pytest.approx(42.0)
    assert perplexity(1e6) is None
