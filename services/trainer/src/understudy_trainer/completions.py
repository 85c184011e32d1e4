"""OpenAI chat completions on a local model: request validation, generation and the exact
`chat.completion` / `chat.completion.chunk` shapes, tool calls included."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from understudy_trainer.chat import TOOL_CALL_OPEN, ToolCall, parse_generation
from understudy_trainer.chat_request import ApiError, parse_chat_request
from understudy_trainer.examples import render_prompt

DEFAULT_MAX_TOKENS = 1024


@dataclass(frozen=True)
class Generation:
    """One validated request, ready to run."""

    input_ids: torch.Tensor
    max_new_tokens: int
    sampling: dict[str, Any]
    seed: int | None
    stop: list[str]
    tools: bool
    stream: bool
    include_usage: bool
    id: str = field(default_factory=lambda: f"chatcmpl-{secrets.token_hex(12)}")
    created: int = field(default_factory=lambda: int(time.time()))


class OutputFilter:
    """Decides which generated text the client sees, and when.

    Text from a stop sequence on is dropped, and text from a `<tool_call>` opening on is held back
    to be parsed into tool calls at the end; while a marker may still be forming, its prefix waits.
    """

    def __init__(self, stop: list[str], tools: bool) -> None:
        self._stop = [s for s in stop if s]
        self._markers = [*self._stop, *([TOOL_CALL_OPEN] if tools else [])]
        self._tools = tools
        self._text = ""
        self._shown = 0
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Appends generated text; returns the part that may now be shown."""
        if self.stopped:
            return ""
        self._text += piece
        cut = min((i for i in (self._text.find(s) for s in self._stop) if i >= 0), default=-1)
        if cut >= 0:
            self._text, self.stopped = self._text[:cut], True
        limit = len(self._text) if self.stopped else len(self._text) - self._partial_marker()
        if self._tools and (opening := self._text.find(TOOL_CALL_OPEN)) >= 0:
            limit = min(limit, opening)
        delta = self._text[self._shown : max(limit, self._shown)]
        self._shown = max(limit, self._shown)
        return delta

    def finish(self) -> tuple[str, tuple[ToolCall, ...]]:
        """The rest of the text, or none of it when it parsed into tool calls, and those calls."""
        calls = parse_generation(self._text).tool_calls if self._tools else ()
        rest = "" if calls else self._text[self._shown :]
        self._shown = len(self._text)
        return rest, calls

    def _partial_marker(self) -> int:
        return max(
            (
                n
                for marker in self._markers
                for n in range(min(len(marker) - 1, len(self._text)), 0, -1)
                if self._text.endswith(marker[:n])
            ),
            default=0,
        )


class _Cancelled(StoppingCriteria):
    """Stops generating once the client has gone."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(
        self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any
    ) -> torch.Tensor:
        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


class ChatEngine:
    """Serves one model under one name; requests run one at a time on it."""

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, name: str
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.created = int(time.time())
        self._lock = threading.Lock()
        config_context = getattr(model.config, "max_position_embeddings", None)
        self._context = int(config_context or tokenizer.model_max_length)
        eos = model.generation_config.eos_token_id
        self._eos = {
            token
            for token in [*(eos if isinstance(eos, list) else [eos]), tokenizer.eos_token_id]
            if token is not None
        }

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": self.name,
                    "object": "model",
                    "created": self.created,
                    "owned_by": "understudy",
                }
            ],
        }

    def prepare(self, body: object) -> Generation:
        request = parse_chat_request(body)
        if request.model != self.name:
            raise ApiError(
                404,
                f"the model {request.model!r} does not exist; this server serves {self.name!r}",
                param="model",
                code="model_not_found",
            )
        try:
            prompt = render_prompt(self.tokenizer, request.messages, request.tools)
        except Exception as error:  # a template raises on what it cannot render
            raise ApiError(
                400, f"the chat template cannot render these messages: {error}", param="messages"
            ) from error
        encoded = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
        input_ids: torch.Tensor = encoded["input_ids"]
        room = self._context - input_ids.shape[1]
        if room < 1 or (request.max_tokens or 0) > room:
            raise ApiError(
                400,
                f"the prompt has {input_ids.shape[1]} tokens; the context holds {self._context}",
                param="messages",
                code="context_length_exceeded",
            )
        return Generation(
            input_ids=input_ids,
            max_new_tokens=request.max_tokens or min(DEFAULT_MAX_TOKENS, room),
            sampling=request.sampling,
            seed=request.seed,
            stop=request.stop,
            tools=request.tools is not None,
            stream=request.stream,
            include_usage=request.include_usage,
        )

    def complete(self, generation: Generation) -> dict[str, Any]:
        with self._lock:
            new_ids = self._generate(generation, None, threading.Event())
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        filtered = OutputFilter(generation.stop, generation.tools)
        content = filtered.feed(text)
        rest, calls = filtered.finish()
        content += rest
        message: dict[str, Any] = {
            "role": "assistant",
            "content": (content or None) if calls else content,
            "refusal": None,
        }
        if calls:
            message["tool_calls"] = [_tool_call(call) for call in calls]
        return {
            **self._envelope(generation, "chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self._finish_reason(generation, new_ids, filtered, calls),
                }
            ],
            "usage": _usage(generation, new_ids),
        }

    def stream(
        self, generation: Generation, cancelled: threading.Event
    ) -> Iterator[dict[str, Any]]:
        """The chunks of a streamed answer; setting `cancelled` stops generating."""
        with self._lock:
            streamer = TextIteratorStreamer(
                self.tokenizer, skip_prompt=True, skip_special_tokens=True
            )
            result: dict[str, Any] = {}

            def run() -> None:
                try:
                    result["ids"] = self._generate(generation, streamer, cancelled)
                except BaseException as error:
                    result["error"] = error
                    streamer.end()

            worker = threading.Thread(target=run, name="generate", daemon=True)
            worker.start()
            try:
                filtered = OutputFilter(generation.stop, generation.tools)
                yield self._chunk(generation, {"role": "assistant", "content": ""})
                for piece in streamer:
                    if delta := filtered.feed(piece):
                        yield self._chunk(generation, {"content": delta})
            finally:
                # Also reached when the client leaves mid-stream (the generator is closed).
                cancelled.set()
                worker.join()
            if "error" in result:
                raise result["error"]
            new_ids: list[int] = result["ids"]
            rest, calls = filtered.finish()
            if rest:
                yield self._chunk(generation, {"content": rest})
            for index, call in enumerate(calls):
                yield self._chunk(
                    generation, {"tool_calls": [{"index": index, **_tool_call(call)}]}
                )
            yield self._chunk(
                generation,
                {},
                finish_reason=self._finish_reason(generation, new_ids, filtered, calls),
            )
            if generation.include_usage:
                yield {
                    **self._envelope(generation, "chat.completion.chunk"),
                    "choices": [],
                    "usage": _usage(generation, new_ids),
                }

    def _generate(
        self,
        generation: Generation,
        streamer: TextIteratorStreamer | None,
        cancelled: threading.Event,
    ) -> list[int]:
        if generation.seed is not None:
            torch.manual_seed(generation.seed)
        input_ids = generation.input_ids.to(self.model.device)
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=generation.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                stop_strings=generation.stop or None,
                tokenizer=self.tokenizer,
                stopping_criteria=StoppingCriteriaList([_Cancelled(cancelled)]),
                streamer=streamer,
                **generation.sampling,
            )
        new_ids: list[int] = output[0, input_ids.shape[1] :].tolist()
        return new_ids

    def _finish_reason(
        self,
        generation: Generation,
        new_ids: list[int],
        filtered: OutputFilter,
        calls: tuple[ToolCall, ...],
    ) -> str:
        if calls:
            return "tool_calls"
        ended = filtered.stopped or (bool(new_ids) and new_ids[-1] in self._eos)
        return "stop" if ended or len(new_ids) < generation.max_new_tokens else "length"

    def _envelope(self, generation: Generation, kind: str) -> dict[str, Any]:
        envelope: dict[str, Any] = {
            "id": generation.id,
            "object": kind,
            "created": generation.created,
            "model": self.name,
            "system_fingerprint": None,
        }
        return envelope

    def _chunk(
        self, generation: Generation, delta: dict[str, Any], finish_reason: str | None = None
    ) -> dict[str, Any]:
        chunk = {
            **self._envelope(generation, "chat.completion.chunk"),
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if generation.include_usage:
            chunk["usage"] = None
        return chunk


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": f"call_{secrets.token_hex(12)}",
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments_json()},
    }


def _usage(generation: Generation, new_ids: list[int]) -> dict[str, int]:
    prompt = int(generation.input_ids.shape[1])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": len(new_ids),
        "total_tokens": prompt + len(new_ids),
    }
