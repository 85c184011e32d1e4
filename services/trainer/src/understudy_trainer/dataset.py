"""The dataset-builder's output: a manifest naming train/eval JSONL splits in OpenAI chat format."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from understudy_trainer.errors import TrainerError
from understudy_trainer.storage import ObjectStorage

MANIFEST_FORMAT = "openai-chat-jsonl"
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


@dataclass(frozen=True)
class Split:
    uri: str
    rows: int | None
    sha256: str | None


@dataclass(frozen=True)
class Manifest:
    dataset_id: str
    task_id: str
    tenant_id: str
    train: Split
    eval: Split | None


@dataclass(frozen=True)
class ChatRow:
    """One captured call: the conversation up to and including the teacher's answer."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None

    @property
    def prompt(self) -> list[dict[str, Any]]:
        return self.messages[:-1]

    @property
    def answer(self) -> dict[str, Any]:
        return self.messages[-1]


def _invalid(message: str) -> TrainerError:
    return TrainerError(f"invalid dataset: {message}", retryable=False)


def parse_manifest(data: bytes) -> Manifest:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _invalid(f"manifest is not JSON ({error})") from error
    if not isinstance(raw, dict):
        raise _invalid("manifest is not a JSON object")
    if raw.get("format") != MANIFEST_FORMAT:
        raise _invalid(f"manifest format is {raw.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    splits = raw.get("splits")
    if not isinstance(splits, dict) or "train" not in splits:
        raise _invalid("manifest has no splits.train")
    return Manifest(
        dataset_id=str(raw.get("dataset_id", "")),
        task_id=str(raw.get("task_id", "")),
        tenant_id=str(raw.get("tenant_id", "")),
        train=_parse_split("train", splits["train"]),
        eval=_parse_split("eval", splits["eval"]) if splits.get("eval") is not None else None,
    )


def _parse_split(name: str, raw: object) -> Split:
    if not isinstance(raw, dict) or not isinstance(raw.get("uri"), str) or not raw["uri"]:
        raise _invalid(f"splits.{name}.uri is missing")
    rows = raw.get("rows")
    sha256 = raw.get("sha256")
    if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 0):
        raise _invalid(f"splits.{name}.rows is not a count")
    if sha256 is not None and not isinstance(sha256, str):
        raise _invalid(f"splits.{name}.sha256 is not a string")
    return Split(uri=raw["uri"], rows=rows, sha256=sha256)


def parse_rows(data: bytes, source: str) -> list[ChatRow]:
    rows: list[ChatRow] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _invalid(f"{source} line {number} is not JSON ({error})") from error
        try:
            rows.append(_parse_row(raw))
        except ValueError as error:
            raise _invalid(f"{source} line {number}: {error}") from error
    return rows


def _parse_row(raw: object) -> ChatRow:
    if not isinstance(raw, dict):
        raise ValueError("row is not an object")
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages is missing or empty")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ValueError(f"messages[{index}] has no valid role")
    if messages[-1]["role"] != "assistant":
        raise ValueError("the last message is not the assistant's answer")
    tools = raw.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise ValueError("tools is not a list")
    return ChatRow(messages=messages, tools=tools or None)


def load_split(storage: ObjectStorage, split: Split) -> list[ChatRow]:
    data = storage.read_bytes(split.uri)
    if split.sha256 is not None and hashlib.sha256(data).hexdigest() != split.sha256.lower():
        raise _invalid(f"{split.uri} does not match the manifest's sha256")
    rows = parse_rows(data, split.uri)
    if split.rows is not None and len(rows) != split.rows:
        raise _invalid(f"{split.uri} has {len(rows)} rows, the manifest says {split.rows}")
    return rows
