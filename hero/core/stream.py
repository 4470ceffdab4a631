"""Streaming answers (docs/actions.md, Streaming): an action whose ``run`` is a generator, or returns
an iterator, answers with a stream of chunks instead of one response.

    class Countdown(Action):
        name = "countdown"

        def run(self, data):
            for left in range(10, 0, -1):
                yield SSEEvent({"left": left}, event="tick", id=str(left))

The pipeline does not iterate: the processor puts the iterator on ``ActionData.stream`` and each
transport writes the chunks as they come (HTTP: ``text/event-stream`` or chunked bytes; WebSocket
and TCP: ``{"context": "stream", ...}`` messages; MCP: progress notifications). Nothing here waits
or knows a socket: a generator is plain Python. A client that goes away closes the generator (it
gets ``GeneratorExit`` at its ``yield``).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SSEEvent:
    """One Server-Sent Event: its ``data`` (a str as is, anything else as JSON), and optionally its
    ``event`` name, ``id`` and ``retry`` (milliseconds). Over WebSocket, TCP and MCP the chunk is
    ``data``, with ``event`` and ``id`` beside it when set."""

    data: Any
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    def __post_init__(self) -> None:
        for name in ("event", "id"):
            value = getattr(self, name)
            if value is not None and ("\n" in str(value) or "\r" in str(value)):
                raise ValueError(f"an SSE {name} may not hold a line break")


def is_stream(result: object) -> bool:
    """True for what an action returns to stream: an iterator (a generator included) that is not a
    mapping, a string or bytes."""
    return isinstance(result, Iterator) and not isinstance(result, (Mapping, str, bytes, bytearray))


def message_fields(chunk: Any) -> dict[str, Any]:
    """A chunk as the fields of a ``{"context": "stream"}`` message: ``chunk`` (bytes as text), plus
    ``event`` and ``id`` for an :class:`SSEEvent`."""
    if isinstance(chunk, SSEEvent):
        fields: dict[str, Any] = {"chunk": plain(chunk.data)}
        if chunk.event is not None:
            fields["event"] = chunk.event
        if chunk.id is not None:
            fields["id"] = chunk.id
        return fields
    return {"chunk": plain(chunk)}


def plain(value: Any) -> Any:
    """A chunk's value as JSON can hold it (bytes are decoded as UTF-8, undecodable bytes replaced)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return value


def close_stream(stream: Iterator[Any]) -> None:
    """Stop a stream that was not read to its end (the generator gets ``GeneratorExit``)."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def chunk_value(chunk: Any) -> Any:
    """What a chunk holds, as JSON can hold it (an :class:`SSEEvent`'s ``data``)."""
    return plain(chunk.data if isinstance(chunk, SSEEvent) else chunk)


def collect(stream: Iterator[Any]) -> list[Any]:
    """Read a whole stream (an in-line run, ``hero run``): the value of every chunk, in order."""
    try:
        return [chunk_value(chunk) for chunk in stream]
    finally:
        close_stream(stream)
