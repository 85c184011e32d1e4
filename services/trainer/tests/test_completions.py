"""What the server shows of generated text: stop sequences and tool calls, streamed or not."""

from __future__ import annotations

from understudy_trainer.chat import ToolCall
from understudy_trainer.completions import OutputFilter


def feed_all(output: OutputFilter, pieces: list[str]) -> str:
    return "".join(output.feed(piece) for piece in pieces)


def test_passes_plain_text_through() -> None:
    output = OutputFilter([], tools=False)
    assert feed_all(output, ["Hel", "lo <tool", "_call>"]) == "Hello <tool_call>"
    assert output.finish() == ("", ())


def test_cuts_at_a_stop_sequence_split_across_pieces() -> None:
    output = OutputFilter(["END"], tools=False)
    shown = [output.feed(p) for p in ["one E", "N", "D two"]]
    assert shown == ["one ", "", ""]
    assert output.stopped
    assert output.finish() == ("", ())


def test_releases_a_held_prefix_that_was_not_a_stop() -> None:
    output = OutputFilter(["END"], tools=False)
    assert output.feed("one E") == "one "
    assert output.feed("ND") == ""
    output = OutputFilter(["END"], tools=False)
    assert output.feed("one E") == "one "
    assert output.feed("gg") == "Egg"


def test_holds_tool_calls_for_parsing() -> None:
    output = OutputFilter([], tools=True)
    pieces = [
        "Saving",
        " now.<tool",
        '_call>{"name": "save", ',
        '"arguments": {"a": 1}}</tool_call>',
    ]
    assert feed_all(output, pieces) == "Saving now."
    assert output.finish() == ("", (ToolCall("save", {"a": 1}),))


def test_gives_back_text_that_did_not_parse_as_a_tool_call() -> None:
    output = OutputFilter([], tools=True)
    assert feed_all(output, ["a <tool_call>{broken"]) == "a "
    assert output.finish() == ("<tool_call>{broken", ())
    # The held-back end of a stream is released too.
    output = OutputFilter([], tools=True)
    assert output.feed("a <tool") == "a "
    assert output.finish() == ("<tool", ())
