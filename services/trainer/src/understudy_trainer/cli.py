"""`python -m understudy_trainer train|serve`: the contract between the orchestrator and this image.

`train` owns stdout for its JSON event lines and exits 0 on success, 1 on failure; logs go to
stderr and, for `train`, into `train.log` under the output prefix.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import NoReturn, TextIO

from understudy_trainer.errors import TrainerError
from understudy_trainer.events import Events
from understudy_trainer.hyperparameters import parse_hyperparameters
from understudy_trainer.storage import ObjectStorage, S3Settings, join_key

log = logging.getLogger("understudy_trainer")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise TrainerError(f"invalid arguments: {message}", retryable=False)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m understudy_trainer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="fine-tune a LoRA adapter on a dataset manifest")
    train.add_argument(
        "--dataset", required=True, help="manifest URI (s3://bucket/key or file:///path)"
    )
    train.add_argument(
        "--output", required=True, help="URI prefix for adapter/, metrics.json, train.log"
    )
    train.add_argument(
        "--base-model", required=True, help="HF model id or path, or tiny-random:<arch>"
    )
    train.add_argument("--run-id", required=True)
    train.add_argument("--config", help="JSON object of hyper-parameters")

    serve = commands.add_parser(
        "serve", help="serve base model + adapter over an OpenAI-compatible API"
    )
    serve.add_argument("--base-model", required=True)
    serve.add_argument("--adapter", required=True, help="URI prefix of the adapter directory")
    serve.add_argument("--model-name", required=True, help="the `model` clients ask for")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    return parser


def main(argv: list[str] | None = None) -> int:
    events = Events(_claim_stdout())
    try:
        args = _parser().parse_args(argv)
    except TrainerError as error:
        events.failed(reason=error.reason, retryable=False)
        return 1
    if args.command == "serve":
        return _serve(args)
    return _train(args, events)


def _train(args: argparse.Namespace, events: Events) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="understudy-train-"))
    log_file = workdir / "train.log"
    _configure_logging(log_file)
    storage = ObjectStorage(S3Settings.from_env(os.environ))
    signal.signal(signal.SIGTERM, _terminated)
    log.info("run %s: training %s on %s", args.run_id, args.base_model, args.dataset)
    try:
        hyperparameters = parse_hyperparameters(args.config)
        # Imported late: torch and transformers take seconds, and argument errors should not wait.
        from understudy_trainer.training import TrainRequest, train

        result = train(
            TrainRequest(
                dataset=args.dataset,
                output=args.output,
                base_model=args.base_model,
                run_id=args.run_id,
                hyperparameters=hyperparameters,
            ),
            storage,
            events,
            workdir,
        )
        log.info("run %s succeeded: adapter at %s", args.run_id, result.adapter)
        _upload_log(storage, log_file, args.output)
        events.succeeded(
            adapter=result.adapter,
            metrics=result.metrics,
            files=result.files,
            footprint=result.footprint,
            license=result.license,
            evaluation=result.evaluation,
        )
        return 0
    except TrainerError as error:
        state = "retryable" if error.retryable else "final"
        log.error("run %s failed (%s): %s", args.run_id, state, error.reason)
        _upload_log_if_possible(storage, log_file, args.output)
        events.failed(reason=error.reason, retryable=error.retryable)
    except Exception as error:
        log.exception("run %s failed unexpectedly", args.run_id)
        _upload_log_if_possible(storage, log_file, args.output)
        events.failed(reason=f"{type(error).__name__}: {error}", retryable=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1


def _upload_log(storage: ObjectStorage, log_file: Path, output: str) -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
    storage.upload_file(log_file, join_key(output, "train.log"))


def _upload_log_if_possible(storage: ObjectStorage, log_file: Path, output: str) -> None:
    """The log explains a failure; failing to store it must not hide the failure itself."""
    try:
        _upload_log(storage, log_file, output)
    except TrainerError as error:
        log.warning("could not store train.log: %s", error.reason)


def _serve(args: argparse.Namespace) -> int:
    _configure_logging(None)
    storage = ObjectStorage(S3Settings.from_env(os.environ))
    try:
        from understudy_trainer.serving import ServeRequest, serve

        serve(
            ServeRequest(
                base_model=args.base_model,
                adapter=args.adapter,
                model_name=args.model_name,
                host=args.host,
                port=args.port,
            ),
            storage,
        )
    except TrainerError as error:
        log.error("cannot serve: %s", error.reason)
        return 1
    return 0


def _terminated(signum: int, _frame: object) -> NoReturn:
    # Kubernetes evicts or preempts with SIGTERM: the run may well succeed when started again.
    raise TrainerError(f"terminated by signal {signum}", retryable=True)


def _claim_stdout() -> TextIO:
    """Keeps the real stdout for event lines and points fd 1 at stderr, so that whatever else is
    printed, by any library or native code, lands in the logs instead of the protocol."""
    sys.stdout.flush()
    events = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return events


def _configure_logging(log_file: Path | None) -> None:
    level = os.environ.get("UNDERSTUDY_LOG_LEVEL", "info").upper()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    from transformers.utils import logging as hf_logging

    # One set of handlers for everything, so train.log holds the libraries' warnings too.
    hf_logging.disable_default_handler()
    hf_logging.enable_propagation()
