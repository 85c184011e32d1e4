"""Synthetic datasets and a CLI runner shared by the tests."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"

SAVE_PERSON_TOOL = {
    "type": "function",
    "function": {
        "name": "save_person",
        "description": "Store a person extracted from text.",
        "parameters": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer"},
                "city": {"type": "string"},
            },
            "required": ["name", "age", "city"],
        },
    },
}

_NAMES = ["Alice Smith", "Bob Jones", "Carla Diaz", "Deepak Rao", "Emma Stone", "Farid Khan"]
_CITIES = ["Paris", "Lima", "Oslo", "Pune", "Austin", "Cairo"]
_PRAISE = ["I love this product", "Works great, thank you", "Absolutely wonderful service"]
_COMPLAINTS = ["This broke after a day", "Terrible support, never again", "Awful and slow"]
_NEUTRAL = ["The parcel arrived on Tuesday", "It is a blue box", "I ordered two of them"]


def extraction_row(rng: random.Random) -> dict[str, Any]:
    """Task 1: extract a person from text and answer with a tool call."""
    name, city, age = rng.choice(_NAMES), rng.choice(_CITIES), rng.randint(18, 90)
    return {
        "messages": [
            {"role": "system", "content": "Extract the person and save it with save_person."},
            {"role": "user", "content": f"{name} is {age} years old and lives in {city}."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{rng.randrange(1 << 30):x}",
                        "type": "function",
                        "function": {
                            "name": "save_person",
                            "arguments": json.dumps({"name": name, "age": age, "city": city}),
                        },
                    }
                ],
            },
        ],
        "tools": [SAVE_PERSON_TOOL],
    }


def classification_row(rng: random.Random) -> dict[str, Any]:
    """Task 2: classify the sentiment of a review with one word."""
    label, texts = rng.choice(
        [("positive", _PRAISE), ("negative", _COMPLAINTS), ("neutral", _NEUTRAL)]
    )
    return {
        "messages": [
            {"role": "system", "content": "Classify the sentiment: positive, negative or neutral."},
            {"role": "user", "content": rng.choice(texts)},
            {"role": "assistant", "content": label},
        ]
    }


def tool_result_row() -> dict[str, Any]:
    """A conversation that goes on after a tool answered, ending on the assistant's text."""
    row = extraction_row(random.Random(7))
    call_id = row["messages"][-1]["tool_calls"][0]["id"]
    row["messages"] += [
        {"role": "tool", "tool_call_id": call_id, "content": '{"saved": true}'},
        {"role": "assistant", "content": "Saved."},
    ]
    return row


def rows(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [(extraction_row if i % 2 == 0 else classification_row)(rng) for i in range(count)]


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


def write_dataset(
    directory: Path,
    *,
    train: list[dict[str, Any]],
    evaluation: list[dict[str, Any]],
    uri_prefix: str | None = None,
) -> Path:
    """Writes the splits and a manifest as the dataset-builder does; returns the manifest's path."""
    directory.mkdir(parents=True, exist_ok=True)
    prefix = uri_prefix or directory.as_uri()
    splits = {}
    for name, items in (("train", train), ("eval", evaluation)):
        data = jsonl(items)
        (directory / f"{name}.jsonl").write_bytes(data)
        splits[name] = {
            "uri": f"{prefix}/{name}.jsonl",
            "rows": len(items),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    manifest = {
        "format": "openai-chat-jsonl",
        "dataset_id": "ds-test",
        "task_id": "task-test",
        "tenant_id": "tenant-test",
        "splits": splits,
        "created_at": "2026-01-01T00:00:00Z",
        "source_window": {"start": "2025-12-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
    }
    path = directory / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSTUDY_S3_")}
    env["PYTHONPATH"] = str(SRC)
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "understudy_trainer", *args],
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def events(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON event."""
    return [json.loads(line) for line in stdout.splitlines()]
