"""The outbound side of one TCP client: its replies, written once per turn of the event loop.

Replies are written at the end of the loop's turn (see :mod:`hero.servers.loopio`), straight to the
socket when nothing is queued; what the socket cannot take is queued for a writer greenlet, and a
client that stops reading is closed (``socket.max_queued_messages`` or ``socket.max_queued_bytes``
queued, or one write blocked for ``socket.write_timeout``: docs/limits.md) without slowing anyone else.
"""
from __future__ import annotations

import logging
import socket
import time
from collections import deque
from typing import Any

import gevent
from gevent.event import Event

from hero.config import Namespace
from hero.core.connection import Connection
from hero.runtime.json import dumps
from hero.servers.loopio import DueAtTurnEnd

log = logging.getLogger(__name__)

#: Seconds to read and discard input after a refusal, so the kernel does not answer with RST
#: (which would destroy the error line before the client reads it).
DRAIN_SECONDS = 1.0


class LineWriter(DueAtTurnEnd):
    """One TCP client's outbound bytes: this turn's messages, the writer's queue, and the close."""

    def __init__(self, sock: socket.socket, address: Any, config: Namespace, *, direct: bool) -> None:
        self.sock = sock
        self.address = address
        self.write_timeout: float = config.write_timeout
        #: Encoded messages waiting for this turn's flush.
        self.outbox: list[bytes] = []
        #: Encoded messages the socket could not take yet, oldest first (the writer's work).
        self.pending: deque[bytes] = deque()
        self.max_pending: int = config.max_queued_messages
        #: Bytes in ``outbox`` and ``pending``, counted as each message is queued.
        self.held = 0
        self.max_bytes: int = config.max_queued_bytes
        #: Plain TCP sends directly when nothing is queued; TLS always goes through the writer.
        self.direct = direct
        self._wake = Event()
        self._writing = False
        self._closing = False
        self.connection: Connection | None = None
        self.closed = False
        self._writer: gevent.Greenlet | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address[0]}:{self.address[1]}, closed={self.closed})"

    def abort(self, reason: str) -> None:
        """Give up on a client that cannot keep up or has gone; nothing more is sent."""
        if self.closed:
            return
        log.info("socket: closing %s: %s", self.connection.id if self.connection else self.address[0], reason)
        self.closed = True
        self.outbox.clear()
        self.pending.clear()
        self.held = 0
        self._wake.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- writing --------------------------------------------------------------------------------

    def push(self, message: dict[str, Any]) -> None:
        """Send one message to the client (the connection's ``send``); never blocks.

        It goes out with the others of this turn of the event loop (:meth:`end_turn`).
        """
        if self.closed:
            return
        try:
            encoded = dumps(message) + b"\r\n"
        except TypeError as error:
            log.error("socket: a reply could not be encoded: %s", error)
            encoded = dumps({"error": f"the response could not be encoded: {error}", "context": "response",
                             "messageId": message.get("messageId")}) + b"\r\n"
        self.outbox.append(encoded)
        # NOTE: counted now, not at the end of the turn: a reader that never yields (verbs, fast
        # actions) may queue thousands of replies in one turn. One reply alone may exceed the cap.
        self.held += len(encoded)
        if self.held > self.max_bytes and self.held > len(encoded):
            self.abort(f"it is not reading ({self.held} bytes queued)")
            return
        if self.connection is not None:
            self.connection.message_count += 1
        self.due_at_turn_end()

    def flush(self) -> None:
        """Write this turn's messages: straight to the socket when nothing is queued, else (and
        what the socket cannot take now) to the writer, up to ``socket.max_queued_messages``."""
        outbox = self.outbox
        if not outbox or self.closed:
            outbox.clear()
            return
        if self.direct and not self.pending and not self._writing:
            encoded = outbox[0] if len(outbox) == 1 else b"".join(outbox)
            outbox.clear()
            try:
                # NOTE: timeout 0.0 makes gevent's send fail instead of waiting: this runs in the
                # hub (end_turn) and must never block on one slow client.
                sent = self.sock.send(encoded, 0, 0.0)  # type: ignore[call-arg]
            except BlockingIOError:
                sent = 0
            except OSError as error:
                self.abort(f"it went away ({error.strerror or error})")
                return
            self.held -= sent
            if sent == len(encoded):
                return
            outbox.append(encoded[sent:])
        if len(self.pending) + len(outbox) > self.max_pending:
            self.abort(f"it is not reading ({len(self.pending)} messages queued)")
            outbox.clear()
            return
        self.pending.extend(outbox)
        outbox.clear()
        self._wake.set()

    def _write_loop(self) -> None:
        """Send what the socket could not take at once; bounded by ``socket.write_timeout`` per write."""
        while not self.closed:
            self._wake.wait()
            self._wake.clear()
            while self.pending and not self.closed:
                chunks = [self.pending.popleft() for _ in range(min(64, len(self.pending)))]
                data = b"".join(chunks)
                self._writing = True
                timer = gevent.Timeout(self.write_timeout)
                timer.start()
                try:
                    self.sock.sendall(data)
                    self.held = max(0, self.held - len(data))
                except gevent.Timeout as expired:
                    if expired is not timer:
                        raise
                    self.abort(f"a write blocked for {self.write_timeout}s")
                except OSError as error:
                    self.abort(f"it went away ({error.strerror or error})")
                finally:
                    timer.close()
                    self._writing = False
            if self._closing:
                return

    def _shutdown_and_drain(self) -> None:
        sock = self.sock
        try:
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + DRAIN_SECONDS
            sock.settimeout(0.1)
            while time.monotonic() < deadline:
                try:
                    if not sock.recv(65536):
                        break
                except socket.timeout:
                    continue
        except OSError:
            pass
        finally:
            sock.close()

