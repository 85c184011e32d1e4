"""The progress protocol: one JSON object per line on stdout, read by the trainer-orchestrator."""

from __future__ import annotations

import json
import math
from typing import Any, TextIO


class Events:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def progress(self, *, step: int, total_steps: int, loss: float, epoch: float) -> None:
        self._emit(
            {
                "event": "progress",
                "step": step,
                "total_steps": total_steps,
                "loss": loss,
                "epoch": epoch,
            }
        )

    def succeeded(
        self,
        *,
        adapter: str,
        metrics: dict[str, Any],
        files: list[dict[str, Any]],
        footprint: dict[str, Any],
        license: str | None,
        evaluation: dict[str, Any] | None,
    ) -> None:
        """`files` below `adapter`, `footprint`, the base model's `license` and the held-out
        `evaluation` are what the orchestrator registers with the model version."""
        self._emit(
            {
                "event": "succeeded",
                "adapter": adapter,
                "metrics": metrics,
                "files": files,
                "footprint": footprint,
                "license": license,
                "evaluation": evaluation,
            }
        )

    def failed(self, *, reason: str, retryable: bool) -> None:
        self._emit({"event": "failed", "reason": reason, "retryable": retryable})

    def _emit(self, event: dict[str, Any]) -> None:
        self._stream.write(json.dumps(finite(event), allow_nan=False) + "\n")
        self._stream.flush()


def finite(value: Any) -> Any:
    """NaN and infinity are not JSON: a diverged loss is reported as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value
