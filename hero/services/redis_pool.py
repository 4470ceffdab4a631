"""A leaner bounded connection pool for redis-py under gevent.

redis-py's ``BlockingConnectionPool`` costs tens of µs of CPU per command here: its ``LifoQueue``
takes a condition variable twice per command, every ``get_connection`` polls the socket
(``can_read()``, a hub switch under gevent) to catch a connection handed back with an unread reply,
and redis-py 8 records connection-count metrics on every checkout and release.

This pool keeps the same contract (at most ``max_connections``, waiting up to ``timeout`` for a free
one, then ``ConnectionError("No connection available.")``, which the store maps to a 503 like any
refusal) with a semaphore and a plain LIFO list, and catches the unread-reply case where it arises
instead: a connection released while a ``BaseException`` that is not an ``Exception`` is propagating
(``GreenletExit`` from a kill, ``gevent.Timeout`` from a deadline, ``KeyboardInterrupt``) may have been
interrupted between sending a command and reading its reply, so it is disconnected rather than
reused. redis-py already disconnects on its own ``ConnectionError`` / ``TimeoutError``; other
``Exception``\\ s from a command (``ResponseError``) come after the reply was read. Retries (and the
store's error counting through its Retry) live on the connection, so they are unchanged.

redis-py 8's maintenance notifications (on by default, "auto", with RESP3) keep working: their
handlers read the pool's connections through ``_get_free_connections`` / ``_get_in_use_connections``,
which read the idle list here, and while the pool is in maintenance (a MOVING notification) taking
and giving back a connection hold the pool's lock, as redis-py's own pool does. What this pool does
not do is redis-py's per-checkout connection-count metrics (its OpenTelemetry recorder).
"""
from __future__ import annotations

import sys
import threading
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError


class LeanBlockingConnectionPool(redis.BlockingConnectionPool):
    """``BlockingConnectionPool`` without the per-command queue and socket poll (see the module doc)."""

    def reset(self) -> None:
        super().reset()
        #: Idle connected connections, most recently used last.
        self._idle: list[Any] = []
        #: One slot per connection that may exist; a getter waits for a slot up to ``timeout``.
        self._slots = threading.BoundedSemaphore(self.max_connections)

    def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        self._checkpid()
        if not self._slots.acquire(timeout=self.timeout):
            raise RedisConnectionError("No connection available.")
        connection = None
        try:
            if self._in_maintenance:  # NOTE: make_connection takes the lock itself then
                with self._lock:
                    connection = self._idle.pop() if self._idle else None
            else:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                connection = self.make_connection()
            connection.connect()  # a no-op when connected
        except BaseException:
            if connection is not None:
                connection.disconnect()
                self._idle.append(connection)
            self._slots.release()
            raise
        return connection

    def release(self, connection: Any) -> None:
        self._checkpid()
        if not self.owns_connection(connection):
            # NOTE: taken before a fork (the pool was reset since): never reuse it, and its slot
            # belonged to the parent's semaphore, not to this one.
            connection.disconnect()
            return
        in_flight = sys.exc_info()[1]
        if (in_flight is not None and not isinstance(in_flight, Exception)) or connection.should_reconnect():
            connection.disconnect()  # the next get reconnects it
        if self._in_maintenance:
            with self._lock:
                self._idle.append(connection)
        else:
            self._idle.append(connection)
        self._slots.release()

    # NOTE: redis-py reads its own queue for these (disconnect(inuse_connections=False), its
    # maintenance handling): the idle list stands in for it.
    # NOTE: called with the pool's lock held (redis-py's maintenance handlers), so they take no lock.
    def _get_free_connections(self) -> set[Any]:
        return set(self._idle)

    def _get_in_use_connections(self) -> set[Any]:
        idle = set(self._idle)
        return {connection for connection in self._connections if connection not in idle}
