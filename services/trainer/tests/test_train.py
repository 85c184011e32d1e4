"""`train` end to end on a tiny random model with file:// URIs, and its failure paths."""

from __future__ import annotations

import hashlib
import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TRAIN_CONFIG, TrainedRun
from helpers import cli_env, events, rows, run_cli, write_dataset
from understudy_trainer import tiny


def test_succeeds_and_reports_progress(trained_run: TrainedRun) -> None:
    assert trained_run.returncode == 0, trained_run.stderr[-3000:]
    *progress, last = trained_run.events
    assert [e["step"] for e in progress] == list(range(1, 21))
    for event in progress:
        assert event.keys() == {"event", "step", "total_steps", "loss", "epoch"}
        assert event["event"] == "progress"
        assert event["total_steps"] == 20
        assert math.isfinite(event["loss"])
        assert event["epoch"] > 0
    assert last["event"] == "succeeded"
    assert last["adapter"] == f"{trained_run.output.as_uri()}/adapter"


def test_loss_decreases(trained_run: TrainedRun) -> None:
    losses = [e["loss"] for e in trained_run.events if e["event"] == "progress"]
    first, final = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert final < first * 0.8, losses


def test_writes_an_adapter_that_peft_loads(trained_run: TrainedRun) -> None:
    from peft import PeftModel

    from understudy_trainer.modeling import load_model, load_tokenizer, placement

    adapter = trained_run.output / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
    assert config["r"] == 8
    assert (adapter / "adapter_model.safetensors").stat().st_size > 0

    tokenizer = load_tokenizer("tiny-random:llama", saved=adapter)
    base = load_model("tiny-random:llama", tokenizer, placement())
    model = PeftModel.from_pretrained(base, adapter)
    lora_weights = [n for n, _ in model.named_parameters() if "lora_B" in n]
    assert lora_weights
    # Trained adapters moved lora_B away from its zero initialisation.
    assert any(p.abs().sum() > 0 for n, p in model.named_parameters() if "lora_B" in n)


def test_writes_metrics_and_log(trained_run: TrainedRun) -> None:
    metrics = json.loads((trained_run.output / "metrics.json").read_text())
    assert metrics == trained_run.events[-1]["metrics"]
    assert metrics["run_id"] == "run-1"
    assert metrics["dataset_id"] == "ds-test"
    assert metrics["steps"] == 20
    assert metrics["train_rows"] == 33
    assert metrics["eval_rows"] == 6
    assert metrics["final_loss"] < metrics["initial_loss"]
    assert metrics["eval_loss"] > 0
    assert metrics["eval_perplexity"] == pytest.approx(math.exp(metrics["eval_loss"]))
    assert metrics["generation_samples"] == 6
    assert metrics["tool_call_samples"] == 3
    for name in ("exact_match", "token_f1", "tool_name_match", "tool_call_match"):
        assert 0.0 <= metrics[name] <= 1.0
    log = (trained_run.output / "train.log").read_text()
    assert "step 20/20" in log
    assert "succeeded" in log


def test_reports_the_adapter_files_footprint_and_evaluation(trained_run: TrainedRun) -> None:
    last = trained_run.events[-1]
    adapter = trained_run.output / "adapter"
    assert last["files"] == [
        {
            "path": path.relative_to(adapter).as_posix(),
            "size_bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        for path in sorted(adapter.rglob("*"))
        if path.is_file()
    ]
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {
        f["path"] for f in last["files"]
    }

    footprint = last["footprint"]
    assert footprint["dtype"] == "float32"
    assert 0 < footprint["adapter_parameter_count"] < footprint["base_parameter_count"]
    total = footprint["base_parameter_count"] + footprint["adapter_parameter_count"]
    assert footprint["serving_memory_bytes"] == 4 * total
    # The adapter file holds exactly the adapter's parameters, in float32.
    adapter_weights = (adapter / "adapter_model.safetensors").stat().st_size
    assert adapter_weights >= 4 * footprint["adapter_parameter_count"]
    assert adapter_weights < 4 * footprint["adapter_parameter_count"] + 64 * 1024

    # Tiny random models have no model card, hence no licence.
    assert last["license"] is None

    metrics = last["metrics"]
    assert last["evaluation"] == {
        "evaluator_version": "greedy-teacher-match@1",
        "split": "eval",
        "example_count": 6,
        "metrics": {
            name: metrics[name]
            for name in ("exact_match", "token_f1", "tool_name_match", "tool_call_match")
        },
    }


def _train(
    manifest_uri: str,
    output: Path,
    *extra: str,
    base_model: str = "tiny-random:llama",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "train",
        "--dataset",
        manifest_uri,
        "--output",
        output.as_uri(),
        "--base-model",
        base_model,
        "--run-id",
        "run-x",
        *extra,
        env=env or cli_env(OMP_NUM_THREADS="1"),
    )


def _failure(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 1, result.stderr[-3000:]
    *_, last = events(result.stdout)
    assert last.keys() == {"event", "reason", "retryable"}
    assert last["event"] == "failed"
    return last


def test_bad_manifest_fails_for_good(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"format": "parquet", "splits": {}}')
    failed = _failure(_train(manifest.as_uri(), tmp_path / "out"))
    assert failed["retryable"] is False
    assert "format" in failed["reason"]
    # The log still reaches the output prefix, for whoever investigates.
    assert "parquet" in (tmp_path / "out" / "train.log").read_text()


def test_missing_manifest_fails_for_good(tmp_path: Path) -> None:
    failed = _failure(_train((tmp_path / "none.json").as_uri(), tmp_path / "out"))
    assert failed["retryable"] is False
    assert "does not exist" in failed["reason"]


def test_corrupt_split_fails_for_good(tmp_path: Path) -> None:
    manifest = write_dataset(tmp_path / "ds", train=rows(4, seed=1), evaluation=rows(2, seed=2))
    (tmp_path / "ds" / "train.jsonl").write_text('{"messages": []}\n')
    failed = _failure(_train(manifest.as_uri(), tmp_path / "out"))
    assert failed["retryable"] is False
    assert "sha256" in failed["reason"]


def test_unreachable_object_storage_is_retryable(tmp_path: Path, free_port: int) -> None:
    env = cli_env(
        UNDERSTUDY_S3_ENDPOINT=f"http://127.0.0.1:{free_port}",
        UNDERSTUDY_S3_REGION="us-east-1",
        UNDERSTUDY_S3_ACCESS_KEY="test",
        UNDERSTUDY_S3_SECRET_KEY="test-secret",
    )
    failed = _failure(_train("s3://datasets/ds/manifest.json", tmp_path / "out", env=env))
    assert failed["retryable"] is True
    assert "unreachable" in failed["reason"]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--config", '{"lora_rank": 8}'], "unknown keys lora_rank"),
        (["--config", '{"learning_rate": -1}'], "learning_rate"),
        (["--config", "not json"], "not JSON"),
        (["--bogus"], "invalid arguments"),
    ],
)
def test_bad_arguments_fail_for_good(tmp_path: Path, extra: list[str], reason: str) -> None:
    failed = _failure(_train((tmp_path / "m.json").as_uri(), tmp_path / "out", *extra))
    assert failed["retryable"] is False
    assert reason in failed["reason"]


def test_unknown_tiny_architecture_fails_for_good(tmp_path: Path) -> None:
    manifest = write_dataset(tmp_path / "ds", train=rows(4, seed=1), evaluation=rows(2, seed=2))
    failed = _failure(_train(manifest.as_uri(), tmp_path / "out", base_model="tiny-random:gpt9"))
    assert failed["retryable"] is False
    assert "gpt9" in failed["reason"]


def test_missing_base_model_fails_for_good(tmp_path: Path) -> None:
    manifest = write_dataset(tmp_path / "ds", train=rows(4, seed=1), evaluation=rows(2, seed=2))
    missing = str(tmp_path / "no-model")
    failed = _failure(_train(manifest.as_uri(), tmp_path / "out", base_model=missing))
    assert failed["retryable"] is False
    assert "cannot load" in failed["reason"]


def test_trains_a_model_directory_through_from_pretrained(tmp_path: Path) -> None:
    """A saved model directory takes the path a real SLM takes on a cluster (AutoModel...)."""
    train_rows = rows(8, seed=5)
    tokenizer = tiny.build_tokenizer([json.dumps(row) for row in train_rows])
    tiny.build_model("tiny-random:qwen2", tokenizer).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    manifest = write_dataset(tmp_path / "ds", train=train_rows, evaluation=rows(2, seed=6))
    config = json.dumps({**TRAIN_CONFIG, "max_steps": 2, "target_modules": ["q_proj", "v_proj"]})
    result = _train(
        manifest.as_uri(), tmp_path / "out", "--config", config, base_model=str(tmp_path / "model")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert events(result.stdout)[-1]["metrics"]["base_model"] == str(tmp_path / "model")
    adapter = json.loads((tmp_path / "out" / "adapter" / "adapter_config.json").read_text())
    assert sorted(adapter["target_modules"]) == ["q_proj", "v_proj"]


def test_sigterm_fails_the_run_as_retryable(tmp_path: Path) -> None:
    """Kubernetes preempts with SIGTERM: the orchestrator should start the run again."""
    manifest = write_dataset(tmp_path / "ds", train=rows(8, seed=1), evaluation=rows(2, seed=2))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "understudy_trainer",
            "train",
            "--dataset",
            manifest.as_uri(),
            "--output",
            (tmp_path / "out").as_uri(),
            "--base-model",
            "tiny-random:llama",
            "--run-id",
            "run-x",
            "--config",
            json.dumps({**TRAIN_CONFIG, "max_steps": 100_000}),
        ],
        env=cli_env(OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    assert json.loads(process.stdout.readline())["event"] == "progress"
    process.send_signal(signal.SIGTERM)
    remaining = process.stdout.read()
    assert process.wait(timeout=60) == 1
    *_, last = events(remaining)
    assert last == {"event": "failed", "reason": "terminated by signal 15", "retryable": True}
    assert "terminated by signal 15" in (tmp_path / "out" / "train.log").read_text()
