"""`train`: LoRA SFT of a base model on a dataset manifest, evaluated on its held-out split."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import PreTrainedTokenizerBase, PrinterCallback, TrainerCallback, set_seed
from trl import SFTConfig, SFTTrainer

from understudy_trainer.dataset import ChatRow, load_split, parse_manifest
from understudy_trainer.errors import TrainerError
from understudy_trainer.evaluation import evaluate_generation, evaluation_report
from understudy_trainer.events import Events, finite
from understudy_trainer.examples import corpus, encode_row
from understudy_trainer.hyperparameters import HyperParameters
from understudy_trainer.metrics import perplexity
from understudy_trainer.modeling import (
    Placement,
    base_model_license,
    footprint,
    load_model,
    load_tokenizer,
    placement,
)
from understudy_trainer.storage import ObjectStorage, describe_files, join_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainRequest:
    dataset: str
    output: str
    base_model: str
    run_id: str
    hyperparameters: HyperParameters


@dataclass(frozen=True)
class TrainResult:
    adapter: str
    metrics: dict[str, Any]
    # What the model registry records beyond the metrics (see Events.succeeded).
    files: list[dict[str, Any]]
    footprint: dict[str, Any]
    license: str | None
    evaluation: dict[str, Any] | None


def train(
    request: TrainRequest, storage: ObjectStorage, events: Events, workdir: Path
) -> TrainResult:
    """Trains and uploads `adapter/` and `metrics.json` below the output prefix; reports the
    adapter's files, footprint and licence, and the held-out evaluation."""
    storage.check(request.output)
    manifest = parse_manifest(storage.read_bytes(request.dataset))
    train_rows = load_split(storage, manifest.train)
    eval_rows = load_split(storage, manifest.eval) if manifest.eval else []
    if not train_rows:
        raise TrainerError("invalid dataset: the train split is empty", retryable=False)
    log.info(
        "dataset %s (task %s): %d train rows, %d eval rows",
        manifest.dataset_id,
        manifest.task_id,
        len(train_rows),
        len(eval_rows),
    )

    hp = request.hyperparameters
    set_seed(hp.seed)
    where = placement()
    tokenizer = load_tokenizer(request.base_model, corpus=corpus(train_rows))
    train_set = _encode(tokenizer, train_rows, hp.max_seq_length, "train")
    eval_set = _encode(tokenizer, eval_rows, hp.max_seq_length, "eval") if eval_rows else None
    progress = ProgressCallback(events)
    trainer = SFTTrainer(
        model=load_model(request.base_model, tokenizer, where),
        args=_sft_config(hp, where, workdir / "checkpoints"),
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=hp.lora_r,
            lora_alpha=hp.lora_alpha,
            lora_dropout=hp.lora_dropout,
            target_modules=hp.target_modules,
            bias="none",
            task_type="CAUSAL_LM",
        ),
        callbacks=[progress],
    )
    # Progress lines and the log replace the trainer's printing of every logged dict.
    trainer.remove_callback(PrinterCallback)
    try:
        result = trainer.train()
    except torch.OutOfMemoryError as error:
        raise TrainerError(
            "out of accelerator memory: lower batch_size or max_seq_length", retryable=False
        ) from error

    metrics: dict[str, Any] = {
        "run_id": request.run_id,
        "base_model": request.base_model,
        "dataset_id": manifest.dataset_id,
        "task_id": manifest.task_id,
        "device": where.device,
        "train_rows": len(train_set),
        "eval_rows": len(eval_set) if eval_set is not None else 0,
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_loss": result.training_loss,
        "initial_loss": progress.losses[0] if progress.losses else None,
        "final_loss": progress.losses[-1] if progress.losses else None,
        "train_runtime_s": result.metrics.get("train_runtime"),
    }
    if eval_set is not None:
        metrics |= _evaluate(trainer, tokenizer, eval_rows[: hp.eval_max_samples], hp)
    metrics = finite(metrics)
    log.info("metrics: %s", json.dumps(metrics))

    output = workdir / "output"
    # The embeddings are never resized, so only the LoRA weights are saved.
    trainer.model.save_pretrained(output / "adapter", save_embedding_layers=False)
    # Serving needs the exact tokenizer and chat template; tiny models have no other copy.
    tokenizer.save_pretrained(output / "adapter")
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    storage.upload_dir(output, request.output)
    return TrainResult(
        adapter=join_key(request.output, "adapter"),
        metrics=metrics,
        files=describe_files(output / "adapter"),
        footprint=footprint(trainer.model),
        license=base_model_license(request.base_model),
        evaluation=evaluation_report(metrics),
    )


def _evaluate(
    trainer: SFTTrainer,
    tokenizer: PreTrainedTokenizerBase,
    samples: list[ChatRow],
    hp: HyperParameters,
) -> dict[str, Any]:
    """Loss on the whole eval split, then the student's answers to `samples` vs the teacher's."""
    eval_loss = float(trainer.evaluate()["eval_loss"])
    metrics: dict[str, Any] = {"eval_loss": eval_loss, "eval_perplexity": perplexity(eval_loss)}
    if samples:
        metrics |= evaluate_generation(
            trainer.model,
            tokenizer,
            samples,
            max_new_tokens=hp.eval_max_new_tokens,
            max_prompt_tokens=hp.max_seq_length,
            batch_size=hp.batch_size,
        )
    return metrics


def _encode(
    tokenizer: PreTrainedTokenizerBase, rows: list[ChatRow], max_length: int, split: str
) -> Dataset:
    encoded = [encode_row(tokenizer, row, max_length) for row in rows]
    kept = [example for example in encoded if example is not None]
    if len(kept) < len(encoded):
        log.warning(
            "%s: %d rows left no answer tokens after truncation", split, len(encoded) - len(kept)
        )
    if not kept:
        raise TrainerError(f"invalid dataset: no {split} row fits max_seq_length", retryable=False)
    return Dataset.from_list(kept)


def _sft_config(hp: HyperParameters, where: Placement, checkpoints: Path) -> SFTConfig:
    return SFTConfig(
        output_dir=str(checkpoints),
        num_train_epochs=hp.epochs,
        max_steps=hp.max_steps or -1,
        per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.batch_size,
        gradient_accumulation_steps=hp.gradient_accumulation_steps,
        learning_rate=hp.learning_rate,
        seed=hp.seed,
        max_length=None,  # rows arrive truncated by encode_row, which keeps the answer
        bf16=where.bf16,
        fp16=False,
        use_cpu=where.device == "cpu",
        activation_checkpointing=where.device == "cuda",
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )


class ProgressCallback(TrainerCallback):
    """Turns the trainer's logged losses into progress lines."""

    def __init__(self, events: Events) -> None:
        self.events = events
        self.losses: list[float] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if logs and "loss" in logs:
            loss = float(logs["loss"])
            self.losses.append(loss)
            log.info("step %d/%d: loss %.4f", state.global_step, state.max_steps, loss)
            self.events.progress(
                step=state.global_step,
                total_steps=state.max_steps,
                loss=loss,
                epoch=float(state.epoch or 0.0),
            )
