"""Replies written together once per turn of the event loop, instead of one ``send`` per reply.

On loopback and LANs the costly part of a small ``send`` is not the copy but what the kernel does
around it: waking the peer's process, sometimes on another core. When a greenlet's reply goes out
the moment it is ready, a server under load pays that for every reply. Holding replies until the
loop has run every greenlet that was ready (one callback per turn), then writing each client's
replies in one ``send``, lets those wake-ups overlap: measured on a 2-core machine with 50
lock-step TCP clients, the server's CPU per reply fell by a fifth to a third. A reply waits at most
for the rest of the current turn, which is the time the other ready greenlets take.
"""
from __future__ import annotations

import logging
from typing import Protocol

import gevent

log = logging.getLogger(__name__)


class Flushable(Protocol):
    def flush(self) -> None:
        """Write what this client has waiting (never blocks)."""


class FlushBatch:
    """The clients with replies waiting; flushed together by one loop callback per turn."""

    def __init__(self) -> None:
        self._waiting: list[Flushable] = []
        self._scheduled = False

    def __repr__(self) -> str:
        return f"FlushBatch({len(self._waiting)} waiting)"

    def add(self, client: Flushable) -> None:
        """Flush ``client`` at the end of this turn (the caller adds each client once per turn)."""
        self._waiting.append(client)
        if not self._scheduled:
            self._scheduled = True
            gevent.get_hub().loop.run_callback(self._flush_all)

    def _flush_all(self) -> None:
        # NOTE: runs in the hub, so it must not block or raise: one client's failure is logged and
        # the others are still written.
        waiting, self._waiting = self._waiting, []
        self._scheduled = False
        for client in waiting:
            try:
                client.flush()
            except Exception:
                log.exception("writing the replies of %r failed", client)
