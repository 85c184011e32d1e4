from __future__ import annotations

import io
import json

from understudy_trainer.events import Events


def test_writes_one_json_object_per_line() -> None:
    stream = io.StringIO()
    events = Events(stream)
    events.progress(step=1, total_steps=2, loss=0.5, epoch=0.5)
    events.succeeded(adapter="s3://b/run/adapter", metrics={"eval_loss": 1.0})
    events.failed(reason="boom", retryable=True)
    assert [json.loads(line) for line in stream.getvalue().splitlines()] == [
        {"event": "progress", "step": 1, "total_steps": 2, "loss": 0.5, "epoch": 0.5},
        {"event": "succeeded", "adapter": "s3://b/run/adapter", "metrics": {"eval_loss": 1.0}},
        {"event": "failed", "reason": "boom", "retryable": True},
    ]


def test_reports_a_diverged_loss_as_null() -> None:
    stream = io.StringIO()
    events = Events(stream)
    events.progress(step=1, total_steps=1, loss=float("nan"), epoch=1.0)
    events.succeeded(adapter="file:///a", metrics={"losses": [float("inf"), 1.0]})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["loss"] is None
    assert second["metrics"] == {"losses": [None, 1.0]}
