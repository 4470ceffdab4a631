"""Streaming in the pipeline (docs/actions.md, Streaming): the processor hands the generator over
untouched, after inputs and middleware; nothing in hero.core iterates it."""
from __future__ import annotations

import pytest

from hero import Action, ActionMiddleware, Input, SSEEvent
from hero.core.action import ActionRegistry
from hero.core.connection import Connection
from hero.core.processor import ActionProcessor
from hero.core.stream import chunk_value, close_stream, collect, is_stream, message_fields
from hero.errors import BootError

started: list[str] = []


class Numbers(Action):
    name = "numbers"
    inputs = {"upto": Input(required=True, formatter=int)}

    def run(self, data):
        started.append("numbers")
        yield from range(data.params["upto"])


class Returns(Action):
    name = "returns"

    def run(self, data):
        return iter([SSEEvent("x", event="e", id="1"), b"raw"])


class Plain(Action):
    name = "plain"

    def run(self, data):
        return {"ok": True}


def processor() -> ActionProcessor:
    registry = ActionRegistry()
    for action in (Numbers, Returns, Plain):
        registry.add(action)
    return ActionProcessor(registry)


def connection() -> Connection:
    return Connection(type="test", remote_ip="0", remote_port=0)


def test_a_generator_is_handed_over_unstarted() -> None:
    started.clear()
    data = processor().process(connection(), {"action": "numbers", "upto": "3"})
    assert data.error is None and data.response == {} and started == []
    assert list(data.stream) == [0, 1, 2] and started == ["numbers"]
    assert Numbers.streaming and not Plain.streaming  # a generator function is documented as streaming


def test_an_iterator_returned_streams_too() -> None:
    data = processor().process(connection(), {"action": "returns"})
    chunks = list(data.stream)
    assert [message_fields(chunk) for chunk in chunks] == [{"chunk": "x", "event": "e", "id": "1"}, {"chunk": "raw"}]
    assert processor().process(connection(), {"action": "plain"}).stream is None


def test_input_errors_and_middleware_come_before_the_stream() -> None:
    started.clear()
    running = processor()
    data = running.process(connection(), {"action": "numbers"})
    assert data.stream is None and data.response["error"] == "upto is a required parameter for this action"

    def refuse(data):
        raise PermissionError("no numbers today")

    running.actions.add_middleware(ActionMiddleware("refuse", post_process=refuse, is_global=True))
    data = running.process(connection(), {"action": "numbers", "upto": 2})
    assert data.stream is None and data.response["error"] == "no numbers today"
    assert started == []


def test_in_line_runs_read_the_whole_stream() -> None:
    running = processor()
    assert running.run_inline("numbers", {"upto": 3}) == {"chunks": [0, 1, 2]}
    assert running.run_inline("returns") == {"chunks": ["x", "raw"]}


def test_chunks_and_events() -> None:
    assert is_stream(iter([])) and not is_stream({"a": 1}) and not is_stream("text") and not is_stream([1])
    assert chunk_value(SSEEvent({"a": 1})) == {"a": 1} and chunk_value(b"\xff") == "\ufffd"
    with pytest.raises(ValueError, match="line break"):
        SSEEvent("x", event="two\nlines")
    stopped = []

    def endless():
        try:
            while True:
                yield 1
        finally:
            stopped.append(True)

    stream = endless()
    next(stream)
    assert collect(iter([1, 2])) == [1, 2]
    close_stream(stream)
    assert stopped == [True]


def test_mcp_opt_in_is_checked_at_boot() -> None:
    class Bad(Action):
        name = "bad"
        mcp = {"tool": True, "colour": "red"}

        def run(self, data):
            return {}

    with pytest.raises(BootError, match="mcp must be"):
        Bad.validate()

    class Described(Action):
        name = "described"
        description = "the action's"
        mcp = {"tool": True, "description": "the tool's"}

        def run(self, data):
            return {}

    registry = ActionRegistry()
    assert registry.add(Described).mcp_description == "the tool's"
    assert registry.add(Plain).mcp_tool is False
