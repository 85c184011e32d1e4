"""file:// and s3:// objects; S3 against a real MinIO server where the test bed has built one."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from conftest import TRAIN_CONFIG
from helpers import cli_env, events, rows, run_cli, write_dataset
from understudy_trainer.errors import TrainerError
from understudy_trainer.storage import ObjectStorage, S3Settings


def test_file_round_trip(tmp_path: Path) -> None:
    storage = ObjectStorage(S3Settings())
    storage.write_bytes((tmp_path / "a" / "b.txt").as_uri(), b"hello")
    assert storage.read_bytes((tmp_path / "a" / "b.txt").as_uri()) == b"hello"
    storage.download_dir((tmp_path / "a").as_uri(), tmp_path / "copy")
    storage.upload_dir(tmp_path / "copy", (tmp_path / "again").as_uri() + "/")
    assert (tmp_path / "again" / "b.txt").read_bytes() == b"hello"


@pytest.mark.parametrize(
    "uri", ["/abs/path", "file://host/x", "file:relative", "s3://bucket", "gs://b/k"]
)
def test_rejects_unsupported_uris(uri: str) -> None:
    with pytest.raises(TrainerError, match="unsupported URI") as caught:
        ObjectStorage(S3Settings()).check(uri)
    assert caught.value.retryable is False


def test_missing_file_is_final(tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match="does not exist") as caught:
        ObjectStorage(S3Settings()).read_bytes((tmp_path / "none").as_uri())
    assert caught.value.retryable is False


def test_unreachable_s3_is_retryable(free_port: int) -> None:
    storage = ObjectStorage(S3Settings(f"http://127.0.0.1:{free_port}", "us-east-1", "k", "s"))
    with pytest.raises(TrainerError, match="unreachable") as caught:
        storage.read_bytes("s3://bucket/key")
    assert caught.value.retryable is True


def test_settings_from_env_hide_the_secret() -> None:
    settings = S3Settings.from_env(
        {
            "UNDERSTUDY_S3_ENDPOINT": "http://minio:9000",
            "UNDERSTUDY_S3_SECRET_KEY": "hush",
            "UNDERSTUDY_S3_REGION": "",
        }
    )
    assert settings == S3Settings(endpoint="http://minio:9000", secret_key="hush")
    assert "hush" not in repr(settings)


def _minio_binary() -> Path | None:
    configured = os.environ.get("UNDERSTUDY_MINIO_BINARY")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("UNDERSTUDY_CACHE") or Path.home() / ".cache" / "understudy")
    return next(iter(sorted(cache.glob("minio/*/minio"), reverse=True)), None)


@pytest.fixture(scope="module")
def minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Settings]:
    """MinIO built by the repository's test bed (libs/testbed), started on a free loopback port."""
    binary = _minio_binary()
    if binary is None or not binary.is_file():
        # `npm test` prepares the test bed first, so in CI a missing binary is a failure.
        missing = (
            "no MinIO binary: run `npm run -w @understudy/testbed testbed:prepare`"
            " or set UNDERSTUDY_MINIO_BINARY"
        )
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    home = tmp_path_factory.mktemp("minio")
    settings = S3Settings(
        f"http://127.0.0.1:{ports[0]}", "us-east-1", "trainer-test", secrets.token_hex(16)
    )
    process = subprocess.Popen(
        [
            str(binary),
            "server",
            str(home / "data"),
            "--address",
            f"127.0.0.1:{ports[0]}",
            "--console-address",
            f"127.0.0.1:{ports[1]}",
        ],
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "MINIO_ROOT_USER": settings.access_key or "",
            "MINIO_ROOT_PASSWORD": settings.secret_key or "",
            "MINIO_SITE_REGION": "us-east-1",
            "MINIO_UPDATE": "off",
            "MINIO_CALLHOME_ENABLE": "off",
            "MINIO_CI_CD": "on",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{settings.endpoint}/minio/health/ready", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("MinIO did not start")
                time.sleep(0.3)
        yield settings
    finally:
        process.terminate()
        process.wait(timeout=30)


def _bucket(settings: S3Settings) -> str:
    name = f"trainer-{secrets.token_hex(4)}"
    boto3.client(
        "s3",
        endpoint_url=settings.endpoint,
        region_name=settings.region,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
    ).create_bucket(Bucket=name)
    return name


def test_s3_round_trip(minio: S3Settings, tmp_path: Path) -> None:
    bucket = _bucket(minio)
    storage = ObjectStorage(minio)
    storage.write_bytes(f"s3://{bucket}/a/b.txt", b"hello")
    assert storage.read_bytes(f"s3://{bucket}/a/b.txt") == b"hello"
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "c.bin").write_bytes(b"\x00" * 1024)
    storage.upload_dir(tmp_path / "dir", f"s3://{bucket}/run/")
    storage.download_dir(f"s3://{bucket}/run", tmp_path / "back")
    assert (tmp_path / "back" / "sub" / "c.bin").read_bytes() == b"\x00" * 1024


def test_s3_missing_objects_and_bad_keys_are_final(minio: S3Settings, tmp_path: Path) -> None:
    bucket = _bucket(minio)
    for uri in (f"s3://{bucket}/none", f"s3://no-such-bucket-{secrets.token_hex(4)}/x"):
        with pytest.raises(TrainerError) as caught:
            ObjectStorage(minio).read_bytes(uri)
        assert caught.value.retryable is False
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(TrainerError, match="NoSuchBucket") as caught:
        ObjectStorage(minio).upload_dir(tmp_path, f"s3://no-such-bucket-{secrets.token_hex(4)}/x")
    assert caught.value.retryable is False
    with pytest.raises(TrainerError, match="is empty"):
        ObjectStorage(minio).download_dir(f"s3://{bucket}/none", Path("/nonexistent"))
    wrong = S3Settings(minio.endpoint, minio.region, minio.access_key, "wrong-secret")
    with pytest.raises(TrainerError, match="SignatureDoesNotMatch") as caught:
        ObjectStorage(wrong).read_bytes(f"s3://{bucket}/none")
    assert caught.value.retryable is False


def test_trains_from_and_to_s3(minio: S3Settings, tmp_path: Path) -> None:
    bucket = _bucket(minio)
    prefix = f"s3://{bucket}/datasets/ds-1"
    write_dataset(tmp_path, train=rows(16, seed=3), evaluation=rows(2, seed=4), uri_prefix=prefix)
    storage = ObjectStorage(minio)
    storage.upload_dir(tmp_path, prefix)
    result = run_cli(
        "train",
        "--dataset",
        f"{prefix}/manifest.json",
        "--output",
        f"s3://{bucket}/runs/run-s3",
        "--base-model",
        "tiny-random:qwen2",
        "--run-id",
        "run-s3",
        "--config",
        json.dumps({**TRAIN_CONFIG, "max_steps": 4}),
        env=cli_env(
            OMP_NUM_THREADS="1",
            UNDERSTUDY_S3_ENDPOINT=minio.endpoint or "",
            UNDERSTUDY_S3_REGION=minio.region or "",
            UNDERSTUDY_S3_ACCESS_KEY=minio.access_key or "",
            UNDERSTUDY_S3_SECRET_KEY=minio.secret_key or "",
        ),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    succeeded = events(result.stdout)[-1]
    assert succeeded["adapter"] == f"s3://{bucket}/runs/run-s3/adapter"
    storage.download_dir(f"s3://{bucket}/runs/run-s3", tmp_path / "run")
    assert {p.name for p in (tmp_path / "run").iterdir()} == {
        "adapter",
        "metrics.json",
        "train.log",
    }
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == 4
    assert minio.secret_key not in result.stderr
