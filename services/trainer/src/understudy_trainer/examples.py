"""Chat rows rendered through the model's own chat template and tokenized for SFT.

Rows are tokenized here rather than by TRL so that tool-call arguments and JSON-schema tools reach
the template exactly as written (an Arrow dataset would merge their keys across rows), and so the
loss covers only the teacher's final answer: the prompt's tokens get the label -100.
"""

from __future__ import annotations

import json
from typing import Any

from transformers import PreTrainedTokenizerBase

from understudy_trainer.chat import template_messages
from understudy_trainer.dataset import ChatRow

IGNORE = -100


def render_prompt(
    tokenizer: PreTrainedTokenizerBase,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
) -> str:
    """The conversation so far, ending where the assistant's answer begins."""
    text: str = tokenizer.apply_chat_template(
        template_messages(messages), tools=tools, add_generation_prompt=True, tokenize=False
    )
    return text


def encode_row(
    tokenizer: PreTrainedTokenizerBase, row: ChatRow, max_length: int
) -> dict[str, list[int]] | None:
    """input_ids and labels of a row, keeping its end when too long; None if no answer is left.

    The loss covers only the answer: every token before it is labelled IGNORE.
    """
    prompt = render_prompt(tokenizer, row.prompt, row.tools)
    full: str = tokenizer.apply_chat_template(
        template_messages(row.messages), tools=row.tools, tokenize=False
    )
    # Some templates render the history differently once an answer follows (e.g. dropping
    # reasoning); the answer starts where the two renderings part.
    boundary = next(
        (i for i, (a, b) in enumerate(zip(prompt, full, strict=False)) if a != b),
        min(len(prompt), len(full)),
    )
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    input_ids: list[int] = encoded["input_ids"]
    labels = [
        token if start >= boundary else IGNORE
        for token, (start, _end) in zip(input_ids, encoded["offset_mapping"], strict=True)
    ]
    input_ids, labels = input_ids[-max_length:], labels[-max_length:]
    if all(label == IGNORE for label in labels):
        return None
    return {"input_ids": input_ids, "labels": labels}


def corpus(rows: list[ChatRow]) -> list[str]:
    """Text to train a tiny tokenizer on: every message, tool call and tool schema."""
    return [
        json.dumps({"messages": r.messages, "tools": r.tools}, ensure_ascii=False) for r in rows
    ]
