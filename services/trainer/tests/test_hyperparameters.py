from __future__ import annotations

import pytest

from understudy_trainer.errors import TrainerError
from understudy_trainer.hyperparameters import HyperParameters, parse_hyperparameters


def test_defaults_without_config() -> None:
    assert parse_hyperparameters(None) == HyperParameters()
    assert parse_hyperparameters("") == HyperParameters()


def test_reads_the_contract_keys() -> None:
    config = (
        '{"lora_r": 8, "lora_alpha": 16, "lora_dropout": 0, "target_modules": ["q_proj", "v_proj"],'
        ' "epochs": 2, "max_steps": 10, "learning_rate": 1e-4, "batch_size": 2,'
        ' "max_seq_length": 1024, "seed": 7}'
    )
    parsed = parse_hyperparameters(config)
    assert parsed.lora_r == 8
    assert parsed.target_modules == ["q_proj", "v_proj"]
    assert parsed.epochs == 2
    assert parsed.max_steps == 10
    assert parsed.learning_rate == 1e-4
    assert parsed.seed == 7
    assert parse_hyperparameters('{"max_steps": null}').max_steps is None


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ("[1]", "not a JSON object"),
        ('{"rank": 8}', "unknown keys rank"),
        ('{"lora_r": 8.5}', "lora_r must be an integer"),
        ('{"lora_r": true}', "lora_r must be a number"),
        ('{"learning_rate": "high"}', "learning_rate must be a number"),
        ('{"batch_size": 0}', "batch_size is out of range"),
        ('{"lora_dropout": 1}', "lora_dropout is out of range"),
        ('{"target_modules": []}', "target_modules"),
    ],
)
def test_rejects_bad_configs(config: str, reason: str) -> None:
    with pytest.raises(TrainerError, match=reason) as caught:
        parse_hyperparameters(config)
    assert caught.value.retryable is False
