"""The TCP line server (PROTOCOL §4): a ``gevent.server.StreamServer``, a greenlet per client.

A client's reader splits lines, runs verbs, and runs each action in the greenlet that read it:
when the action yields (I/O, sleep), a new greenlet takes over reading, so up to
``general.simultaneous_actions`` actions run at once and reply in completion order. Replies are
written once per turn of the event loop (see :mod:`hero.servers.loopio`), straight to the socket
when nothing is queued; what the socket cannot take is queued for a writer greenlet, and a client
that stops reading is closed (``socket.max_queued_messages`` queued, or one write blocked for
``socket.write_timeout``) without slowing anyone else.

    $ telnet localhost 5000
    {"welcome":"Welcome to the hero api","context":"api"}
    randomNumber
    {"randomNumber":0.42,"stringRandomNumber":"Your random number is 0.42","context":"response","messageId":1}
"""
from __future__ import annotations

import logging
import socket
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import gevent
from gevent import ssl as gevent_ssl
from gevent.event import Event
from gevent.pool import Group, Pool
from gevent.server import StreamServer

from hero.errors import BootError, HeroError, error_message
from hero.runtime.json import JSONError, dumps, loads
from hero.servers.base import Server
from hero.servers.loopio import InlineReading, wait_readable
from hero.servers.verbs import ALL_VERBS, QUIT_VERBS, run_verb

if TYPE_CHECKING:
    from hero.config import Namespace
    from hero.container import Api
    from hero.core.connection import Connection

log = logging.getLogger(__name__)

#: A line ends at ``\r\n``, ``\n`` or a lone ``\r`` (what ``bytes.splitlines`` splits at).
LINE_ENDINGS = (b"\n", b"\r")
#: What telnet sends for Ctrl-C (IAC IP IAC DO TIMING-MARK) and Ctrl-D (EOT): both close.
CLOSE_SEQUENCES = (b"\xff\xf4\xff\xfd\x06", b"\x04")
_VERB_NAMES = frozenset(ALL_VERBS)
GOODBYE = {"status": "Bye!", "context": "api"}
#: Seconds to read and discard input after a refusal, so the kernel does not answer with RST
#: (which would destroy the error line before the client reads it).
DRAIN_SECONDS = 1.0
#: Seconds a TLS client gets to finish its handshake.
HANDSHAKE_SECONDS = 10.0


class SocketServer(Server):
    """PROTOCOL §4 on ``socket.bind``:``socket.port`` (0: a free port), TLS when ``socket.tls`` is set."""

    type = "socket"
    verbs = ALL_VERBS
    can_chat = True

    def __init__(self, api: Api, config: Namespace) -> None:
        super().__init__(api, config)
        self.clients: set[SocketClient] = set()
        self._server: StreamServer | None = None
        self._ssl_context: Any = None

    @property
    def tls(self) -> Any:
        """The TLS context when ``socket.tls`` is set (None: plain TCP)."""
        return self._ssl_context

    @property
    def scheme(self) -> str:
        return "tls" if self._ssl_context else "tcp"

    def start(self) -> None:
        tls = self.config.tls
        if tls:
            try:
                context = gevent_ssl.SSLContext(gevent_ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(tls["cert"], tls["key"])
            except (OSError, KeyError, gevent_ssl.SSLError) as error:
                raise BootError(f"socket.tls: cannot load the certificate and key: {error}") from None
            self._ssl_context = context
        bind, port = self.config.bind, self.config.port
        try:
            listener: Any = _shared_listener(bind, port) if self.config.reuse_port else (bind, port)
            server = StreamServer(listener, self._handle, spawn=Pool(self.config.max_connections))
            server.start()
        except OSError as error:
            raise BootError(f"socket server: address {bind}:{port} cannot be used: {error.strerror or error}") from None
        self._server = server

    def stop(self, timeout: float) -> None:
        """Stop accepting; each client finishes its in-flight actions, gets the goodbye, and is closed."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for client in list(self.clients):
            client.stop_reading(timeout)
        server.stop(timeout=timeout)

    def _handle(self, sock: socket.socket, address: Any) -> None:
        if self._ssl_context is not None:
            sock.settimeout(HANDSHAKE_SECONDS)
            try:
                sock = self._ssl_context.wrap_socket(sock, server_side=True)
            except (OSError, gevent_ssl.SSLError) as error:
                log.info("socket: TLS handshake with %s failed: %s", address[0], error)
                sock.close()
                return
        client = SocketClient(self, sock, address)
        self.clients.add(client)
        try:
            client.run()
        finally:
            self.clients.discard(client)


class SocketClient(InlineReading):
    """One TCP client: its framing, its in-flight actions, and its outbound bytes."""

    def __init__(self, server: SocketServer, sock: socket.socket, address: Any) -> None:
        self.server = server
        self.api = server.api
        self.sock = sock
        self.address = address
        config = server.config
        self.max_line = config.max_line_bytes
        self.write_timeout = config.write_timeout
        self.idle_timeout = config.idle_timeout
        self.limit = self.api.config.general.simultaneous_actions
        #: Encoded messages waiting for this turn's flush.
        self.outbox: list[bytes] = []
        #: Encoded messages the socket could not take yet, oldest first (the writer's work).
        self.pending: deque[bytes] = deque()
        self.max_pending = config.max_queued_messages
        #: Plain TCP sends directly when nothing is queued; TLS always goes through the writer.
        self.direct = server.tls is None
        self._wake = Event()
        self._writing = False
        self._closing = False
        self.connection: Connection | None = None
        self.closed = False
        self.stopping = False
        #: When a stopping server gives up on in-flight actions (monotonic seconds).
        self.stop_deadline: float | None = None
        #: Bytes after the last line end, and complete lines not dispatched yet.
        self.buffer = b""
        self.lines: deque[bytes] = deque()
        #: Greenlets that took over reading (each may still be running the action it started).
        self.readers = Group()
        self._reader: Any = None
        self._writer: gevent.Greenlet | None = None
        self._in_flight = 0
        #: Set when the last in-flight action ends, while :meth:`_finish` waits for it.
        self._idle: Event | None = None
        self._done = Event()

    def __repr__(self) -> str:
        return f"SocketClient({self.address[0]}:{self.address[1]}, closed={self.closed})"

    # --- the lifecycle --------------------------------------------------------------------------

    def run(self) -> None:
        """The pool's greenlet for this client: the first reader; it returns once the client is finished."""
        _tune(self.sock, self.server.config)
        try:
            self.connection = self.server.build_connection(
                remote_ip=self.address[0], remote_port=self.address[1], send=self.push)
        except Exception as error:  # a connection middleware refused it
            log.info("socket: connection from %s refused: %s", self.address[0], error_message(error))
            self.sock.close()
            return
        self._writer = gevent.spawn(self._write_loop)
        self.push({"welcome": self.api.config.general.welcome_message, "context": "api"})
        self._reader_loop()
        # NOTE: stay until the client is finished even when another greenlet took over reading:
        # the server's pool (max_connections, graceful stop) counts this greenlet.
        self._done.wait()

    def _reader_loop(self) -> None:
        """Be the reader until the client ends (then finish it) or until a running action blocks
        and a new reader takes over (see :meth:`_start_action`)."""
        self._reader = gevent.getcurrent()
        ending = "gone"
        try:
            ending = self._read()
        except Exception:
            log.exception("socket: the reader of %s failed", self.connection.id if self.connection else "?")
        if ending != "handed off":
            self._finish(ending)

    def _finish(self, ending: str) -> None:
        assert self.connection is not None
        try:
            if ending in ("eof", "stopping") and not self.closed:
                # NOTE: a half-closed client (`printf 'status\n' | nc`) and a stopping server still
                # get the replies of actions already running.
                wait = self.api.config.general.shutdown_timeout
                if self.stop_deadline is not None:
                    wait = max(0.0, self.stop_deadline - time.monotonic())
                if self._in_flight:
                    self._idle = Event()
                    self._idle.wait(timeout=wait)
            if ending in ("quit", "stopping"):
                self.push(GOODBYE)
            self.flush()
            self.server.destroy_connection(self.connection)
            self._closing = True
            self._wake.set()
            if self._writer is not None:
                if not self.closed:
                    self._writer.join(timeout=self.write_timeout + 1)
                self._writer.kill(block=False)
            self.closed = True
            self._shutdown_and_drain()
            if self.stopping:
                current = gevent.getcurrent()
                for reader in list(self.readers):
                    if reader is not current:
                        reader.kill(block=False)
        finally:
            self._done.set()

    def stop_reading(self, timeout: float) -> None:
        """The server is stopping: wake the reader with EOF; in-flight actions may answer for a while."""
        self.stopping = True
        # NOTE: leave a margin for the goodbye before the server kills what is left.
        self.stop_deadline = time.monotonic() + timeout * 0.8
        try:
            self.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def abort(self, reason: str) -> None:
        """Give up on a client that cannot keep up or has gone; nothing more is sent."""
        if self.closed:
            return
        log.info("socket: closing %s: %s", self.connection.id if self.connection else self.address[0], reason)
        self.closed = True
        self._wake.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- reading --------------------------------------------------------------------------------

    def _read(self) -> str:
        """Dispatch buffered lines, reading more as needed, until the client goes; returns why it ended."""
        while not self.closed:
            while self.lines:
                line = self.lines.popleft()
                if len(self.pending) * 2 >= self.max_pending:
                    self._wait_for_writer()
                if len(line) > self.max_line:
                    return self._too_big()
                outcome = self._handle_line(line)
                if outcome is not None:
                    return outcome
                if self.closed:
                    return "gone"
            if self.buffer.endswith(CLOSE_SEQUENCES):
                return "quit"
            if len(self.buffer) > self.max_line:
                return self._too_big()
            try:
                if self.direct:
                    wait_readable(self.sock)
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return "idle"
            except OSError:
                # NOTE: gevent wakes a reader blocked in recv() with EBADF when stop_reading() shuts
                # the read side down from another greenlet.
                return "stopping" if self.stopping else "gone"
            if not chunk:
                return "stopping" if self.stopping else "eof"
            data = self.buffer + chunk if self.buffer else chunk
            lines = data.splitlines()
            self.buffer = b"" if data.endswith(LINE_ENDINGS) else lines.pop()
            self.lines.extend(lines)
        return "gone"

    def _wait_for_writer(self) -> None:
        """Stop reading while the client is behind on replies (backpressure), up to ``write_timeout``."""
        deadline = time.monotonic() + self.write_timeout
        while not self.closed and len(self.pending) * 2 >= self.max_pending:
            if time.monotonic() > deadline:
                self.abort(f"it did not read its replies for {self.write_timeout}s")
                return
            gevent.sleep(0.005)

    def _too_big(self) -> str:
        self.push({"status": "error", "error": f"data length is too big ({self.max_line} bytes max)",
                   "context": "response"})
        return "too big"

    def _handle_line(self, raw: bytes) -> str | None:
        assert self.connection is not None
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            self._verb_error("the line is not valid UTF-8", self._message_id(None))
            return None
        if not text:
            return None
        word, _, rest = text.partition(" ")
        if word in _VERB_NAMES:
            return self._run_verb(word, rest.strip())
        if text.startswith("{"):
            return self._run_json(text)
        sticky = self.connection.params
        return self._start_action({**sticky, "action": word}, self._message_id(sticky.get("messageId")))

    def _message_id(self, given: Any) -> Any:
        assert self.connection is not None
        return given if given not in (None, "") else self.connection.next_message_id()

    def _run_verb(self, verb: str, rest: str) -> str | None:
        assert self.connection is not None
        message_id = self._message_id(self.connection.params.get("messageId"))
        if verb in QUIT_VERBS:
            return "quit"
        if verb == "say":
            room, _, words = rest.partition(" ")
            args: list[Any] = [room, words.strip()]
        else:
            args = rest.split(" ") if rest else []
        try:
            data = run_verb(self.api, self.connection, verb, args, allowed=self.server.verbs)
        except Exception as error:
            if not isinstance(error, HeroError):
                log.warning("socket: verb %s failed: %s", verb, error_message(error))
            self._verb_error(error_message(error), message_id)
            return None
        self.push({"status": "OK", "context": "response", "data": data, "messageId": message_id})
        return None

    def _verb_error(self, text: str, message_id: Any) -> None:
        self.push({"status": "error", "error": text, "context": "response", "messageId": message_id})

    def _run_json(self, text: str) -> str | None:
        try:
            message = loads(text)
        except JSONError as error:
            self._verb_error(str(error), self._message_id(None))
            return None
        params = message.get("params", {}) if isinstance(message, dict) else None
        if not isinstance(params, dict):
            self._verb_error("a JSON line must be an object with an object `params`", self._message_id(None))
            return None
        params = dict(params)
        if "action" in message:
            params["action"] = message["action"]
        return self._start_action(params, self._message_id(message.get("messageId", params.get("messageId"))))

    def _start_action(self, params: dict[str, Any], message_id: Any) -> str | None:
        """Run an action in this greenlet; if it blocks, a new reader takes over the connection."""
        # NOTE: running inline, and handing reading off only when the action yields, saves a trip
        # through the hub per line (about half the latency of a fast action, measured); slow
        # actions still run concurrently, up to ``simultaneous_actions``.
        assert self.connection is not None
        if self.connection.pending_actions >= self.limit:
            # NOTE: the processor refuses it at once (too many pending), without yielding.
            self._run_action(params, message_id)
            return None
        me = self.enter_inline()
        self._in_flight += 1
        try:
            self._run_action(params, message_id)
        finally:
            self._in_flight -= 1
            self.leave_inline(me)
            if not self._in_flight and self._idle is not None:
                self._idle.set()
        return None if self._reader is me else "handed off"

    def spawn_reader(self) -> Any:
        return self.readers.spawn(self._reader_loop)

    def reading_goes_on(self) -> bool:
        return not (self.closed or self._closing)

    def _run_action(self, params: dict[str, Any], message_id: Any) -> None:
        assert self.connection is not None
        data = self.server.process(self.connection, params, message_id=message_id)
        reply = dict(data.response)
        reply["context"] = "response"
        reply["messageId"] = message_id
        self.push(reply)

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
                self._writing = True
                timer = gevent.Timeout(self.write_timeout)
                timer.start()
                try:
                    self.sock.sendall(b"".join(chunks))
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


def _shared_listener(bind: str, port: int) -> socket.socket:
    """A listening socket other processes may bind too (SO_REUSEPORT: the kernel spreads clients)."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((bind, port))
        listener.listen(1024)
    except OSError:
        listener.close()
        raise
    return listener


def _tune(sock: socket.socket, config: Namespace) -> None:
    """No Nagle delay on replies; keepalive and a bound on unacknowledged data reap peers that
    vanished without closing; idle clients time out."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        # NOTE: a setting of None (or 0) leaves the kernel's default.
        for option, value in (("TCP_KEEPIDLE", config.keepalive_idle), ("TCP_KEEPINTVL", config.keepalive_interval),
                              ("TCP_KEEPCNT", config.keepalive_count)):
            if value and hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), max(1, int(value)))
        if config.unacked_timeout and hasattr(socket, "TCP_USER_TIMEOUT"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(config.unacked_timeout * 1000))
    except OSError:
        pass
    # NOTE: no socket timeout unless idle clients are to be closed: writes are bounded by a
    # timer in the writer, and a timeout on the socket would cost a timer on every read.
    sock.settimeout(config.idle_timeout or None)
