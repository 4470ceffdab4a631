"""Socket I/O shaped for the event loop, shared by the TCP, WebSocket and HTTP servers.

Each client with something to do at the end of the event loop's current turn, after every greenlet
that was ready has run, is called then, by one loop callback for the whole process (:class:`TurnEnd`).
What it does there:

* It writes its replies, all of this turn's in one ``send``, instead of one ``send`` per reply. On
  loopback and LANs the costly part of a small ``send`` is not the copy but what the kernel does
  around it: waking the peer's process, sometimes on another core. Written the moment they are
  ready, replies pay that each; written together, the wake-ups overlap. Measured on a 2-core
  machine with 50 lock-step clients, the server's CPU per reply fell by a fifth (TCP) to a third
  (WebSocket), and HTTP requests/s rose by a third. A reply waits at most for the rest of the
  current turn.
* (TCP and WebSocket) It hands reading to a new greenlet when its reader is still inside an action: an action runs in
  the greenlet that read it, and if that greenlet is suspended when the turn ends, the action has
  yielded (I/O, sleep), so another greenlet must read on. Checking this once per turn costs less
  than a loop callback armed and disarmed around every action.

Reads wait for input first and then read (:func:`wait_readable`), instead of reading, failing
and then waiting.
"""
from __future__ import annotations

import logging
import os
import ssl
from typing import Any, Protocol

import gevent
from gevent import ssl as gevent_ssl

log = logging.getLogger(__name__)


class TurnClient(Protocol):
    def end_turn(self) -> None:
        """Called in the hub at the end of a turn it asked for: must neither block nor switch."""


#: Bumped as a fork starts and put back in the parent after it, so a forked child holds a higher
#: number from its first instruction on (``[n]``: one list, changed in place).
_FORKS = [0]


def _fork_starts() -> None:
    _FORKS[0] += 1


def _fork_done_in_parent() -> None:
    _FORKS[0] -= 1


# NOTE: bumped before the fork rather than in the child's hooks: a child's after-fork hooks run in
# registration order, and one registered earlier may switch to the hub (OpenTelemetry's SDK does),
# running the parent's end-of-turn callback before any hook of ours. Registered at import, this
# ``before`` hook runs last before the fork and the parent's undo first after it.
os.register_at_fork(before=_fork_starts, after_in_parent=_fork_done_in_parent)


class TurnEnd:
    """The clients that asked to be called at the end of this turn; one loop callback calls them all."""

    def __init__(self) -> None:
        self._waiting: list[TurnClient] = []
        self._scheduled = False
        #: The fork generation (:data:`_FORKS`) the scheduled callback belongs to.
        self._generation = _FORKS[0]
        # NOTE: a child forked while a callback was due would never see it run (the loop's
        # callbacks stay behind), and with ``_scheduled`` still set it would never schedule again.
        os.register_at_fork(after_in_child=self._forget)

    def __repr__(self) -> str:
        return f"TurnEnd({len(self._waiting)} waiting)"

    def add(self, client: TurnClient) -> None:
        """Call ``client.end_turn()`` at the end of this turn (a client asks once per turn)."""
        self._waiting.append(client)
        if not self._scheduled:
            self._scheduled = True
            gevent.get_hub().loop.run_callback(self._run)

    def _forget(self) -> None:
        self._waiting = []
        self._scheduled = False
        self._generation = _FORKS[0]

    def _run(self) -> None:
        # NOTE: runs in the hub, so it must not block or raise: one client's failure is logged and
        # the others are still called.
        # NOTE: the fork generation, not ``os.getpid()``: a system call on every turn.
        if _FORKS[0] != self._generation:
            # NOTE: the parent's callback, run in a forked child before _forget did (another at-fork
            # hook switched to the hub first: OpenTelemetry's SDK does): the parent's clients are not ours.
            self._forget()
            return
        waiting, self._waiting = self._waiting, []
        self._scheduled = False
        for client in waiting:
            try:
                client.end_turn()
            except Exception:
                log.exception("the end of turn of %r failed", client)


#: The one every server's clients use: one loop callback per turn for the process.
TURN_END = TurnEnd()


class DueAtTurnEnd:
    """A client that asks, at most once per turn, to be called at the end of it (a mixin): it calls
    :meth:`due_at_turn_end` and provides :meth:`at_turn_end`."""

    #: Waiting for the end of this turn (:data:`TURN_END`).
    _due: bool = False

    def due_at_turn_end(self) -> None:
        if not self._due:
            self._due = True
            TURN_END.add(self)

    def end_turn(self) -> None:
        self._due = False
        self.at_turn_end()

    def at_turn_end(self) -> None:
        """In the hub: must neither block nor switch."""
        raise NotImplementedError


class InlineReading(DueAtTurnEnd):
    """The end-of-turn side of a client whose reader runs actions in-line (a mixin).

    The client calls :meth:`enter_inline` / :meth:`leave_inline` around an action its reader runs,
    and :meth:`due_at_turn_end` when it has something to write. It provides :meth:`flush` (write
    what waits, without blocking), :meth:`spawn_reader` (a new greenlet that reads on) and
    :meth:`reading_goes_on` (False once the client is ending).
    """

    #: The reader running an action in-line, while it does.
    _acting: Any = None
    #: The greenlet reading the socket now.
    _reader: Any = None

    def flush(self) -> None:
        raise NotImplementedError

    def spawn_reader(self) -> Any:
        raise NotImplementedError

    def reading_goes_on(self) -> bool:
        raise NotImplementedError

    def enter_inline(self) -> Any:
        """The reader starts an action in-line; returns the reader, for :meth:`leave_inline`."""
        me = self._acting = gevent.getcurrent()
        self.due_at_turn_end()
        return me

    def leave_inline(self, me: Any) -> None:
        if self._acting is me:
            self._acting = None

    def at_turn_end(self) -> None:
        """If the reader is still inside an action, that action yielded, so a new greenlet reads
        on; then what waits is written."""
        acting = self._acting
        if acting is not None and self._reader is acting and self.reading_goes_on():
            self._acting = None
            self._reader = self.spawn_reader()
        self.flush()

    def end_turn(self) -> None:
        # NOTE: DueAtTurnEnd.end_turn with at_turn_end written out: this runs for every reply
        # (two calls fewer per message).
        self._due = False
        acting = self._acting
        if acting is not None and self._reader is acting and self.reading_goes_on():
            self._acting = None
            self._reader = self.spawn_reader()
        self.flush()


def wait_readable(sock: Any) -> None:
    """Block this greenlet until ``sock`` (a plain gevent socket) has input, EOF or an error.

    NOTE: waiting first and then reading saves what gevent's ``recv`` does otherwise when a client
    has sent nothing new: a failed ``recv`` system call and the exception it raises, before the
    same wait. A lock-step client (a request, then its reply) hits that after every message;
    measured, skipping it takes about 1.5 us off each TCP reply. It uses gevent's socket internals
    (``_wait`` and ``_read_event``, there since gevent 1.0), which also apply the socket's timeout.
    """
    sock._wait(sock._read_event)


def may_wait_first(sock: Any) -> bool:
    """Whether :func:`wait_readable` suits ``sock``: not for TLS, where OpenSSL may hold decrypted
    input that the socket does not show."""
    return not isinstance(sock, (ssl.SSLSocket, gevent_ssl.SSLSocket)) and hasattr(sock, "_read_event")


def os_socket(sock: Any) -> Any:
    """The non-blocking OS-level socket under a plain gevent socket, or None (TLS, or not gevent's).

    NOTE: its ``send`` and ``recv`` are the system calls with nothing around them: on a hot path that
    has already waited (:func:`wait_readable`) or must not wait (an end-of-turn flush), gevent's
    wrappers only add a Python frame, a timeout check and an exception handler per call. Callers
    catch ``BlockingIOError`` (EAGAIN) themselves and wait through gevent's socket only then. gevent
    keeps this socket non-blocking (its timeout is 0.0) whatever timeout the wrapper has, and
    ``_sock`` has held it since gevent 1.0.
    """
    if not may_wait_first(sock):
        return None
    raw = getattr(sock, "_sock", None)
    if raw is None or raw.gettimeout() != 0.0:
        return None
    return raw

