"""One upgraded WebSocket: wsproto frames on the pywsgi socket, read within limits (docs/websocket.md).

The reader (the pywsgi handler's own greenlet) feeds bytes to wsproto, sums partial messages
(closing with 1009 over ``websocket.max_message_bytes``: docs/limits.md) and hands each whole
message to ``on_message``, in-line: when what it runs waits, a new greenlet reads on. What goes
out (replies, pongs, pings, the close frame) is :class:`~hero.servers.websocket.frames.FrameWriter`'s.
"""
from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent import getcurrent
from gevent.event import Event
from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection, Message, Ping, Pong, TextMessage

from hero.servers.loopio import TURN_END, InlineReading, os_socket
from hero.servers.websocket.fastframes import read_simple_frame
from hero.servers.websocket.frames import FrameWriter
from hero.servers.websocket.protocol import ABNORMAL, MESSAGE_TOO_BIG, TRY_AGAIN_LATER, Limits

log = logging.getLogger(__name__)

_OPEN = ConnectionState.OPEN

#: Bytes asked of the socket per read.
RECV_BYTES = 65_536
#: Returned by a reader whose socket another greenlet now reads.
HANDED_OFF = object()


class WebSocketSession(FrameWriter, InlineReading):
    """The I/O of one WebSocket client; what its messages mean is ``on_message``'s business."""

    def __init__(self, sock: socket.socket, limits: Limits, *, leftover: bytes = b"", name: str = "") -> None:
        super().__init__(sock, limits, name=name)
        #: Called in the reader with each whole message: its bytes (text UTF-8 encoded) and
        #: whether it came as text.
        self.on_message: Callable[[bytes, bool], None] = lambda raw, text: None
        self._leftover = leftover
        self._parts: list[bytes] = []
        self._message_bytes = 0
        #: The code the client closed with, when it did.
        self.peer_close_code: int | None = None
        self.finished = Event()
        #: The greenlet reading the socket now (another takes over while an action waits).
        self._reader: Any = None

    def backlogged(self) -> bool:
        """Half the queue limit waits for the client: a stream's next chunk should wait too."""
        limits = self.limits
        return len(self._queue) * 2 >= limits.max_queued_messages or self._queued_bytes * 2 >= limits.max_queued_bytes

    def spawn_reader(self) -> Any:
        return gevent.spawn_raw(self._reader_main, False)

    def reading_goes_on(self) -> bool:
        return not self.finished.is_set()

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
        me = getcurrent()
        if self._reader is not me:
            gevent.spawn_raw(function, *args)
            return
        # NOTE: enter_inline() and leave_inline(), written out (once per message)
        self._acting = me
        if not self._due:
            self._due = True
            TURN_END.add(self)
        try:
            function(*args)
        finally:
            if self._acting is me:
                self._acting = None

    def _reader_main(self, first: bool) -> None:
        me = gevent.getcurrent()
        outcome: Any = None
        try:
            outcome = self._read_loop(me, first)
        except Exception:
            log.exception("websocket %s: the reader failed", self.name)
        except BaseException as error:
            # NOTE: an outer gevent.Timeout, a kill: the session ends all the same; only the
            # process's own exit goes on up, after the session is ended.
            if not isinstance(error, gevent.GreenletExit):
                log.error("websocket %s: the reader ended by %r", self.name, error)
            if isinstance(error, (SystemExit, KeyboardInterrupt)):
                self._end()
                raise
        if outcome is HANDED_OFF:
            return
        self._end()

    def _end(self) -> None:
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
        sock = self.sock
        fast = self._internals
        ws: Any = fast.ws if fast is not None else None
        frames: Any = fast.frames if fast is not None else None
        messages: Any = fast.messages if fast is not None else None
        held: Any = fast.pending if fast is not None else None  # what wsproto's frame decoder holds
        # NOTE: waits on gevent's watcher, then one recv system call on the OS socket (see
        # hero.servers.loopio.os_socket); TLS goes through the SSL socket's own recv.
        raw = os_socket(sock)
        # NOTE: hero.servers.loopio.wait_readable, written out (once per message)
        wait: Any = getattr(sock, "_wait", None)
        readable: Any = getattr(sock, "_read_event", None)
        while True:
            if pending:
                data, pending = pending, b""
            elif raw is not None:
                try:
                    wait(readable)
                    data = raw.recv(RECV_BYTES)
                except BlockingIOError:
                    continue  # woken with nothing to read after all: wait again
                except OSError:
                    return None
            else:
                try:
                    data = sock.recv(RECV_BYTES)
                except OSError:
                    return None
            if not data:
                return None
            if self._failed:
                continue  # NOTE: drained so the close frame is not lost to a RST (see FrameWriter._send_close)
            # NOTE: the decoder is clean (checked here, once per message; tests spell it out):
            # OPEN, at a frame boundary, no fragmented message open, nothing summed here either.
            if ws is not None and ws._state is _OPEN and frames.header is None and not held \
                    and messages.opcode is None and not self._parts:
                outcome = self._fast_message(me, data)
                if outcome is not None:
                    if outcome is not True:
                        return outcome
                    continue
            self.ws.receive_data(data)
            outcome = self._handle_events(me)
            if outcome is not True:
                return outcome

    def _fast_message(self, me: Any, data: bytes) -> Any:
        """Act on a simple whole-message frame at the start of ``data`` without wsproto
        (hero.servers.websocket.fastframes): None when there is none, else what :meth:`_handle_events`
        returns.

        The bytes after it go to wsproto first, so a reader that takes over while this message's
        action runs finds them there, as it would on the wsproto path."""
        frame = read_simple_frame(data, self.limits.max_message_bytes)
        if frame is None:
            return None
        payload, text, end = frame
        rest = end < len(data)
        if rest:
            self.ws.receive_data(data[end:])
        if self.close_code is None:
            self.on_message(payload, text)
        if self._reader is not me:
            return HANDED_OFF
        if (self._queue or self._unsent or self._sending_bytes) and self.behind():
            self._wait_for_client()
        return self._handle_events(me) if rest else True

    def _handle_events(self, me: Any) -> Any:
        """Act on what wsproto parsed: True to read on, False once the closing handshake is
        complete, HANDED_OFF when another greenlet became the reader meanwhile."""
        for event in self.ws.events():
            if isinstance(event, Message):
                self._on_message_part(event)
                if self._reader is not me:
                    return HANDED_OFF
                if self.behind():
                    self._wait_for_client()
            elif isinstance(event, Ping):
                self._pending_pongs.append(bytes(event.payload))
                self._wake.set()
            elif isinstance(event, Pong):
                if bytes(event.payload) == self._ping_payload:
                    self._pong_received.set()
            elif isinstance(event, CloseConnection):
                return self._on_close(event)
        return True

    def _wait_for_client(self) -> None:
        """Backpressure: act on no more messages while half a cap of replies waits (up to
        ``close_timeout``; then the client is closed with 1013 as too slow)."""
        self.flush()
        deadline = time.monotonic() + self.limits.close_timeout
        while self.close_code is None and self.behind():
            if time.monotonic() > deadline:
                log.warning("websocket %s: %d bytes wait for a client that does not read; closing",
                            self.name, self.held_bytes())
                self.close(TRY_AGAIN_LATER, "too many messages waiting; the client reads too slowly")
                return
            gevent.sleep(0.005)

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

    def _on_message_part(self, event: Message[Any]) -> None:
        # NOTE: Message[Any]: a TextMessage (str data) or a BytesMessage (bytes); ``text`` says which.
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

