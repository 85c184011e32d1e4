"""The `--config` JSON of a training run, validated before anything heavy is loaded."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from understudy_trainer.errors import TrainerError


@dataclass(frozen=True)
class HyperParameters:
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    # "all-linear" adapts every linear layer but the output head, which suits small models best.
    target_modules: str | list[str] = "all-linear"
    epochs: float = 3.0
    max_steps: int | None = None
    learning_rate: float = 2e-4
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_seq_length: int = 2048
    seed: int = 42
    eval_max_samples: int = 64
    eval_max_new_tokens: int = 256


_FRACTIONAL = frozenset({"lora_dropout", "epochs", "learning_rate"})
_ZERO_ALLOWED = frozenset({"lora_dropout", "seed", "eval_max_samples"})


def parse_hyperparameters(text: str | None) -> HyperParameters:
    if not text:
        return HyperParameters()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise _invalid(f"not JSON ({error})") from error
    if not isinstance(raw, dict):
        raise _invalid("not a JSON object")
    known = [field.name for field in dataclasses.fields(HyperParameters)]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise _invalid(f"unknown keys {', '.join(unknown)}; known: {', '.join(known)}")
    for name, value in raw.items():
        _check(name, value)
    return HyperParameters(**raw)


def _check(name: str, value: object) -> None:
    if name == "target_modules":
        names_ok = isinstance(value, list) and value and all(isinstance(v, str) for v in value)
        if not (isinstance(value, str) or names_ok):
            raise _invalid("target_modules must be a string or a list of module names")
        return
    if name == "max_steps" and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"{name} must be a number")
    if isinstance(value, float) and name not in _FRACTIONAL:
        raise _invalid(f"{name} must be an integer")
    too_small = value < 0 if name in _ZERO_ALLOWED else value <= 0
    if too_small or (name == "lora_dropout" and value >= 1):
        raise _invalid(f"{name} is out of range")


def _invalid(message: str) -> TrainerError:
    return TrainerError(f"invalid --config: {message}", retryable=False)
