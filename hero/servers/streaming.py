"""Writing a streaming action's chunks (docs/actions.md, Streaming), shared by every transport.

    with closing(read_stream(data.stream, tick=15.0)) as chunks:
        for chunk in chunks:
            ...  # write it; TICK: nothing came for a while (a keep-alive, or check the client)

The generator runs in a greenlet of its own and hands each chunk over (one at a time: a slow
client slows the generator); the transport's greenlet writes it. When the client is gone (the
transport stops reading, or closes the iterator) the generator is stopped: ``GeneratorExit`` is
raised where it waits (at its ``yield``, or in the sleep or read it is blocked in), and its greenlet
ends. :func:`push_stream` is the message form WebSocket and TCP share.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import closing
from typing import Any

import gevent
from gevent.queue import Channel, Empty

from hero.core.stream import SSEEvent, close_stream, message_fields
from hero.errors import HeroError, error_message
from hero.runtime.json import dumps

log = logging.getLogger(__name__)

#: A comment line: SSE clients ignore it; it keeps proxies and idle clients from timing out.
KEEPALIVE_COMMENT = b": keep-alive\n\n"
#: Seconds a stopped generator gets to finish its ``finally`` blocks before its greenlet is killed.
STOP_GRACE = 1.0
#: Yielded by :func:`read_stream` after ``tick`` seconds without a chunk.
TICK = object()


class StreamFailed(Exception):
    """The streaming action raised ``error`` while producing a chunk."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def read_stream(stream: Iterator[Any], *, tick: float) -> Generator[Any, None, None]:
    """Each chunk of ``stream`` as it comes, and :data:`TICK` after every ``tick`` quiet seconds;
    raises :class:`StreamFailed` when the action raised. Closing this iterator early (the client is
    gone) stops the action's generator."""
    channel: Channel = Channel()
    stopped = False

    def produce() -> None:
        final: tuple[bool, Exception | None] = (False, None)
        try:
            for chunk in stream:
                channel.put((True, chunk))
        except (GeneratorExit, gevent.GreenletExit):
            return  # NOTE: stopped by the reader (below): nobody waits for an answer
        except Exception as error:
            final = (False, error)
        finally:
            try:
                close_stream(stream)  # NOTE: stopped between chunks: GeneratorExit at its yield
            except Exception:
                log.exception("a streaming action failed while it was being stopped")
        if not stopped:
            try:
                channel.put(final)
            except (GeneratorExit, gevent.GreenletExit):
                return  # NOTE: the reader stopped waiting meanwhile

    producer = gevent.spawn(produce)
    try:
        while True:
            try:
                more, value = channel.get(timeout=tick)
            except Empty:
                yield TICK
                continue
            if more:
                yield value
            elif value is None:
                return
            else:
                raise StreamFailed(value)
    finally:
        stopped = True
        if not producer.dead:
            producer.kill(GeneratorExit, block=True, timeout=STOP_GRACE)
            if not producer.dead:
                log.warning("a streaming action did not stop within %ss of its client leaving", STOP_GRACE)
                producer.kill(block=False)


def failure_text(error: Exception, expose_errors: bool) -> str:
    """What the client is told when a streaming action raised mid-stream (logged here)."""
    if isinstance(error, HeroError):
        return error_message(error)
    log.error("a streaming action failed mid-stream: %s", error, exc_info=error)
    return error_message(error) if expose_errors else "internal error"


def push_stream(stream: Iterator[Any], message_id: Any, push: Callable[[dict[str, Any]], Any], *,
                alive: Callable[[], bool], backlogged: Callable[[], bool], tick: float,
                expose_errors: bool) -> Mapping[str, Any] | None:
    """Send each chunk as ``{"context": "stream", "messageId": ..., "chunk": ...}`` (docs/websocket.md,
    docs/tcp.md); return the final message (``streamEnd``, with ``error`` when the action raised),
    or None when the client went away. While ``backlogged()`` (the client reads slower than the
    action writes) the next chunk waits."""
    with closing(read_stream(stream, tick=tick)) as chunks:
        try:
            for chunk in chunks:
                if chunk is not TICK:
                    push({"context": "stream", "messageId": message_id, **message_fields(chunk)})
                while alive() and backlogged():
                    gevent.sleep(0.005)
                if not alive():
                    return None
        except StreamFailed as failed:
            return {"error": failure_text(failed.error, expose_errors), "context": "response",
                    "messageId": message_id, "streamEnd": True}
    return {"context": "response", "messageId": message_id, "streamEnd": True}


def sse_bytes(chunk: Any) -> bytes:
    """A chunk as one Server-Sent Event: ``event:``/``id:``/``retry:`` lines when set, the data (a
    line per line of text; JSON for anything not a str or bytes), and the blank line that ends it."""
    event = chunk if isinstance(chunk, SSEEvent) else SSEEvent(chunk)
    lines: list[bytes] = []
    if event.event is not None:
        lines.append(b"event: " + event.event.encode())
    if event.id is not None:
        lines.append(b"id: " + event.id.encode())
    if event.retry is not None:
        lines.append(b"retry: " + str(int(event.retry)).encode())
    data = event.data
    if isinstance(data, (bytes, bytearray, memoryview)):
        text = bytes(data)
    elif isinstance(data, str):
        text = data.encode()
    else:
        text = dumps(data)
    for line in text.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
        lines.append(b"data: " + line)
    return b"\n".join(lines) + b"\n\n"


def raw_bytes(chunk: Any) -> bytes:
    """A chunk as plain bytes (a chunked HTTP body): bytes as they are, text UTF-8, anything else
    as a line of JSON."""
    if isinstance(chunk, SSEEvent):
        chunk = chunk.data
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    if isinstance(chunk, str):
        return chunk.encode()
    return dumps(chunk) + b"\n"
