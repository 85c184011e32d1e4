"""Objects named by `s3://bucket/key` or `file:///abs/path` URIs, behind small drivers."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

import boto3
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from understudy_trainer.errors import TrainerError

# boto3 builds its clients at run time; there is no static client type without extra stubs.
S3Client = Any


@dataclass(frozen=True)
class S3Settings:
    """Where S3 lives; unset keys fall back to boto3's credential chain (e.g. IRSA on a cluster)."""

    endpoint: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Settings:
        def get(name: str) -> str | None:
            return env.get(name) or None

        return cls(
            endpoint=get("UNDERSTUDY_S3_ENDPOINT"),
            region=get("UNDERSTUDY_S3_REGION"),
            access_key=get("UNDERSTUDY_S3_ACCESS_KEY"),
            secret_key=get("UNDERSTUDY_S3_SECRET_KEY"),
        )


class Driver(Protocol):
    """One storage backend; keys are object keys (S3) or absolute paths (file)."""

    def read(self, key: str) -> bytes: ...
    def write(self, key: str, data: bytes) -> None: ...
    def put_file(self, source: Path, key: str) -> None: ...
    def get_file(self, key: str, target: Path) -> None: ...
    def list(self, prefix: str) -> list[str]:
        """Names of the objects below `prefix`, relative to it."""
        ...


class FileDriver:
    def read(self, key: str) -> bytes:
        with _file_errors(key):
            return Path(key).read_bytes()

    def write(self, key: str, data: bytes) -> None:
        with _file_errors(key):
            Path(key).parent.mkdir(parents=True, exist_ok=True)
            Path(key).write_bytes(data)

    def put_file(self, source: Path, key: str) -> None:
        with _file_errors(key):
            Path(key).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, key)

    def get_file(self, key: str, target: Path) -> None:
        with _file_errors(key):
            shutil.copyfile(key, target)

    def list(self, prefix: str) -> list[str]:
        root = Path(prefix)
        if not root.is_dir():
            raise TrainerError(f"{prefix} is not a directory", retryable=False)
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@contextmanager
def _file_errors(path: str) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError as error:
        raise TrainerError(f"{path} does not exist", retryable=False) from error
    except OSError as error:
        raise TrainerError(f"{path}: {error.strerror or error}", retryable=False) from error


class S3Driver:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def read(self, key: str) -> bytes:
        with self._errors(key):
            body: bytes = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            return body

    def write(self, key: str, data: bytes) -> None:
        with self._errors(key):
            self._client.put_object(Bucket=self._bucket, Key=key, Body=data)

    def put_file(self, source: Path, key: str) -> None:
        with self._errors(key):
            self._client.upload_file(str(source), self._bucket, key)

    def get_file(self, key: str, target: Path) -> None:
        with self._errors(key):
            self._client.download_file(self._bucket, key, str(target))

    def list(self, prefix: str) -> list[str]:
        directory = prefix.rstrip("/") + "/"
        with self._errors(directory):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=directory
            )
            keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        if not keys:
            raise TrainerError(f"s3://{self._bucket}/{directory} is empty", retryable=False)
        return sorted(key[len(directory) :] for key in keys)

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        uri = f"s3://{self._bucket}/{key}"
        try:
            yield
        except ClientError as error:
            raise _client_error(uri, error) from error
        except S3UploadFailedError as error:
            # boto3's transfer manager wraps the ClientError it got (as the context, not the cause).
            if isinstance(error.__context__, ClientError):
                raise _client_error(uri, error.__context__) from error
            raise TrainerError(f"{uri}: upload failed: {error}", retryable=True) from error
        except NoCredentialsError as error:
            raise TrainerError(f"{uri}: no S3 credentials", retryable=False) from error
        except (BotoCoreError, RetriesExceededError) as error:
            # Connection refused, DNS failures and timeouts: the store may come back.
            raise TrainerError(
                f"{uri}: object storage unreachable: {error}", retryable=True
            ) from error


def _client_error(uri: str, error: ClientError) -> TrainerError:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    # Throttling and server-side errors pass; a missing object or a refused key does not.
    retryable = status >= 500 or code in _RETRYABLE_S3_CODES
    return TrainerError(f"{uri}: {code or status} {error}", retryable=retryable)


_RETRYABLE_S3_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed"}
)


class ObjectStorage:
    """Reads and writes the objects that URIs name, creating the S3 client only when one is used."""

    def __init__(self, s3: S3Settings) -> None:
        self._s3 = s3
        self._client: S3Client | None = None

    def check(self, uri: str) -> None:
        """Fails early on a URI that no driver takes, before hours of training are spent."""
        self._locate(uri)

    def read_bytes(self, uri: str) -> bytes:
        driver, key = self._locate(uri)
        return driver.read(key)

    def write_bytes(self, uri: str, data: bytes) -> None:
        driver, key = self._locate(uri)
        driver.write(key, data)

    def upload_file(self, source: Path, uri: str) -> None:
        driver, key = self._locate(uri)
        driver.put_file(source, key)

    def upload_dir(self, source: Path, prefix_uri: str) -> None:
        driver, prefix = self._locate(prefix_uri)
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            driver.put_file(path, join_key(prefix, path.relative_to(source).as_posix()))

    def download_dir(self, prefix_uri: str, target: Path) -> None:
        driver, prefix = self._locate(prefix_uri)
        for name in driver.list(prefix):
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            driver.get_file(join_key(prefix, name), destination)

    def _locate(self, uri: str) -> tuple[Driver, str]:
        parsed = urlparse(uri)
        if (
            parsed.scheme == "file"
            and parsed.netloc in ("", "localhost")
            and parsed.path.startswith("/")
        ):
            return FileDriver(), unquote(parsed.path)
        if parsed.scheme == "s3" and parsed.netloc and parsed.path.strip("/"):
            return S3Driver(self._s3_client(), parsed.netloc), unquote(parsed.path.lstrip("/"))
        raise TrainerError(
            f"unsupported URI {uri!r}: expected s3://bucket/key or file:///absolute/path",
            retryable=False,
        )

    def _s3_client(self) -> S3Client:
        if self._client is None:
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self._s3.endpoint,
                region_name=self._s3.region,
                aws_access_key_id=self._s3.access_key,
                aws_secret_access_key=self._s3.secret_key,
                config=Config(
                    # Path-style addressing and checksums only when required keep MinIO and other
                    # S3-compatible stores working; AWS accepts both.
                    s3={"addressing_style": "path" if self._s3.endpoint else "auto"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    retries={"mode": "standard", "max_attempts": 3},
                    connect_timeout=5,
                    read_timeout=60,
                ),
            )
        return self._client


def describe_files(directory: Path) -> list[dict[str, Any]]:
    """The files below `directory` as `upload_dir` stores them: path relative to it, size and
    SHA-256 (lowercase hex), so that readers can verify what they download."""
    described = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        with path.open("rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
        described.append(
            {
                "path": path.relative_to(directory).as_posix(),
                "size_bytes": path.stat().st_size,
                "sha256": digest,
            }
        )
    return described


def join_key(prefix: str, name: str) -> str:
    """`name` below `prefix`, for object keys, paths and whole URIs alike."""
    return f"{prefix.rstrip('/')}/{name}"
