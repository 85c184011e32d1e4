"""Messages into chat templates, tool calls out of generated text, and SFT labels."""

from __future__ import annotations

import json

import pytest

from helpers import SAVE_PERSON_TOOL, tool_result_row
from understudy_trainer import tiny
from understudy_trainer.chat import (
    Answer,
    ToolCall,
    answer_from_message,
    parse_generation,
    template_message,
)
from understudy_trainer.dataset import ChatRow
from understudy_trainer.examples import IGNORE, encode_row, render_prompt


@pytest.fixture(scope="module")
def tokenizer():
    row = tool_result_row()
    return tiny.build_tokenizer([json.dumps(row)] * 10)


def test_template_message_parses_openai_arguments() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
            {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "not json"}},
        ],
    }
    rendered = template_message(message)
    assert rendered["content"] == ""
    assert [c["function"]["arguments"] for c in rendered["tool_calls"]] == [{"x": 1}, "not json"]


def test_template_message_flattens_content_parts_and_developer_role() -> None:
    message = {
        "role": "developer",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
    }
    assert template_message(message) == {"role": "system", "content": "ab"}
    assert template_message({"role": "tool", "tool_call_id": "c1", "content": "ok"}) == {
        "role": "tool",
        "content": "ok",
        "tool_call_id": "c1",
    }


def test_parse_generation_reads_hermes_tool_calls() -> None:
    text = 'Saving.\n<tool_call>\n{"name": "save", "arguments": {"a": 1}}\n</tool_call>'
    assert parse_generation(text) == Answer("Saving.", (ToolCall("save", {"a": 1}),))
    llama_style = '<tool_call>{"name": "save", "parameters": "{\\"a\\": 1}"}</tool_call>'
    assert parse_generation(llama_style).tool_calls == (ToolCall("save", {"a": 1}),)


def test_parse_generation_keeps_malformed_blocks_as_text() -> None:
    text = "<tool_call>{oops}</tool_call>"
    assert parse_generation(text) == Answer(text, ())
    assert parse_generation('<tool_call>{"name": "f"').tool_calls == ()


def test_answer_from_message_matches_what_the_model_would_say() -> None:
    teacher = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"type": "function", "function": {"name": "save", "arguments": '{"a": 1}'}}],
    }
    generated = '<tool_call>\n{"name": "save", "arguments": {"a": 1}}\n</tool_call>'
    assert answer_from_message(teacher) == parse_generation(generated)


def test_tiny_template_renders_tools_tool_calls_and_results(tokenizer) -> None:
    row = tool_result_row()
    text = tokenizer.apply_chat_template(
        [template_message(m) for m in row["messages"]], tools=row["tools"], tokenize=False
    )
    assert text.startswith("<|im_start|>system\nExtract the person")
    assert "<tools>\n" + json.dumps(SAVE_PERSON_TOOL) + "\n</tools>" in text
    arguments = json.loads(row["messages"][2]["tool_calls"][0]["function"]["arguments"])
    call = json.dumps({"name": "save_person", "arguments": arguments})
    assert f"<|im_start|>assistant\n<tool_call>\n{call}\n</tool_call><|im_end|>\n" in text
    assert (
        '<|im_start|>tool\n<tool_response>\n{"saved": true}\n</tool_response><|im_end|>\n' in text
    )
    assert text.endswith("<|im_start|>assistant\nSaved.<|im_end|>\n")
    # What the template writes for a call is what the server parses back.
    generated = text.split("<|im_start|>assistant\n")[1].split("<|im_end|>")[0]
    assert parse_generation(generated) == answer_from_message(row["messages"][2])


def test_tiny_template_without_tools(tokenizer) -> None:
    messages = [{"role": "user", "content": "hi"}]
    assert render_prompt(tokenizer, messages, None) == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_tiny_tokenizer_keeps_markup_tokens(tokenizer) -> None:
    ids = tokenizer("<tool_call>x</tool_call><|im_end|>", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<tool_call>x</tool_call>"
    assert ids[0] == tokenizer.convert_tokens_to_ids("<tool_call>")


def test_encode_row_labels_only_the_answer(tokenizer) -> None:
    raw = tool_result_row()
    row = ChatRow(messages=raw["messages"], tools=raw["tools"])
    example = encode_row(tokenizer, row, max_length=4096)
    assert example is not None
    labelled = [
        t
        for t, label in zip(example["input_ids"], example["labels"], strict=True)
        if label != IGNORE
    ]
    assert tokenizer.decode(labelled) == "Saved.<|im_end|>\n"
    assert len(example["input_ids"]) == len(example["labels"])


def test_encode_row_keeps_the_end_when_too_long(tokenizer) -> None:
    raw = tool_result_row()
    row = ChatRow(messages=raw["messages"], tools=raw["tools"])
    full = encode_row(tokenizer, row, max_length=4096)
    short = encode_row(tokenizer, row, max_length=10)
    assert full is not None
    assert short is not None
    assert short["input_ids"] == full["input_ids"][-10:]
    assert short["labels"] == full["labels"][-10:]
