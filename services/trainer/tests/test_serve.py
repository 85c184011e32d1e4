"""`serve` as a subprocess on a free port: the exact OpenAI response shapes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import TrainedRun
from helpers import SAVE_PERSON_TOOL, cli_env

MODEL = "student-1"
MESSAGES = [
    {"role": "system", "content": "Classify the sentiment: positive, negative or neutral."},
    {"role": "user", "content": "I love this product"},
]


@pytest.fixture(scope="module")
def server(trained_run: TrainedRun) -> Iterator[str]:
    assert trained_run.returncode == 0, trained_run.stderr[-3000:]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "understudy_trainer",
            "serve",
            "--base-model",
            "tiny-random:llama",
            "--adapter",
            f"{trained_run.output.as_uri()}/adapter",
            "--model-name",
            MODEL,
            "--port",
            str(port),
        ],
        env=cli_env(OMP_NUM_THREADS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                assert json.load(response) == {"status": "ok"}
                break
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"serve did not start: {process.communicate()[1][-3000:]}")
            time.sleep(0.5)
    yield url
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        f"{url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_lists_the_model(server: str) -> None:
    with urllib.request.urlopen(f"{server}/v1/models", timeout=10) as response:
        body = json.load(response)
    assert body["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in body["data"]] == [
        (MODEL, "model", "understudy")
    ]
    assert isinstance(body["data"][0]["created"], int)


def test_answers_a_chat_completion(server: str) -> None:
    status, headers, data = post(
        server, {"model": MODEL, "messages": MESSAGES, "max_tokens": 6, "temperature": 0}
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    body = json.loads(data)
    assert body.keys() == {
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "system_fingerprint",
    }
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL
    [choice] = body["choices"]
    assert choice.keys() == {"index", "message", "logprobs", "finish_reason"}
    assert choice["index"] == 0
    assert choice["finish_reason"] in {"stop", "length"}
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0
    assert 0 < usage["completion_tokens"] <= 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def sse_events(data: bytes) -> list[str]:
    text = data.decode()
    assert text.endswith("\n\n")
    blocks = text.strip("\n").split("\n\n")
    assert all(block.startswith("data: ") for block in blocks)
    return [block.removeprefix("data: ") for block in blocks]


def test_streams_a_chat_completion(server: str) -> None:
    request = {"model": MODEL, "messages": MESSAGES, "max_tokens": 6, "temperature": 0}
    _, _, whole = post(server, request)
    status, headers, data = post(
        server, {**request, "stream": True, "stream_options": {"include_usage": True}}
    )
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    *payloads, done = sse_events(data)
    assert done == "[DONE]"
    chunks = [json.loads(p) for p in payloads]
    *answer, usage_chunk = chunks
    assert len({c["id"] for c in chunks}) == 1
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == MODEL
        assert "usage" in chunk
    assert answer[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    last = answer[-1]["choices"][0]
    assert last["delta"] == {}
    assert last["finish_reason"] in {"stop", "length"}
    for chunk in answer[:-1]:
        [choice] = chunk["choices"]
        assert choice.keys() == {"index", "delta", "logprobs", "finish_reason"}
        assert choice["finish_reason"] is None
        assert chunk["usage"] is None
    assert usage_chunk["choices"] == []
    # Greedy decoding: the stream spells out exactly the non-streamed answer.
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in answer)
    expected = json.loads(whole)
    assert streamed == expected["choices"][0]["message"]["content"]
    assert usage_chunk["usage"] == expected["usage"]


def test_accepts_tools(server: str) -> None:
    status, _, data = post(
        server,
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Bob Jones is 40 and lives in Oslo."}],
            "tools": [SAVE_PERSON_TOOL],
            "tool_choice": "auto",
            "max_tokens": 4,
        },
    )
    assert status == 200
    body = json.loads(data)
    assert body["usage"]["prompt_tokens"] > 50  # the tool schema is in the prompt


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "gpt-4o", "messages": MESSAGES}, 404, "model_not_found"),
        ({"model": MODEL, "messages": []}, 400, None),
        ({"model": MODEL, "messages": MESSAGES, "n": 2}, 400, None),
        (
            {"model": MODEL, "messages": MESSAGES, "max_tokens": 10**6},
            400,
            "context_length_exceeded",
        ),
    ],
)
def test_rejects_bad_requests(
    server: str, body: dict[str, Any], status: int, code: str | None
) -> None:
    got, _, data = post(server, body)
    assert got == status
    error = json.loads(data)["error"]
    assert error.keys() == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["code"] == code
