"""Action deadlines watched by one greenlet, instead of a timer per action.

A ``gevent.Timeout`` per action costs a timer allocation, a start and a close on every request,
most of which never fire. Here entering and leaving a deadline are two dict operations; one
watcher greenlet wakes every ``resolution`` seconds while any deadline is open and throws into
greenlets that overran.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gevent
from greenlet import getcurrent, greenlet

from hero.core.processor import DeadlineExpired

__all__ = ["DeadlineExpired", "Deadlines", "RestartableTimeout"]


class RestartableTimeout(gevent.Timeout):
    """A ``gevent.Timeout`` that counts its whole ``seconds`` again every time it is started.

    NOTE: gevent documents ``cancel()`` then ``start()`` as a restart, but on the libev loop a stopped
    timer keeps only its *remaining* time (``ev_timer_stop`` leaves ``at`` relative to the stop), so a
    reused Timeout fires early: a keep-alive connection's idle deadline of 5 s fired 5 s after the
    connection opened, however busy it was. A fresh loop timer per start is backend-agnostic and costs
    well under a microsecond.
    """

    def start(self) -> None:
        if not self.pending and self.seconds is not None:
            # NOTE: gevent leaves ``timer`` unannotated (assigned in __init__), hence its __dict__
            state: dict[str, Any] = self.__dict__
            old = state["timer"]
            state["timer"] = old.loop.timer(self.seconds, ref=old.ref)
            old.close()
        super().start()


#: Scans with nothing open after which the watcher greenlet ends (the next deadline starts another).
IDLE_TICKS = 20


class Deadlines:
    def __init__(self, resolution: float = 0.05) -> None:
        self.resolution = resolution
        #: greenlet → (deadline, token): the innermost open deadline of each greenlet.
        self._open: dict[greenlet, tuple[float, object]] = {}
        self._watcher: gevent.Greenlet | None = None

    def __repr__(self) -> str:
        return f"Deadlines({len(self._open)} open)"

    def enter(self, seconds: float) -> tuple[greenlet, object, tuple[float, object] | None]:
        """Open a deadline for the current greenlet; pass the result to :meth:`leave`."""
        current = getcurrent()
        token = object()
        outer = self._open.get(current)
        deadline = time.monotonic() + seconds
        if outer is not None and outer[0] < deadline:
            deadline = outer[0]  # NOTE: a nested deadline never extends the outer one
        self._open[current] = (deadline, token)
        if self._watcher is None:
            self._watcher = gevent.spawn(self._watch)
        return current, token, outer

    def leave(self, entered: tuple[greenlet, object, tuple[float, object] | None]) -> None:
        current, token, outer = entered
        if outer is None:
            # NOTE: the usual case (no nested deadline) in one dict operation; a deadline that is not
            # this one (it expired, and the greenlet opened another) goes back.
            entry = self._open.pop(current, None)
            if entry is not None and entry[1] is not token:
                self._open[current] = entry
            return
        entry = self._open.get(current)
        if entry is not None and entry[1] is token:
            self._open[current] = outer

    @contextmanager
    def limit(self, seconds: float) -> Iterator[object]:
        """Raise :class:`DeadlineExpired` in this greenlet if the block runs longer than ``seconds``."""
        entered = self.enter(seconds)
        try:
            yield entered[1]
        finally:
            self.leave(entered)

    def _watch(self) -> None:
        # NOTE: sleep first, and stop only after IDLE_TICKS scans found nothing open. A watcher that
        # checked first would find nothing open whenever the action that spawned it finished without
        # yielding (most do), and die at once: a greenlet spawned per action, which cost about
        # 2 us a reply under load (an eighth of a TCP round trip).
        idle = 0
        try:
            while idle < IDLE_TICKS:
                gevent.sleep(self.resolution)
                if not self._open:
                    idle += 1
                    continue
                idle = 0
                now = time.monotonic()
                for target, (deadline, token) in list(self._open.items()):
                    if deadline <= now:
                        gevent.get_hub().loop.run_callback(self._expire, target, token)
        finally:
            self._watcher = None

    def _expire(self, target: greenlet, token: object) -> None:
        # NOTE: runs in the hub. Re-check that the same deadline is still open: the action may have
        # finished between the scan and this callback, and its greenlet moved on to other work.
        entry = self._open.get(target)
        if entry is None or entry[1] is not token or target.dead:
            return
        del self._open[target]
        target.throw(DeadlineExpired(token))
