"""Shared fixtures, and the JSON summary that the repository's `npm test` adds up."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import cli_env, events, rows, run_cli, tool_result_row, write_dataset

# Small enough for a few CPU seconds per run on 2 cores, large enough for the loss to fall clearly.
TRAIN_CONFIG = {
    "max_steps": 20,
    "learning_rate": 0.02,
    "batch_size": 4,
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "max_seq_length": 512,
    "eval_max_samples": 6,
    "eval_max_new_tokens": 16,
}


@dataclass(frozen=True)
class TrainedRun:
    returncode: int
    events: list[dict[str, Any]]
    stderr: str
    output: Path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """One real `train` run on tiny-random:llama with file:// URIs, shared by the tests."""
    root = tmp_path_factory.mktemp("train")
    manifest = write_dataset(
        root / "dataset", train=[*rows(32, seed=1), tool_result_row()], evaluation=rows(6, seed=2)
    )
    output = root / "output"
    result = run_cli(
        "train",
        "--dataset",
        manifest.as_uri(),
        "--output",
        output.as_uri(),
        "--base-model",
        "tiny-random:llama",
        "--run-id",
        "run-1",
        "--config",
        json.dumps(TRAIN_CONFIG),
        env=cli_env(OMP_NUM_THREADS="1"),
    )
    return TrainedRun(result.returncode, events(result.stdout), result.stderr, output)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    directory = os.environ.get("UNDERSTUDY_REPORT_DIR")
    if not directory:
        return
    # The reporter files each test's outcome once: failures in setup or teardown count as errors.
    stats = terminalreporter.stats

    def count(*outcomes: str) -> int:
        return sum(len(stats.get(outcome, [])) for outcome in outcomes)

    report = {
        "numPassedTests": count("passed", "xpassed"),
        "numFailedTests": count("failed", "error"),
        "numPendingTests": count("skipped", "xfailed"),
        "numTodoTests": 0,
    }
    Path(directory).mkdir(parents=True, exist_ok=True)
    (Path(directory) / "unit-trainer.json").write_text(json.dumps(report) + "\n")


@pytest.fixture
def free_port() -> int:
    """A loopback port that nothing listens on (until someone binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
