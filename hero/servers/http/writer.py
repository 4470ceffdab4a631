"""Writing HTTP responses at the end of the event loop's turn, within a bound per connection.

Small responses are written at the end of the event loop's turn, together with every other
connection's (:mod:`hero.servers.loopio`): a send per response made the kernel wake the client for
each; measured with wrk -c50, hero's requests/s rose by a fifth. Large writes go out at once (after
what waits), with backpressure. How many response bytes a pipelining client may leave waiting is
``web.max_waiting_response_bytes`` (docs/limits.md).
"""
from __future__ import annotations

import errno
import logging
import socket
import time
from typing import Any, cast

import gevent
from gevent.pywsgi import WSGIHandler, WSGIServer, format_date_time

from hero.servers.http.request import HttpLimits
from hero.servers.loopio import DueAtTurnEnd

log = logging.getLogger(__name__)

#: Why a response past ``web.send_total_timeout`` was given up.
TOO_SLOW = "the client did not take the response in time (web.send_total_timeout)"

#: Responses up to this size wait for the end of the loop's turn (larger ones go out at once); how
#: much may wait per connection is ``web.max_waiting_response_bytes``.
SMALL_WRITE_BYTES = 65_536

_date_cache: list[Any] = [0, b""]


def _http_date() -> bytes:
    """The Date header value, formatted once per second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, format_date_time(now)]
    return _date_cache[1]


class TurnEndWriter(DueAtTurnEnd, WSGIHandler):
    """The writing half of hero's handler: pywsgi's response machinery, with the head and a small
    body in one write, and small responses waiting for the end of the turn (the outbox)."""

    # NOTE: pywsgi declares these as bare ``= None`` class attributes, which mypy cannot type.
    #: Status code parsed from ``status`` (negated after a socket error); None before a response.
    code: int | None
    #: Whether the application supplied its own ``Date`` header; None until headers are finalized.
    provided_date: bool | None
    limits: HttpLimits

    def __init__(self, sock: Any, address: Any, server: WSGIServer) -> None:
        super().__init__(sock, address, server)
        #: Small response bytes waiting for the end of this turn of the event loop (see at_turn_end).
        self._outbox = bytearray()
        #: Sends what the kernel did not take at the end of a turn (None: nothing left over).
        self._drainer: gevent.Greenlet | None = None
        #: When the response being written must be out (set once the client falls behind).
        self._send_deadline: float | None = None

    def _sendall(self, data: bytes | bytearray) -> None:
        # NOTE: only small responses wait; once a response passes SMALL_WRITE_BYTES (a file
        # streamed in chunks) the rest goes straight out, with the socket's backpressure. A
        # chunked response (a streaming action) goes out as it comes, and finds a client gone.
        if self.response_length + len(data) <= SMALL_WRITE_BYTES and len(self._outbox) < self.limits.waiting_bytes \
                and not self.response_use_chunked:
            self._outbox += data
            self.due_at_turn_end()
            self.response_length += len(data)
            return
        self._write_waiting()
        self._send_now(data)

    def at_turn_end(self) -> None:
        """Send what waits without blocking; a greenlet sends whatever the kernel did not take."""
        if not self._outbox or self._drainer is not None:
            return  # NOTE: a draining greenlet sends the outbox after its leftover
        data = self._take_waiting()
        sock = getattr(self, "socket", None)
        if sock is None:
            return  # NOTE: the handler failed and pywsgi closed the connection; nobody to answer
        try:
            sent = sock.send(data, 0, 0.0)  # NOTE: timeout 0.0: fail rather than wait
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # NOTE: the client went away; the handler's next read or write finds out
        if sent < len(data):
            self._drainer = gevent.spawn(self._drain, sock, data[sent:])

    def _drain(self, sock: Any, leftover: bytes) -> None:
        try:
            seconds = self.limits.send_total_timeout
            with gevent.Timeout(seconds, _too_slow()):
                while leftover:
                    sock.sendall(leftover)  # each send bounded by the socket's timeout (web.body_timeout)
                    leftover = self._take_waiting()
        except OSError:
            self.close_connection = True
            try:
                sock.shutdown(socket.SHUT_RDWR)  # NOTE: wakes the handler if it waits to read
            except OSError:
                pass
        finally:
            self._drainer = None

    def _write_waiting(self) -> None:
        """Send what waits for the end of the turn now, blocking (before the connection ends, an
        upgrade, a 100 Continue or a large write)."""
        if self._drainer is not None:
            self._drainer.join()
        if self._outbox:
            data = self._take_waiting()
            try:
                self.socket.sendall(data)
            except OSError:
                self.close_connection = True

    def _take_waiting(self) -> bytes:
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    def _send_now(self, data: bytes | bytearray) -> None:
        # NOTE: gevent's sendall() asks the kernel for SO_SNDBUF on every call; one plain send()
        # takes a small answer whole, and sendall() only finishes what it could not take.
        try:
            sent = self.socket.send(data)
            if sent < len(data):
                # NOTE: the slow path only: the client is behind. Each send is bounded by the
                # socket's timeout (web.body_timeout), the whole response by web.send_total_timeout.
                if self._send_deadline is None:
                    self._send_deadline = time.monotonic() + self.limits.send_total_timeout
                left = max(0.001, self._send_deadline - time.monotonic())
                with gevent.Timeout(left, _too_slow()):
                    self.socket.sendall(memoryview(data)[sent:])
        except OSError as error:
            if error.strerror == TOO_SLOW:
                log.info("http: closing %s: %s", self.client_address, TOO_SLOW)
            self.status = f"socket error: {error}"
            if self.code and self.code > 0:
                self.code = -self.code
            raise
        self.response_length += len(data)

    def _write_with_headers(self, data: bytes) -> None:
        # NOTE: pywsgi sends the head and the body in two sendall calls; one is cheaper, and with
        # small JSON answers the copy costs less than the extra syscall.
        self.headers_sent = True
        self._send_deadline = None
        if self.provided_date is None:
            self.provided_date = True
            self.response_headers.append((b"Date", _http_date()))
        self.finalize_headers()
        head = bytearray(b"HTTP/1.1 ")
        # NOTE: start_response has encoded the status line to bytes by now; pywsgi's inferred type is str.
        head += cast(bytes, self.status)
        head += b"\r\n"
        for name, value in self.response_headers:
            head += name
            head += b": "
            head += value
            head += b"\r\n"
        head += b"\r\n"
        if data and not self.response_use_chunked and len(data) <= 65_536:
            head += data
            self._sendall(head)
            return
        self._sendall(head)
        self._write(data)


def _too_slow() -> ConnectionResetError:
    """What a response past ``web.send_total_timeout`` ends with: a reset, which pywsgi closes the
    connection on without a traceback (as when the client went away)."""
    return ConnectionResetError(errno.ECONNRESET, TOO_SLOW)
