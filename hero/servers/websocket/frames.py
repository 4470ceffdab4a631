"""The outbound side of one WebSocket: wsproto frames, the end-of-turn outbox, the writer and the pinger.

* When nothing waits, a frame goes to the kernel without waiting, with the others of this turn of
  the event loop (see :mod:`hero.servers.loopio`); the writer greenlet only sends what the kernel
  did not take.
* Otherwise one writer sends whatever waits, so frames never interleave: control frames (pong,
  ping) go before queued data, and the close frame goes last.
* A pinger sends a ping every ``ping_interval`` seconds and closes with 1011 when no pong arrives in
  ``ping_timeout`` seconds.

Replies and chat pushes go through :meth:`FrameWriter.push`, which never blocks: a client that does
not read fills its bounded queue and is closed with 1013, without slowing the sender. The limits and
close codes a client gets: docs/websocket.md and docs/limits.md.
"""
from __future__ import annotations

import logging
import socket
import ssl
import struct
from collections import deque
from collections.abc import Mapping
from typing import Any

import gevent
import orjson
from gevent import ssl as gevent_ssl
from gevent.event import Event
from wsproto.connection import Connection as FrameConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event as FrameEvent, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError

from hero.runtime import json as jsonutil
from hero.servers.loopio import DueAtTurnEnd, os_socket
from hero.servers.websocket.fastframes import build_frame, internals
from hero.servers.websocket.protocol import INTERNAL_ERROR, TRY_AGAIN_LATER, Limits

log = logging.getLogger(__name__)

_OPEN = ConnectionState.OPEN
#: A frame header with a 16-bit length (fastframes.build_frame's).
_HEADER_16 = struct.Struct("!BBH").pack
#: hero.runtime.json.dumps's options.
_JSON_OPTION = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

#: This turn's frames are handed to the kernel at once when they hold more bytes than this.
FLUSH_EARLY_BYTES = 262_144
#: Pongs owed at most; older pings of a flood go unanswered.
MAX_PENDING_PONGS = 16

#: Codes that may be received but never sent in a close frame.
_UNSENDABLE = frozenset({1005, 1006, 1015})


class FrameWriter(DueAtTurnEnd):
    """What one WebSocket client is sent, and how the closing handshake ends."""

    def __init__(self, sock: socket.socket, limits: Limits, *, name: str = "") -> None:
        self.sock = sock
        self.limits = limits
        self.name = name
        #: wss:// (``web.tls``): frames go out from the writer greenlet, never from the hub (an SSL
        #: socket does not honour a zero send timeout).
        self._tls = isinstance(sock, (ssl.SSLSocket, gevent_ssl.SSLSocket))
        #: The OS socket under ``sock`` (None for TLS): a flush calls its ``send`` directly
        #: (hero.servers.loopio.os_socket).
        self._os_sock: Any = None if self._tls else os_socket(sock)
        #: The hero connection this socket serves (its ``message_count`` counts what is queued).
        self.connection: Any = None
        self.ws = FrameConnection(ConnectionType.SERVER)
        #: The wsproto objects the fast frame path checks per message (None: wsproto does it all).
        self._internals = internals(self.ws)
        #: Frames waiting for the writer: (payload, is text).
        self._queue: deque[tuple[bytes, bool]] = deque()
        self._queued_bytes = 0
        #: Frames encoded while nothing waited, for this turn's flush (they go before the queue).
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        #: This turn's frames go to the kernel at once past this many bytes (a quarter of the cap
        #: at most, so that they alone never hold half of it).
        self._flush_early = min(FLUSH_EARLY_BYTES, limits.max_queued_bytes // 4)
        #: Bytes the writer is sending now (taken from ``_unsent``).
        self._sending_bytes = 0
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
        #: Set after a frame-level protocol error: the rest of the input is drained, not parsed.
        self._failed = False
        self._aborted = False
        #: The code of the close frame this server sends (None while open; 1006 once the TCP
        #: connection ended without one).
        self.close_code: int | None = None
        self.close_reason = ""
        self._writer: gevent.Greenlet | None = None
        self._pinger: gevent.Greenlet | None = None
        self._abort_timer: gevent.Greenlet | None = None

    def __repr__(self) -> str:
        state = "open" if self.close_code is None else f"closing {self.close_code}"
        return f"<{type(self).__name__} {self.name} {state}>"

    # --- sending ---------------------------------------------------------------------------------

    def push(self, message: Mapping[str, Any]) -> bool:
        """Queue a JSON message for the client; never blocks. False when it was not queued."""
        if self.close_code is not None:
            return False
        try:
            try:
                # NOTE: jsonutil.dumps's first step, written out (once per message); it gets what
                # orjson refuses, and decides (integers past 64 bits go through the stdlib).
                payload = orjson.dumps(message, option=_JSON_OPTION)
            except TypeError:
                payload = jsonutil.dumps(message)
        except (TypeError, ValueError) as error:
            log.warning("websocket %s: a reply could not be encoded as JSON: %s", self.name, error)
            payload = jsonutil.dumps({"error": f"the reply could not be encoded as JSON: {error}",
                                      "context": message.get("context", "response"),
                                      "messageId": _plain(message.get("messageId"))})
        if self.connection is not None:
            self.connection.message_count += 1
        return self.send_frame(payload, text=True)

    def send_frame(self, payload: bytes, *, text: bool) -> bool:
        """Queue one message (text: UTF-8 bytes); closes with 1013 when the queue is full."""
        if self.close_code is not None:
            return False
        # NOTE: _idle() and _frame(), written out (once per message)
        fast = self._internals
        if not (self._writing or self._queue or self._unsent or self._pending_pongs or self._pending_ping) \
                and (fast.ws._state if fast is not None else self.ws.state) is _OPEN:
            size = len(payload)
            if fast is None or fast.proto._outbound_opcode is not None or size > 0xFFFF:
                frame = self._frame(payload, text)
            elif size < 126:
                frame = bytes((0x81 if text else 0x82, size)) + payload
            else:
                frame = _HEADER_16(0x81 if text else 0x82, 126, size) + payload
            self._outbox.append(frame)
            self._outbox_bytes += len(frame)
            if self._outbox_bytes > self._flush_early:
                # NOTE: a reader that never yields (many messages in one packet, or sent with the
                # handshake) would hold every reply until the turn ends: hand them to the kernel now,
                # and count what it does not take (the queue's cap then applies).
                self.flush()
            elif not self._due:
                self.due_at_turn_end()
            return True
        limits = self.limits
        if (self._queue or self._unsent) and (len(self._queue) >= limits.max_queued_messages
                                              or self.held_bytes() + len(payload) > limits.max_queued_bytes):
            log.warning("websocket %s: %d messages (%d bytes) wait for a client that does not read; closing",
                        self.name, len(self._queue), self.held_bytes())
            self.close(TRY_AGAIN_LATER, "too many messages waiting; the client reads too slowly")
            return False
        self._queue.append((payload, text))
        self._queued_bytes += len(payload)
        self._wake.set()
        return True

    def _frame(self, payload: bytes, text: bool) -> bytes:
        """One whole message as a frame: framed here when wsproto would write the same bytes
        (hero.servers.websocket.fastframes), else by wsproto. ``payload`` of a text is UTF-8 (JSON)."""
        # NOTE: OPEN and no outbound fragment pending (no extension: see fastframes.internals),
        # checked here once per message.
        fast = self._internals
        if fast is not None and fast.ws._state is _OPEN and fast.proto._outbound_opcode is None:
            return build_frame(payload, text)
        return self.ws.send(TextMessage(data=payload.decode("utf-8")) if text else BytesMessage(data=payload))

    def held_bytes(self) -> int:
        """Bytes waiting for this client: this turn's frames, the kernel's leftovers, the queue."""
        return self._outbox_bytes + len(self._unsent) + self._queued_bytes + self._sending_bytes

    def behind(self) -> bool:
        """Half a cap waits: the reader should let the client catch up before acting on more."""
        if not (self._queue or self._unsent or self._sending_bytes):
            return False  # NOTE: the usual case, cheaply: this turn's frames alone stay under a quarter
        limits = self.limits
        return (self.held_bytes() * 2 >= limits.max_queued_bytes
                or len(self._queue) * 2 >= limits.max_queued_messages)

    def _idle(self) -> bool:
        """Nothing waits to be sent and the writer is not sending: a frame may go out at once."""
        return not (self._writing or self._queue or self._unsent or self._pending_pongs or self._pending_ping)

    def flush(self) -> None:
        """Hand this turn's frames to the kernel without waiting; the writer sends what it did not take."""
        # NOTE: a fast path that saves a switch to the writer greenlet per message. The OS socket's
        # own send (gevent's with ``timeout=0.0`` where there is none) fails with EAGAIN instead of
        # waiting, so the flush (in the hub) is never held up by a slow client; what the kernel did
        # not take goes to the writer, which waits on gevent's watcher.
        if not self._outbox:
            return  # NOTE: the writer took them
        data = self._outbox[0] if len(self._outbox) == 1 else b"".join(self._outbox)
        self._outbox.clear()
        self._outbox_bytes = 0
        if self._writing or self._unsent or self._tls:
            self._unsent += data
            self._wake.set()
            return
        try:
            if self._os_sock is not None:
                sent = self._os_sock.send(data)
            else:
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
            self._outbox.clear()
            self._outbox_bytes = 0
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

    def _send(self, event: FrameEvent) -> None:
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
            self._outbox_bytes = 0
            self._sending_bytes = len(data)
            try:
                self.sock.sendall(data)
            finally:
                self._sending_bytes = 0
        elif self._pending_pongs:
            self._send(Pong(payload=self._pending_pongs.popleft()))
        elif self._pending_ping is not None:
            payload, self._pending_ping = self._pending_ping, None
            self._send(Ping(payload=payload))
        elif self._queue:
            payload, text = self._queue.popleft()
            self._queued_bytes -= len(payload)
            self.sock.sendall(self._frame(payload, text))
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


def _plain(value: Any) -> Any:
    """``value`` when JSON can carry it as is, else its text."""
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)

