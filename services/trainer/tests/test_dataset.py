from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from helpers import jsonl, rows, write_dataset
from understudy_trainer.dataset import load_split, parse_manifest, parse_rows
from understudy_trainer.errors import TrainerError
from understudy_trainer.storage import ObjectStorage, S3Settings


def test_reads_a_dataset_builder_manifest(tmp_path: Path) -> None:
    path = write_dataset(tmp_path, train=rows(3, seed=1), evaluation=rows(2, seed=2))
    manifest = parse_manifest(path.read_bytes())
    assert (manifest.dataset_id, manifest.task_id, manifest.tenant_id) == (
        "ds-test",
        "task-test",
        "tenant-test",
    )
    assert manifest.eval is not None
    storage = ObjectStorage(S3Settings())
    train = load_split(storage, manifest.train)
    assert len(train) == 3
    assert train[0].answer["role"] == "assistant"
    assert train[0].tools is not None
    assert train[1].tools is None
    assert len(load_split(storage, manifest.eval)) == 2


FORMAT = '"format": "openai-chat-jsonl"'


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        ("{", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"format": "csv", "splits": {"train": {"uri": "file:///x"}}}', "format"),
        (f'{{{FORMAT}, "splits": {{}}}}', "splits.train"),
        (f'{{{FORMAT}, "splits": {{"train": {{}}}}}}', "splits.train.uri"),
        (f'{{{FORMAT}, "splits": {{"train": {{"uri": "file:///x", "rows": -1}}}}}}', "rows"),
    ],
)
def test_rejects_bad_manifests(manifest: str, reason: str) -> None:
    with pytest.raises(TrainerError, match=reason) as caught:
        parse_manifest(manifest.encode())
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("nope", "line 2 is not JSON"),
        ('{"messages": []}', "messages is missing"),
        ('{"messages": [{"role": "robot", "content": "x"}]}', "valid role"),
        ('{"messages": [{"role": "user", "content": "x"}]}', "not the assistant"),
        ('{"messages": [{"role": "assistant", "content": "x"}], "tools": {}}', "tools"),
    ],
)
def test_rejects_bad_rows(line: str, reason: str) -> None:
    good = json.dumps(rows(1, seed=1)[0])
    with pytest.raises(TrainerError, match=reason) as caught:
        parse_rows(f"{good}\n{line}\n".encode(), "train.jsonl")
    assert caught.value.retryable is False


def test_checks_the_split_against_the_manifest(tmp_path: Path) -> None:
    data = jsonl(rows(2, seed=1))
    (tmp_path / "train.jsonl").write_bytes(data)
    uri = (tmp_path / "train.jsonl").as_uri()
    storage = ObjectStorage(S3Settings())
    sha = hashlib.sha256(data).hexdigest()

    def split(**fields: object):
        return parse_manifest(
            json.dumps(
                {"format": "openai-chat-jsonl", "splits": {"train": {"uri": uri, **fields}}}
            ).encode()
        ).train

    assert len(load_split(storage, split(rows=2, sha256=sha))) == 2
    with pytest.raises(TrainerError, match="sha256"):
        load_split(storage, split(sha256="0" * 64))
    with pytest.raises(TrainerError, match="has 2 rows, the manifest says 3"):
        load_split(storage, split(rows=3))
