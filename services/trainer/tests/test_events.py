from __future__ import annotations

import io
import json

from understudy_trainer.events import Events


def test_writes_one_json_object_per_line() -> None:
    stream = io.StringIO()
    events = Events(stream)
    events.progress(step=1, total_steps=2, loss=0.5, epoch=0.5)
    report = {
        "files": [{"path": "adapter_config.json", "size_bytes": 2, "sha256": "ab" * 32}],
        "footprint": {
            "base_parameter_count": 10,
            "adapter_parameter_count": 2,
            "serving_memory_bytes": 48,
            "dtype": "float32",
        },
        "license": "apache-2.0",
        "evaluation": {
            "evaluator_version": "greedy-teacher-match@1",
            "split": "eval",
            "example_count": 4,
            "metrics": {"exact_match": 0.5},
        },
    }
    events.succeeded(adapter="s3://b/run/adapter", metrics={"eval_loss": 1.0}, **report)
    events.failed(reason="boom", retryable=True)
    assert [json.loads(line) for line in stream.getvalue().splitlines()] == [
        {"event": "progress", "step": 1, "total_steps": 2, "loss": 0.5, "epoch": 0.5},
        {
            "event": "succeeded",
            "adapter": "s3://b/run/adapter",
            "metrics": {"eval_loss": 1.0},
            **report,
        },
        {"event": "failed", "reason": "boom", "retryable": True},
    ]


def test_reports_a_diverged_loss_as_null() -> None:
    stream = io.StringIO()
    events = Events(stream)
    events.progress(step=1, total_steps=1, loss=float("nan"), epoch=1.0)
    events.succeeded(
        adapter="file:///a",
        metrics={"losses": [float("inf"), 1.0]},
        files=[],
        footprint={},
        license=None,
        evaluation=None,
    )
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["loss"] is None
    assert second["metrics"] == {"losses": [None, 1.0]}
