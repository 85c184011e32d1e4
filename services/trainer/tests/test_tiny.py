from __future__ import annotations

import pytest
import torch

from understudy_trainer import tiny
from understudy_trainer.errors import TrainerError


@pytest.mark.parametrize("architecture", tiny.ARCHITECTURES)
def test_builds_the_same_weights_in_every_process(architecture: str) -> None:
    tokenizer = tiny.build_tokenizer(["hello world, tiny models"] * 4)
    torch.manual_seed(123)  # the caller's seed must not matter
    first = tiny.build_model(f"tiny-random:{architecture}", tokenizer)
    second = tiny.build_model(f"tiny-random:{architecture}", tokenizer)
    assert first.config.model_type == architecture
    assert first.config.vocab_size == len(tokenizer)
    assert first.num_parameters() < 500_000
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_rejects_unknown_architectures() -> None:
    with pytest.raises(TrainerError, match="gpt9") as caught:
        tiny.architecture("tiny-random:gpt9")
    assert caught.value.retryable is False
