"""Base model and tokenizer: a hub id or path on a GPU cluster, or `tiny-random:<arch>` in tests."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard
from huggingface_hub.errors import EntryNotFoundError
from peft import PeftModel
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from understudy_trainer import tiny
from understudy_trainer.errors import TrainerError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    device: str
    dtype: torch.dtype

    @property
    def bf16(self) -> bool:
        return self.dtype == torch.bfloat16


def placement() -> Placement:
    """The best device here: CUDA in bf16 where supported, else Apple MPS, else CPU in fp32."""
    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        return Placement(device="cuda", dtype=dtype)
    if torch.backends.mps.is_available():
        return Placement(device="mps", dtype=torch.float32)
    return Placement(device="cpu", dtype=torch.float32)


def load_tokenizer(
    base_model: str, *, corpus: Iterable[str] = (), saved: Path | None = None
) -> PreTrainedTokenizerBase:
    """A tokenizer saved beside an adapter wins; tiny models otherwise train one on `corpus`."""
    if saved is not None and (saved / "tokenizer_config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(saved)
    elif tiny.is_tiny(base_model):
        if saved is not None:
            raise TrainerError(
                f"{base_model} needs the tokenizer saved with the adapter", retryable=False
            )
        tiny.architecture(base_model)
        tokenizer = tiny.build_tokenizer(corpus)
    else:
        tokenizer = _from_pretrained(AutoTokenizer, base_model)
    if not tokenizer.chat_template:
        raise TrainerError(f"{base_model} has no chat template", retryable=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    base_model: str, tokenizer: PreTrainedTokenizerBase, where: Placement
) -> PreTrainedModel:
    if tiny.is_tiny(base_model):
        model: PreTrainedModel = tiny.build_model(base_model, tokenizer).to(where.device)
    else:
        model = _from_pretrained(
            AutoModelForCausalLM,
            base_model,
            dtype=where.dtype,
            # Spreads the layers over the visible GPUs when one cannot hold them.
            device_map="auto" if where.device == "cuda" else None,
        )
        if where.device == "mps":
            model = model.to("mps")
    log.info(
        "loaded %s on %s (%s, %.1fM parameters)",
        base_model,
        where.device,
        str(where.dtype).removeprefix("torch."),
        model.num_parameters() / 1e6,
    )
    return model


def _from_pretrained(factory: Any, name: str, **kwargs: Any) -> Any:
    try:
        return factory.from_pretrained(name, **kwargs)
    except OSError as error:
        # A hub that cannot be reached may answer later; a missing or malformed model will not.
        raise TrainerError(
            f"cannot load {name}: {error}", retryable=network_failure(error)
        ) from error


def network_failure(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, ConnectionError | TimeoutError | socket.gaierror):
            return True
        error = error.__cause__ or error.__context__
    return False


def footprint(model: PeftModel) -> dict[str, int | str]:
    """What serving base and adapter costs: their parameter counts, and their weights' memory at
    the base's dtype, which `serve` loads it in on the same kind of device (KV cache not included).
    """
    adapter, total = model.get_nb_trainable_parameters()
    dtype = model.get_base_model().dtype
    return {
        "base_parameter_count": total - adapter,
        "adapter_parameter_count": adapter,
        "serving_memory_bytes": total * dtype.itemsize,
        "dtype": str(dtype).removeprefix("torch."),
    }


def base_model_license(base_model: str) -> str | None:
    """The licence the base model's card declares (`license:` in its README.md metadata, e.g.
    `apache-2.0`), which the adapter inherits; None for tiny models, which have no card, and when
    the card cannot be read: that must not fail a run that trained."""
    if tiny.is_tiny(base_model):
        return None
    # A model directory's card is its README.md; a hub id's is fetched (or found in the cache).
    card_source: str | Path = base_model
    if Path(base_model).is_dir():
        card_source = Path(base_model) / "README.md"
        if not card_source.is_file():
            log.warning("%s has no model card: its licence is unknown", base_model)
            return None
    try:
        card = ModelCard.load(card_source)
    except (OSError, ValueError, EntryNotFoundError) as error:
        log.warning(
            "cannot read the model card of %s, its licence is unknown: %s", base_model, error
        )
        return None
    declared = card.data.license
    return declared if isinstance(declared, str) and declared else None
