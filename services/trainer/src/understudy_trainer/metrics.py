"""How close the student's answers come to the teacher's on the held-out split."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from understudy_trainer.chat import Answer

_TOKEN = re.compile(r"\w+")


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def exact_match(predicted: Answer, reference: Answer) -> bool:
    return normalize(predicted.text()) == normalize(reference.text())


def token_f1(predicted: Answer, reference: Answer) -> float:
    """SQuAD-style bag-of-words F1 over the answers' text, tool calls included."""
    predicted_tokens, reference_tokens = tokens(predicted.text()), tokens(reference.text())
    if not predicted_tokens or not reference_tokens:
        return float(predicted_tokens == reference_tokens)
    overlap = sum((Counter(predicted_tokens) & Counter(reference_tokens)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted_tokens)
    recall = overlap / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


def tool_names_match(predicted: Answer, reference: Answer) -> bool:
    return sorted(c.name for c in predicted.tool_calls) == sorted(
        c.name for c in reference.tool_calls
    )


def tool_calls_match(predicted: Answer, reference: Answer) -> bool:
    """Same tools with the same arguments as JSON values, in any order."""
    return sorted(c.canonical() for c in predicted.tool_calls) == sorted(
        c.canonical() for c in reference.tool_calls
    )


def perplexity(loss: float) -> float | None:
    """exp(loss), or None where it is not a finite number (JSON has no infinity)."""
    try:
        value = math.exp(loss)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def generation_metrics(
    predicted: Sequence[Answer], reference: Sequence[Answer]
) -> dict[str, float | int | None]:
    """Means over the samples; the tool-call rates only over samples whose answer calls tools."""
    if len(predicted) != len(reference):
        raise ValueError("predicted and reference answers differ in count")
    pairs = list(zip(predicted, reference, strict=True))
    tool_pairs = [(p, r) for p, r in pairs if r.tool_calls]

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    return {
        "generation_samples": len(pairs),
        "exact_match": mean([float(exact_match(p, r)) for p, r in pairs]),
        "token_f1": mean([token_f1(p, r) for p, r in pairs]),
        "tool_call_samples": len(tool_pairs),
        "tool_name_match": mean([float(tool_names_match(p, r)) for p, r in tool_pairs]),
        "tool_call_match": mean([float(tool_calls_match(p, r)) for p, r in tool_pairs]),
    }
