"""Held-out evaluation: the student answers each eval prompt and is scored against the teacher."""

from __future__ import annotations

import logging
from typing import Any

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from understudy_trainer.chat import answer_from_message, parse_generation
from understudy_trainer.dataset import ChatRow
from understudy_trainer.examples import render_prompt
from understudy_trainer.metrics import generation_metrics

log = logging.getLogger(__name__)

# Name and version of this evaluation method, as the model registry records it. Bump the version
# whenever a change (decoding, normalisation, a metric's definition) can move the scores.
EVALUATOR_VERSION = "greedy-teacher-match@1"

# The metrics that measure agreement with the teacher, each in [0, 1].
AGREEMENT_METRICS = ("exact_match", "token_f1", "tool_name_match", "tool_call_match")


def generate_answers(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: list[ChatRow],
    *,
    max_new_tokens: int,
    max_prompt_tokens: int,
    batch_size: int,
) -> list[str]:
    """Greedy answers, batched with left padding so every prompt ends where generation starts."""
    prompts = [render_prompt(tokenizer, row.prompt, row.tools) for row in rows]
    sides = tokenizer.padding_side, tokenizer.truncation_side
    tokenizer.padding_side = tokenizer.truncation_side = "left"
    answers: list[str] = []
    try:
        model.eval()
        for start in range(0, len(prompts), batch_size):
            batch = tokenizer(
                prompts[start : start + batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=max_prompt_tokens,
                add_special_tokens=False,
            ).to(model.device)
            with torch.inference_mode():
                output = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
            prompt_length = batch["input_ids"].shape[1]
            answers += tokenizer.batch_decode(output[:, prompt_length:], skip_special_tokens=True)
    finally:
        tokenizer.padding_side, tokenizer.truncation_side = sides
    return answers


def evaluate_generation(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: list[ChatRow],
    *,
    max_new_tokens: int,
    max_prompt_tokens: int,
    batch_size: int,
) -> dict[str, float | int | None]:
    generated = generate_answers(
        model,
        tokenizer,
        rows,
        max_new_tokens=max_new_tokens,
        max_prompt_tokens=max_prompt_tokens,
        batch_size=batch_size,
    )
    log.info("generated %d eval answers", len(generated))
    return generation_metrics(
        [parse_generation(text) for text in generated],
        [answer_from_message(row.answer) for row in rows],
    )


def evaluation_report(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The held-out evaluation as the registry records it, or None when no answers were generated:
    the agreement metrics (a tool metric is absent when no sample called tools) over the samples."""
    samples = metrics.get("generation_samples")
    if not samples:
        return None
    return {
        "evaluator_version": EVALUATOR_VERSION,
        "split": "eval",
        "example_count": samples,
        "metrics": {
            name: metrics[name] for name in AGREEMENT_METRICS if metrics.get(name) is not None
        },
    }
