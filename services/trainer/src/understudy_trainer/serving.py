"""`serve`: base model + trained adapter behind an OpenAI-compatible HTTP API (stdlib server)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import tempfile
import threading
from contextlib import closing
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from peft import PeftModel

from understudy_trainer.chat_request import ApiError
from understudy_trainer.completions import ChatEngine, Generation
from understudy_trainer.modeling import load_model, load_tokenizer, placement
from understudy_trainer.storage import ObjectStorage

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ServeRequest:
    base_model: str
    adapter: str
    model_name: str
    host: str
    port: int


def load_engine(request: ServeRequest, storage: ObjectStorage, workdir: Path) -> ChatEngine:
    adapter = workdir / "adapter"
    storage.download_dir(request.adapter, adapter)
    tokenizer = load_tokenizer(request.base_model, saved=adapter)
    base = load_model(request.base_model, tokenizer, placement())
    # Merged weights answer as fast as the base model; the adapter cannot be swapped afterwards.
    model = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    model.eval()
    log.info("loaded adapter %s", request.adapter)
    return ChatEngine(model, tokenizer, request.model_name)


def serve(request: ServeRequest, storage: ObjectStorage) -> None:
    """Serves until SIGTERM or SIGINT."""
    with tempfile.TemporaryDirectory(prefix="understudy-serve-") as workdir:
        engine = load_engine(request, storage, Path(workdir))
        server = make_server(engine, request.host, request.port)

        def stop(signum: int, _frame: object) -> None:
            log.info("stopping on signal %d", signum)
            # shutdown() waits for serve_forever, which runs on this very thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        host, port = server.server_address[:2]
        log.info("serving %s on http://%s:%d", engine.name, host, port)
        with server:
            server.serve_forever()


def make_server(engine: ChatEngine, host: str, port: int) -> ThreadingHTTPServer:
    return _Server((host, port), type("Handler", (_Handler,), {"engine": engine}))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that drop a kept-alive connection are routine, not tracebacks on stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("%s dropped the connection", client_address)
        else:
            log.exception("request from %s failed", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "understudy-trainer"
    engine: ChatEngine

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self._json(200, self.engine.models())
        else:
            self._json(404, ApiError(404, f"no route for GET {self.path}").body())

    def do_POST(self) -> None:
        try:
            if self.path != "/v1/chat/completions":
                raise ApiError(404, f"no route for POST {self.path}")
            generation = self.engine.prepare(self._body())
            if generation.stream:
                self._stream(generation)
            else:
                self._json(200, self.engine.complete(generation))
        except ApiError as error:
            self._json(error.status, error.body())
        except Exception:
            log.exception("chat completion failed")
            self._json(500, ApiError(500, "the model failed to answer").body())

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413, "the request body is too large")
        try:
            return json.loads(self.rfile.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ApiError(400, f"the request body is not JSON: {error}") from error

    def _stream(self, generation: Generation) -> None:
        cancelled = threading.Event()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            with closing(self.engine.stream(generation, cancelled)) as chunks:
                for chunk in chunks:
                    self._chunk(f"data: {json.dumps(chunk)}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            log.info("client left a streamed completion")
        except Exception:
            # The status line is gone: report in the stream, as OpenAI does, and end it.
            log.exception("streamed chat completion failed")
            error = ApiError(500, "the model failed to answer").body()
            self._chunk(f"data: {json.dumps(error)}\n\n".encode())
            self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)
