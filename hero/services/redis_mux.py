"""Hot-path Redis commands of one process, pipelined on one shared connection.

redis-py costs ~60 µs of client CPU per command under gevent at 50 concurrent greenlets here (a pool
checkout, its retry wrapper, one ``send`` and one ``recv`` per command, each a hub switch); a pipeline
of five ~120 µs. hero's hot paths (cache save/load/destroy, status, chat say) each need a command or
a few. This multiplexer writes every command issued during one turn of the event loop in one
``send`` on one connection, and one reader greenlet parses every reply that arrived in one ``recv``
with hiredis and wakes the greenlets waiting for them, in order: ~3 µs per command at the same
concurrency, measured (docs/deployment.md, The hot paths share one connection).

Replies are RESP2 as hiredis gives them (no redis-py response callbacks): ``str`` (the store decodes
responses), ``int``, lists, ``None``. Redis's error replies raise the exception redis-py would
(``ResponseError`` and its kinds, via redis-py's own ``parse_error``), so the store's mapping of
refusals to 503 holds. When the connection fails, every waiting caller gets redis-py's
``ConnectionError``; when no reply comes within ``socket_timeout``, its ``TimeoutError``; both reach
the store's error hooks (metrics), and the next call reconnects. No command that keeps state on its
connection goes through here (WATCH, SUBSCRIBE, MULTI outside one call, blocking pops): those stay
on redis-py's clients.
"""
from __future__ import annotations

import logging
import os
import socket
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import gevent
import hiredis
import redis
from gevent.event import Event
from gevent.hub import get_hub
from greenlet import getcurrent
from redis._parsers.base import BaseParser

log = logging.getLogger(__name__)

Command = Sequence[Any]
#: How often the watchdog looks for a reply that is late.
WATCH_SECONDS = 0.1
RECV_BYTES = 65_536


class Commands(Protocol):
    """What a hot path needs: commands in, raw replies out, in one round trip."""

    def execute(self, commands: Sequence[Command]) -> list[Any]: ...

    def call(self, *command: Any) -> Any: ...


class ClientCommands:
    """:class:`Commands` over a redis-py client's pipeline (the embedded store, or multiplexing off):
    the same raw replies, since the pipeline's response callbacks are skipped."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def execute(self, commands: Sequence[Command]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        pipe.response_callbacks = {}  # type: ignore[assignment]  # NOTE: the raw RESP2 values, as RedisMux gives them
        for command in commands:
            pipe.execute_command(*command)
        return [_as_resp2(reply) for reply in pipe.execute()]

    def call(self, *command: Any) -> Any:
        return self.execute([command])[0]


def _as_resp2(reply: Any) -> Any:
    """A RESP3 map or set (redis-py may speak RESP3) as RESP2's flat list, as hiredis reads it here."""
    if isinstance(reply, dict):
        return [item for pair in reply.items() for item in pair]
    if isinstance(reply, (set, frozenset)):
        return list(reply)
    return reply


class _Waiter:
    """One caller's commands in flight: the replies it waits for, and where to deliver them."""

    __slots__ = ("greenlet", "expected", "replies", "deadline", "gone")

    def __init__(self, greenlet: Any, expected: int, deadline: float) -> None:
        self.greenlet = greenlet
        self.expected = expected
        self.replies: list[Any] = []
        self.deadline = deadline
        #: The caller stopped waiting (killed, timed out): its replies are read and dropped.
        self.gone = False

    def deliver(self, outcome: Any) -> None:
        if not self.gone:
            self.gone = True
            self.greenlet.switch(outcome)


#: Every multiplexer of this process, so that a forked child drops what it inherited.
_LIVE: "weakref.WeakSet[RedisMux]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for mux in list(_LIVE):
        mux._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class RedisMux:
    """One connection per process, shared by every greenlet (see the module doc)."""

    def __init__(self, url: str, *, connect_timeout: float = 0.5, socket_timeout: float = 1.0, retries: int = 1,
                 error_hooks: list[Callable[[BaseException], None]] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", ""):
            raise ValueError(f"RedisMux speaks plain redis:// only, not {parts.scheme}://")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.db = int((parts.path or "/0").lstrip("/") or 0)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.connect_timeout = connect_timeout
        self.socket_timeout = socket_timeout
        #: Tries again after a connection error or timeout, as the store's redis-py clients do.
        self.retries = retries
        self.error_hooks = error_hooks if error_hooks is not None else []
        self._hub = get_hub()
        self._sock: Any = None
        self._out: list[bytes] = []
        self._waiters: deque[_Waiter] = deque()
        self._flush_scheduled = False
        self._reader: Any = None
        self._watchdog: Any = None
        self._connecting: Any = None
        _LIVE.add(self)

    def __repr__(self) -> str:
        return f"RedisMux({self.host}:{self.port}/{self.db}, {len(self._waiters)} waiting)"

    # --- calls ------------------------------------------------------------------------------------

    def call(self, *command: Any) -> Any:
        return self.execute([command])[0]

    def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send ``commands`` and return their replies; raise the first error reply as redis-py would.

        A lost connection or a timeout is tried again ``retries`` times on a new connection (the
        commands may have run: as with redis-py's retries, what is retried should be idempotent or
        harmless twice), then raised."""
        if not commands:
            return []
        pack = hiredis.pack_command
        return self.execute_packed(b"".join([pack(tuple(command)) for command in commands]), len(commands))

    def execute_packed(self, packed: bytes, count: int) -> list[Any]:
        """:meth:`execute` for ``count`` commands already encoded as RESP (what ``hiredis.pack_command``
        makes): for a hot path that encodes the unchanging part of its command once (tasks' enqueue)."""
        attempt = 0
        while True:
            try:
                return self._execute_once(packed, count)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                if attempt >= self.retries:
                    raise
                attempt += 1
                gevent.sleep(min(0.2, 0.05 * 2 ** (attempt - 1)))

    def _execute_once(self, packed: bytes, count: int) -> list[Any]:
        self._ensure_connected()
        self._out.append(packed)
        waiter = _Waiter(getcurrent(), count, time.monotonic() + self.socket_timeout)
        self._waiters.append(waiter)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._hub.loop.run_callback(self._flush)
        try:
            outcome = self._hub.switch()
        except BaseException:
            waiter.gone = True  # NOTE: its replies still come, in order: the reader drops them
            raise
        if isinstance(outcome, BaseException):
            raise outcome
        for reply in outcome:
            if isinstance(reply, redis.exceptions.ResponseError):
                raise BaseParser.parse_error(str(reply))
        return outcome

    # --- the connection ---------------------------------------------------------------------------

    def _forget_after_fork(self) -> None:
        """In a forked child: the connection, its waiters and greenlets are the parent's, never to be
        used here (the next call connects anew)."""
        self._sock = None
        self._waiters.clear()
        self._out.clear()
        self._flush_scheduled = False
        self._reader = self._watchdog = self._connecting = None
        self._hub = get_hub()

    def _ensure_connected(self) -> None:
        if self._sock is not None:
            return
        if self._connecting is not None:
            self._connecting.wait(self.connect_timeout + self.socket_timeout)
            if self._sock is None:
                raise redis.exceptions.ConnectionError(f"Error connecting to {self.host}:{self.port}")
            return
        self._connecting = Event()
        try:
            self._sock = self._connect()
            self._reader = gevent.spawn(self._read_loop, self._sock)
            self._watchdog = gevent.spawn(self._watch, self._sock)
        except (OSError, redis.exceptions.RedisError) as error:
            failure = error if isinstance(error, redis.exceptions.RedisError) else \
                redis.exceptions.ConnectionError(f"Error connecting to {self.host}:{self.port}: {error}")
            self._report(failure)
            raise failure from None
        finally:
            connecting, self._connecting = self._connecting, None
            connecting.set()

    def _connect(self) -> Any:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            hello: list[tuple[Any, ...]] = []
            if self.password is not None:
                hello.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
            if self.db:
                hello.append(("SELECT", self.db))
            if hello:
                sock.settimeout(self.socket_timeout)
                sock.sendall(b"".join(hiredis.pack_command(command) for command in hello))
                reader = hiredis.Reader(encoding="utf-8", replyError=redis.exceptions.ResponseError)
                answered: list[Any] = []
                while len(answered) < len(hello):
                    data = sock.recv(RECV_BYTES)
                    if not data:
                        raise redis.exceptions.ConnectionError("the server closed the connection")
                    reader.feed(data)
                    while (reply := reader.gets()) is not False:
                        answered.append(reply)
                for reply in answered:
                    if isinstance(reply, redis.exceptions.ResponseError):
                        raise BaseParser.parse_error(str(reply))
            sock.settimeout(None)
            return sock
        except BaseException:
            sock.close()
            raise

    def _flush(self) -> None:
        """Runs in the hub once per loop turn: one send for everything queued meanwhile."""
        self._flush_scheduled = False
        if not self._out or self._sock is None:
            return
        data = b"".join(self._out)
        self._out.clear()
        sock = self._sock
        try:
            sent = sock._sock.send(data)  # NOTE: the raw non-blocking socket: the hub must never block
        except BlockingIOError:
            sent = 0
        except OSError as error:
            self._fail(sock, redis.exceptions.ConnectionError(f"Error writing to {self.host}:{self.port}: {error}"))
            return
        if sent < len(data):
            # NOTE: set here, not in the greenlet: a flush scheduled before it first runs would
            # otherwise send newer commands ahead of this rest. Later ones queue until it is written.
            self._flush_scheduled = True
            gevent.spawn(self._send_rest, sock, data[sent:])

    def _send_rest(self, sock: Any, rest: bytes) -> None:
        try:
            sock.sendall(rest)
        except OSError as error:
            self._fail(sock, redis.exceptions.ConnectionError(f"Error writing to {self.host}:{self.port}: {error}"))
            return
        finally:
            self._flush_scheduled = False
        if self._out:
            self._flush_scheduled = True
            self._hub.loop.run_callback(self._flush)

    def _read_loop(self, sock: Any) -> None:
        reader = hiredis.Reader(encoding="utf-8", replyError=redis.exceptions.ResponseError)
        waiters = self._waiters
        run_callback = self._hub.loop.run_callback
        while True:
            try:
                data = sock.recv(RECV_BYTES)
            except OSError as error:
                self._fail(sock, redis.exceptions.ConnectionError(f"Error reading from {self.host}:{self.port}: {error}"))
                return
            if not data:
                self._fail(sock, redis.exceptions.ConnectionError(f"{self.host}:{self.port} closed the connection"))
                return
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                if not waiters:
                    self._fail(sock, redis.exceptions.ConnectionError("a reply nobody waited for: out of step"))
                    return
                waiter = waiters[0]
                waiter.replies.append(reply)
                if len(waiter.replies) == waiter.expected:
                    waiters.popleft()
                    if not waiter.gone:
                        run_callback(waiter.deliver, waiter.replies)

    def _watch(self, sock: Any) -> None:
        """Fail everything waiting when the oldest caller has waited past ``socket_timeout``."""
        while self._sock is sock:
            gevent.sleep(min(WATCH_SECONDS, self.socket_timeout / 4))
            waiters = self._waiters
            if waiters and waiters[0].deadline < time.monotonic():
                self._fail(sock, redis.exceptions.TimeoutError(
                    f"no reply from {self.host}:{self.port} within {self.socket_timeout}s"))
                return

    def _fail(self, sock: Any, error: redis.exceptions.RedisError) -> None:
        """Drop the connection ``sock`` (if still current) and hand ``error`` to everyone waiting on it."""
        if self._sock is not sock:
            return
        self._sock = None
        self._out.clear()
        waiting = list(self._waiters)
        self._waiters.clear()
        try:
            sock.close()
        except OSError:
            pass
        current = getcurrent()
        for greenlet in (self._reader, self._watchdog):
            if greenlet is not None and greenlet is not current:
                greenlet.kill(block=False)
        self._report(error)
        if waiting:
            log.warning("redis %s:%s: %s; %d callers get an error", self.host, self.port, error, len(waiting))
        run_callback = self._hub.loop.run_callback
        for waiter in waiting:
            if not waiter.gone:
                run_callback(waiter.deliver, error)

    def _report(self, error: BaseException) -> None:
        for hook in self.error_hooks:
            try:
                hook(error)
            except Exception:  # pragma: no cover - a metrics hook never fails a command
                log.exception("a redis error hook failed")

    def close(self) -> None:
        sock = self._sock
        if sock is not None:
            self._fail(sock, redis.exceptions.ConnectionError("the store was closed"))


def script_sha(text: str) -> str:
    """The SHA1 Redis names a Lua script by (what EVALSHA takes)."""
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def run_script(commands: Commands, sha: str, text: str, keys: Iterable[Any], args: Iterable[Any]) -> Any:
    """EVALSHA ``sha``; when Redis does not know it yet (NOSCRIPT), EVAL the text once (which loads it)."""
    keys, args = list(keys), list(args)
    try:
        return commands.call("EVALSHA", sha, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return commands.call("EVAL", text, len(keys), *keys, *args)


class Probe:
    """Part of a read that several services answer in one round trip (the ``status`` action): the
    commands it needs, and how its replies (in the same order) become its answer."""

    __slots__ = ("commands", "read")

    def __init__(self, commands: Sequence[Command], read: Callable[[list[Any]], Any]) -> None:
        self.commands = list(commands)
        self.read = read


def gather(commands: Commands, probes: Sequence[Probe]) -> list[Any]:
    """Every probe's commands in one :meth:`Commands.execute`; each probe's answer, in order."""
    replies = commands.execute([command for probe in probes for command in probe.commands])
    answers: list[Any] = []
    at = 0
    for probe in probes:
        count = len(probe.commands)
        answers.append(probe.read(replies[at:at + count]))
        at += count
    return answers
