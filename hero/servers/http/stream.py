"""A streaming action over HTTP (docs/http.md, Streaming): Server-Sent Events for a client that
accepts ``text/event-stream``, chunked bytes for any other.

The body is an iterator that pywsgi writes chunk by chunk as the action yields (chunked
transfer-encoding; the writer sends chunked responses at once rather than at the end of the loop's
turn). Nothing buffers it and nothing compresses it. A write that fails (the client left) ends the
response: pywsgi closes the body, which stops the action's generator. The keep-alive deadlines of
the connection do not run while a response is written; ``general.stream_keepalive_interval`` quiet
seconds send an SSE comment (``: keep-alive``), which also finds a client that has gone.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hero.core.stream import SSEEvent
from hero.servers.streaming import KEEPALIVE_COMMENT, TICK, StreamFailed, failure_text, raw_bytes, read_stream, sse_bytes

EVENT_STREAM = "text/event-stream"
#: Headers of every streamed answer: never cached, never buffered by a proxy (nginx reads
#: ``X-Accel-Buffering``).
STREAM_HEADERS = (("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no"))


def accepts_event_stream(environ: dict[str, Any]) -> bool:
    """Whether the request's ``Accept`` names ``text/event-stream`` (``EventSource``, ``curl -H``)."""
    return EVENT_STREAM in str(environ.get("HTTP_ACCEPT", ""))


class StreamBody:
    """The WSGI body of a streamed answer: an iterator of bytes whose ``close`` stops the action."""

    def __init__(self, stream: Iterator[Any], *, sse: bool, tick: float, expose_errors: bool,
                 on_close: Callable[[], None]) -> None:
        self.sse = sse
        self.expose_errors = expose_errors
        self._chunks = read_stream(stream, tick=tick)
        self._on_close: Callable[[], None] | None = on_close

    def __repr__(self) -> str:
        return f"<StreamBody sse={self.sse}>"

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._chunks:
                if chunk is TICK:
                    if self.sse:
                        yield KEEPALIVE_COMMENT
                    continue
                yield sse_bytes(chunk) if self.sse else raw_bytes(chunk)
        except StreamFailed as failed:
            text = failure_text(failed.error, self.expose_errors)
            # NOTE: the status went out with the first byte; the error is the stream's last event.
            yield sse_bytes(SSEEvent({"error": text}, event="error")) if self.sse else raw_bytes({"error": text})

    def close(self) -> None:
        """pywsgi calls this when the response ends, written or not: the action's generator stops."""
        try:
            self._chunks.close()
        finally:
            on_close, self._on_close = self._on_close, None
            if on_close is not None:
                on_close()


def stream_headers(environ: dict[str, Any], headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], bool]:
    """The headers of a streamed answer, and whether it is Server-Sent Events."""
    sse = accepts_event_stream(environ)
    content_type = f"{EVENT_STREAM}; charset=utf-8" if sse else "text/plain; charset=utf-8"
    return headers + [("Content-Type", content_type), *STREAM_HEADERS], sse
