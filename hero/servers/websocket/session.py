"""One upgraded WebSocket: wsproto frames on the pywsgi socket, with limits (reliability.md §1.2).

Three greenlets per socket:

* the reader (the pywsgi handler's own greenlet) feeds bytes to wsproto, sums partial messages
  (closing with 1009 over the cap) and hands each whole message to ``on_message``;
* one writer sends whatever waits, so frames never interleave: control frames (pong, ping) go
  before queued data, and the close frame goes last (when nothing waits, a frame goes to the
  kernel without waiting, with the others of this turn of the event loop (see
  :mod:`hero.servers.loopio`), and the writer only sends what the kernel did not take);
* a pinger sends a ping every ``ping_interval`` seconds and closes with 1011 when no pong arrives in
  ``ping_timeout`` seconds.

Replies and chat pushes go through :meth:`WebSocketSession.push`, which never blocks: a client that
does not read fills its bounded queue and is closed with 1013, without slowing the sender.
"""
from __future__ import annotations

import logging
import socket
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import Event
from wsproto.connection import Connection as FrameConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from hero.runtime import json as jsonutil
from hero.servers.loopio import InlineReading, may_wait_first, wait_readable

log = logging.getLogger(__name__)

#: Bytes asked of the socket per read.
RECV_BYTES = 65_536
#: Pongs owed at most; older pings of a flood go unanswered.
MAX_PENDING_PONGS = 16

# Close codes (RFC 6455 §7.4.1).
NORMAL = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
POLICY_VIOLATION = 1008
ABNORMAL = 1006
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
#: Codes that may be received but never sent in a close frame.
_UNSENDABLE = frozenset({1005, 1006, 1015})
#: Returned by a reader whose socket another greenlet now reads.
HANDED_OFF = object()


@dataclass(frozen=True)
class Limits:
    """The ``websocket`` config values one session needs."""

    max_message_bytes: int = 1_048_576
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    max_queued_messages: int = 256
    max_queued_bytes: int = 4_194_304
    close_timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(**{name: config[name] for name in cls.__dataclass_fields__ if name in config})



class WebSocketSession(InlineReading):
    """The I/O of one WebSocket client; what its messages mean is ``on_message``'s business."""

    def __init__(self, sock: socket.socket, limits: Limits, *, leftover: bytes = b"", name: str = "") -> None:
        self.sock = sock
        self.limits = limits
        self.name = name
        self.ws = FrameConnection(ConnectionType.SERVER)
        #: Called in the reader with each whole message: its bytes (text UTF-8 encoded) and
        #: whether it came as text.
        self.on_message: Callable[[bytes, bool], None] = lambda raw, text: None
        self._leftover = leftover
        #: Frames waiting for the writer: (payload, is text).
        self._queue: deque[tuple[bytes, bool]] = deque()
        self._queued_bytes = 0
        #: Frames encoded while nothing waited, for this turn's flush (they go before the queue).
        self._outbox: list[bytes] = []
        #: The tail of a frame the kernel did not take at once (the writer sends it first).
        self._unsent = b""
        #: The writer is sending: new frames queue behind it.
        self._writing = False
        self._wake = Event()
        # NOTE: bounded; in a ping flood the oldest pings go unanswered (RFC 6455 §5.5.3 allows
        # answering only the latest), so pongs never pile up behind a client that only pings.
        self._pending_pongs: deque[bytes] = deque(maxlen=MAX_PENDING_PONGS)
        self._pending_ping: bytes | None = None
        self._ping_payload = b""
        self._pong_received = Event()
        self._parts: list[bytes] = []
        self._message_bytes = 0
        #: Set after a frame-level protocol error: the rest of the input is drained, not parsed.
        self._failed = False
        self._aborted = False
        #: The code of the close frame this server sends (None while open; 1006 once the TCP
        #: connection ended without one).
        self.close_code: int | None = None
        self.close_reason = ""
        #: The code the client closed with, when it did.
        self.peer_close_code: int | None = None
        self.finished = Event()
        self._writer: gevent.Greenlet | None = None
        self._pinger: gevent.Greenlet | None = None
        self._abort_timer: gevent.Greenlet | None = None
        #: The greenlet reading the socket now (another takes over while an action waits).
        self._reader: Any = None

    def __repr__(self) -> str:
        state = "open" if self.close_code is None else f"closing {self.close_code}"
        return f"<WebSocketSession {self.name} {state}>"

    # --- sending ---------------------------------------------------------------------------------

    def push(self, message: Mapping[str, Any]) -> bool:
        """Queue a JSON message for the client; never blocks. False when it was not queued."""
        if self.close_code is not None:
            return False
        try:
            payload = jsonutil.dumps(message)
        except (TypeError, ValueError) as error:
            log.warning("websocket %s: a reply could not be encoded as JSON: %s", self.name, error)
            payload = jsonutil.dumps({"error": f"the reply could not be encoded as JSON: {error}",
                                      "context": message.get("context", "response"),
                                      "messageId": _plain(message.get("messageId"))})
        return self.send_frame(payload, text=True)

    def send_frame(self, payload: bytes, *, text: bool) -> bool:
        """Queue one message (text: UTF-8 bytes); closes with 1013 when the queue is full."""
        if self.close_code is not None:
            return False
        if self._idle() and self.ws.state is ConnectionState.OPEN:
            self._outbox.append(self.ws.send(TextMessage(data=payload.decode("utf-8")) if text
                                             else BytesMessage(data=payload)))
            self.due_at_turn_end()
            return True
        limits = self.limits
        if self._queue and (len(self._queue) >= limits.max_queued_messages
                            or self._queued_bytes + len(payload) > limits.max_queued_bytes):
            log.warning("websocket %s: %d messages (%d bytes) wait for a client that does not read; closing",
                        self.name, len(self._queue), self._queued_bytes)
            self.close(TRY_AGAIN_LATER, "too many messages waiting; the client reads too slowly")
            return False
        self._queue.append((payload, text))
        self._queued_bytes += len(payload)
        self._wake.set()
        return True

    def _idle(self) -> bool:
        """Nothing waits to be sent and the writer is not sending: a frame may go out at once."""
        return not (self._writing or self._queue or self._unsent or self._pending_pongs or self._pending_ping)

    def spawn_reader(self) -> Any:
        return gevent.spawn_raw(self._reader_main, False)

    def reading_goes_on(self) -> bool:
        return not self.finished.is_set()

    def flush(self) -> None:
        """Hand this turn's frames to the kernel without waiting; the writer sends what it did not take."""
        # NOTE: a fast path that saves a switch to the writer greenlet per message. gevent's
        # ``timeout=0.0`` makes this send fail with EAGAIN instead of waiting, so the flush (in the
        # hub) is never held up by a slow client.
        if not self._outbox:
            return  # NOTE: the writer took them
        data = self._outbox[0] if len(self._outbox) == 1 else b"".join(self._outbox)
        self._outbox.clear()
        if self._writing or self._unsent:
            self._unsent += data
            self._wake.set()
            return
        try:
            sent = self.sock.send(data, timeout=0.0)  # type: ignore[call-arg]
        except BlockingIOError:
            sent = 0
        except OSError:
            self.abort()
            return
        if sent < len(data):
            self._unsent = data[sent:]
            self._wake.set()

    def close(self, code: int, reason: str = "", *, flush: bool = False) -> None:
        """Start the closing handshake with ``code``; queued messages go first when ``flush``."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        if not flush:
            self._queue.clear()
            self._queued_bytes = 0
        self._wake.set()
        self._pong_received.set()  # the pinger has nothing left to wait for
        self._abort_timer = gevent.spawn_later(self.limits.close_timeout, self.abort)

    def abort(self) -> None:
        """End the TCP connection now: wakes the reader (EOF) and the writer (error)."""
        if self._aborted:
            return
        self._aborted = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, event: Any) -> None:
        if self.ws.state is not ConnectionState.OPEN:
            return  # NOTE: after a close frame either way, data and pings may no longer be sent
        self.sock.sendall(self.ws.send(event))

    def _write_loop(self) -> None:
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                self._writing = True
                while self._flush_one():
                    pass
                self._writing = False
                if self.close_code is not None:
                    self._send_close()
                    return
        except (OSError, LocalProtocolError) as error:
            log.debug("websocket %s: send failed: %s", self.name, error)
            self.abort()
        except Exception:
            log.exception("websocket %s: the writer failed", self.name)
            self.abort()

    def _flush_one(self) -> bool:
        """Send one frame, control frames first; False when nothing is waiting."""
        if self._unsent or self._outbox:
            # NOTE: the rest of a frame, then frames encoded this turn, go before anything else.
            data, self._unsent = self._unsent + b"".join(self._outbox), b""
            self._outbox.clear()
            self.sock.sendall(data)
        elif self._pending_pongs:
            self._send(Pong(payload=self._pending_pongs.popleft()))
        elif self._pending_ping is not None:
            payload, self._pending_ping = self._pending_ping, None
            self._send(Ping(payload=payload))
        elif self._queue:
            payload, text = self._queue.popleft()
            self._queued_bytes -= len(payload)
            self._send(TextMessage(data=payload.decode("utf-8")) if text else BytesMessage(data=payload))
        else:
            return False
        return True

    def _send_close(self) -> None:
        code = self.close_code
        if self.ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            sendable = code if code is not None and code not in _UNSENDABLE else None
            # NOTE: wsproto sends a close frame without a code for None, but annotates ``code: int``.
            frame = CloseConnection(code=sendable, reason=self.close_reason if sendable else None)  # type: ignore[arg-type]
            self.sock.sendall(self.ws.send(frame))
        if self.ws.state is ConnectionState.CLOSED:
            # NOTE: the client closed first and has our answer: nothing more will come.
            self.abort()
        elif self._failed:
            # NOTE: failing the connection (RFC 6455 §7.1.7): the server ends TCP first. Half-close
            # only, and let the reader drain until the client's FIN; closing with unread input
            # would send a RST that can destroy the close frame before the client reads it.
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    # --- the pinger --------------------------------------------------------------------------------

    def _ping_loop(self) -> None:
        count = 0
        while self.close_code is None:
            gevent.sleep(self.limits.ping_interval)
            if self.close_code is not None:
                return
            count += 1
            self._ping_payload = self._pending_ping = str(count).encode()
            self._pong_received.clear()
            self._wake.set()
            if not self._pong_received.wait(self.limits.ping_timeout):
                log.info("websocket %s: no pong in %.1fs; closing", self.name, self.limits.ping_timeout)
                self.close(INTERNAL_ERROR, "ping timeout")
                return

    # --- reading -----------------------------------------------------------------------------------

    def run(self) -> None:
        """Serve the socket until it closes (in the caller's greenlet); never raises."""
        # NOTE: no socket timeout: the pinger finds a silent client, and the close deadline ends a
        # blocked send; a per-read timeout would cost a timer on every message.
        self.sock.settimeout(None)
        self._writer = gevent.spawn(self._write_loop)
        if self.limits.ping_interval > 0:
            self._pinger = gevent.spawn(self._ping_loop)
        self._reader = gevent.getcurrent()
        self._reader_main(first=True)
        # NOTE: stay until the session is over even when another greenlet took over reading:
        # the web server's handler (and its pool slot) ends when this returns.
        self.finished.wait()

    def run_in_reader(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function`` now, in the reader; if it waits, a new greenlet reads on meanwhile.

        A fast action answers without ever leaving the reader (no greenlet spawned, no trip
        through the hub); one that waits on I/O hands the socket to a new reader, so the
        connection keeps reading and actions still run concurrently.
        """
        me = gevent.getcurrent()
        if self._reader is not me:
            gevent.spawn_raw(function, *args)
            return
        self.enter_inline()
        try:
            function(*args)
        finally:
            self.leave_inline(me)

    def _reader_main(self, first: bool) -> None:
        me = gevent.getcurrent()
        outcome: Any = None
        try:
            outcome = self._read_loop(me, first)
        except Exception:
            log.exception("websocket %s: the reader failed", self.name)
        if outcome is HANDED_OFF:
            return
        if self.close_code is None:
            self.close_code = ABNORMAL  # the TCP connection ended without a close frame
        self.abort()
        for greenlet in (self._pinger, self._writer, self._abort_timer):
            if greenlet is not None:
                greenlet.kill(block=False)
        self.finished.set()

    def _read_loop(self, me: Any, first: bool) -> Any:
        """Read and act until the connection ends, or until another greenlet took over reading."""
        pending = b""
        if first:
            pending, self._leftover = self._leftover, b""
        else:
            outcome = self._handle_events(me)  # what the previous reader had parsed but not acted on
            if outcome is not True:
                return outcome
        wait_first = may_wait_first(self.sock)
        while True:
            if pending:
                data, pending = pending, b""
            else:
                try:
                    if wait_first:
                        wait_readable(self.sock)
                    data = self.sock.recv(RECV_BYTES)
                except OSError:
                    return None
            if not data:
                return None
            if self._failed:
                continue  # NOTE: drained so the close frame is not lost to a RST (stack-notes)
            self.ws.receive_data(data)
            outcome = self._handle_events(me)
            if outcome is not True:
                return outcome

    def _handle_events(self, me: Any) -> Any:
        """Act on what wsproto parsed: True to read on, False once the closing handshake is
        complete, HANDED_OFF when another greenlet became the reader meanwhile."""
        for event in self.ws.events():
            if isinstance(event, Message):
                self._on_message_part(event)
                if self._reader is not me:
                    return HANDED_OFF
            elif isinstance(event, Ping):
                self._pending_pongs.append(bytes(event.payload))
                self._wake.set()
            elif isinstance(event, Pong):
                if bytes(event.payload) == self._ping_payload:
                    self._pong_received.set()
            elif isinstance(event, CloseConnection):
                return self._on_close(event)
        return True

    def _on_close(self, event: CloseConnection) -> bool:
        state = self.ws.state
        if state is ConnectionState.CLOSED:
            self.peer_close_code = event.code
            return False
        if state is ConnectionState.REMOTE_CLOSING:
            self.peer_close_code = event.code
            log.debug("websocket %s: the client closed (%s)", self.name, event.code)
            self.close(event.code, event.reason or "", flush=False)
            return True
        # NOTE: wsproto reports a frame it cannot parse as a CloseConnection while the state is still
        # OPEN (1002 protocol error, 1007 invalid UTF-8): fail the connection with that code.
        log.info("websocket %s: protocol error %s (%s); closing", self.name, event.code, event.reason)
        self._failed = True
        self.close(event.code, event.reason or "", flush=True)  # replies to earlier messages go first
        return True

    def _on_message_part(self, event: Message) -> None:
        text = isinstance(event, TextMessage)
        chunk = event.data.encode("utf-8") if text else bytes(event.data)
        if event.message_finished and not self._parts and self.close_code is None:
            if len(chunk) <= self.limits.max_message_bytes:
                self.on_message(chunk, text)  # the usual case: a whole message in one frame
                return
        self._message_bytes += len(chunk)
        if self.close_code is None:
            limit = self.limits.max_message_bytes
            if self._message_bytes > limit:
                log.info("websocket %s: a message passed %d bytes; closing with 1009", self.name, limit)
                self._parts.clear()
                self.close(MESSAGE_TOO_BIG, f"message too big ({limit} bytes max)")
            else:
                self._parts.append(chunk)
        if event.message_finished:
            raw = b"".join(self._parts)
            self._parts.clear()
            self._message_bytes = 0
            if self.close_code is None:
                self.on_message(raw, text)


def _plain(value: Any) -> Any:
    """``value`` when JSON can carry it as is, else its text."""
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)

