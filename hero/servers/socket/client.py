"""One TCP client (docs/tcp.md): its lines, its verbs, and its in-flight actions.

A client's reader splits lines, runs verbs, and runs each action in the greenlet that read it:
when the action yields (I/O, sleep), a new greenlet takes over reading, so up to
``general.simultaneous_actions`` actions run at once and reply in completion order. Replies go out
through :class:`~hero.servers.socket.writer.LineWriter`.
"""
from __future__ import annotations

import logging
import socket
import time
from collections import deque
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group

from hero.errors import HeroError, error_message
from hero.runtime.json import JSONError, loads
from hero.servers.base import Server
from hero.servers.loopio import InlineReading, wait_readable
from hero.servers.socket.writer import LineWriter
from hero.servers.verbs import ALL_VERBS, QUIT_VERBS, run_verb

log = logging.getLogger(__name__)

#: A line ends at ``\r\n``, ``\n`` or a lone ``\r`` (what ``bytes.splitlines`` splits at).
LINE_ENDINGS = (b"\n", b"\r")
#: What telnet sends for Ctrl-C (IAC IP IAC DO TIMING-MARK) and Ctrl-D (EOT): both close.
CLOSE_SEQUENCES = (b"\xff\xf4\xff\xfd\x06", b"\x04")
_VERB_NAMES = frozenset(ALL_VERBS)
GOODBYE = {"status": "Bye!", "context": "api"}


class SocketClient(LineWriter, InlineReading):
    """One TCP client: its framing, its in-flight actions, and (through :class:`LineWriter`) its replies."""

    def __init__(self, server: Server, sock: socket.socket, address: Any, *, direct: bool) -> None:
        # NOTE: typed by the base class (the listener module imports this one); ``direct`` is
        # False under TLS, where every write goes through the writer greenlet.
        super().__init__(sock, address, server.config, direct=direct)
        self.server = server
        self.api = server.api
        config = server.config
        self.max_line = config.max_line_bytes
        self.idle_timeout = config.idle_timeout
        self.limit = self.api.config.general.simultaneous_actions
        #: seed 000's ``defaultSocketRoom``: joined on connect, where a room-less ``say`` speaks.
        self.default_room: str | None = config.default_room or None
        self.max_json_depth: int = self.api.config.general.max_json_depth
        self.stopping = False
        #: When a stopping server gives up on in-flight actions (monotonic seconds).
        self.stop_deadline: float | None = None
        #: Bytes after the last line end, and complete lines not dispatched yet.
        self.buffer = b""
        self.lines: deque[bytes] = deque()
        #: Greenlets that took over reading (each may still be running the action it started).
        self.readers = Group()
        self._reader: Any = None
        self._in_flight = 0
        #: Set when the last in-flight action ends, while :meth:`_finish` waits for it.
        self._idle: Event | None = None
        self._done = Event()
        self._finishing = False

    # --- the lifecycle --------------------------------------------------------------------------

    def run(self) -> None:
        """The pool's greenlet for this client: the first reader; it returns once the client is finished."""
        try:
            self.connection = self.server.build_connection(
                remote_ip=self.address[0], remote_port=self.address[1], send=self.push)
        except Exception as error:  # a connection middleware refused it
            log.info("socket: connection from %s refused: %s", self.address[0], error_message(error))
            self.sock.close()
            return
        self._writer = gevent.spawn(self._write_loop)
        self.push({"welcome": self.api.config.general.welcome_message, "context": "api"})
        if self.default_room:
            self._join_default_room()
        self._reader_loop()
        # NOTE: stay until the client is finished even when another greenlet took over reading:
        # the server's pool (max_connections, graceful stop) counts this greenlet.
        self._done.wait()

    def _join_default_room(self) -> None:
        assert self.connection is not None and self.default_room is not None
        try:
            self.api.chat.add_member(self.connection.id, self.default_room)
        except Exception as error:  # chat middleware refused, or Redis is away: the client still connects
            log.warning("socket: %s could not join the default room %s: %s", self.connection.id,
                        self.default_room, error_message(error))

    def _say_args(self, rest: str) -> list[Any]:
        """``say room words...``; with ``socket.default_room``, ``say words...`` (seed 000) speaks in it
        when the first word is not a room this connection is in."""
        assert self.connection is not None
        room, _, words = rest.partition(" ")
        words = words.strip()
        default = self.default_room
        if default and default in self.connection.rooms and (room not in self.connection.rooms or not words):
            return [default, rest]
        return [room, words]

    def _reader_loop(self) -> None:
        """Be the reader until the client ends (then finish it) or until a running action blocks
        and a new reader takes over (see :meth:`_start_action`)."""
        self._reader = gevent.getcurrent()
        ending = "gone"
        try:
            ending = self._read()
        except Exception:
            log.exception("socket: the reader of %s failed", self.connection.id if self.connection else "?")
        except BaseException as error:
            # NOTE: an outer gevent.Timeout, a kill: the client is finished all the same (below);
            # only the process's own exit goes on up.
            if not isinstance(error, gevent.GreenletExit):
                log.error("socket: the reader of %s ended by %r", self.connection.id if self.connection else "?", error)
            if isinstance(error, (SystemExit, KeyboardInterrupt)):
                raise
        finally:
            if ending != "handed off":
                self._finish(ending)

    def _finish(self, ending: str) -> None:
        assert self.connection is not None
        if self._finishing:
            return  # NOTE: a reader killed by a finishing one
        self._finishing = True
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


    # --- reading --------------------------------------------------------------------------------

    def _read(self) -> str:
        """Dispatch buffered lines, reading more as needed, until the client goes; returns why it ended."""
        while not self.closed:
            while self.lines:
                line = self.lines.popleft()
                if len(self.pending) * 2 >= self.max_pending or self.held * 2 >= self.max_bytes:
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
        self.flush()  # NOTE: this turn's replies go to the kernel or the writer now, not at the turn's end
        deadline = time.monotonic() + self.write_timeout
        while not self.closed and (len(self.pending) * 2 >= self.max_pending or self.held * 2 >= self.max_bytes):
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
            args: list[Any] = self._say_args(rest)
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
            message = loads(text, max_depth=self.max_json_depth)
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
        # NOTE: as actionhero: the line's own messageId, else its params', else the sticky one
        # (actionhero-node-client sends `paramAdd messageId=<id>` before each line).
        given = message.get("messageId", params.get("messageId"))
        if given in (None, ""):
            given = self.connection.params.get("messageId") if self.connection is not None else None
        return self._start_action(params, self._message_id(given))

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
        if not data.to_render:
            return  # NOTE: actionhero's toRender = false: the action sent what it wanted to
        if data.stream is not None:
            # docs/tcp.md, Streaming: a line per chunk, then the ``streamEnd`` reply
            # NOTE: lazy: an idle server never streams; its first streaming action loads this (issue 17: idle memory)
            from hero.servers.streaming import push_stream

            final = push_stream(data.stream, message_id, self.push, alive=self.reading_goes_on,
                                backlogged=lambda: len(self.pending) * 2 >= self.max_pending,
                                tick=self.api.config.general.stream_keepalive_interval,
                                expose_errors=self.api.processor.expose_errors)
            if final is not None:
                self.push(dict(final))
            return
        reply = dict(data.response)
        reply["context"] = "response"
        reply["messageId"] = message_id
        self.push(reply)

