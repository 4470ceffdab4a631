"""Watch the gevent hub: log when code blocks it (an unpatched ``time.sleep``, a CPU loop).

A timer in the hub stamps a heartbeat every ``interval``; a native thread (not a greenlet) checks
the stamp and, when it is older than ``max_blocking_time``, takes the stack the main thread is
running right then: the code that blocks. The hub logs that report once it runs again.

NOTE: gevent has its own monitor thread, but it traces every greenlet switch to tell which
greenlet blocked; that cost ~10% of the throughput of a small HTTP action (scripts/bench).
A heartbeat costs nothing per switch, and the main thread's stack names the culprit just as well.
"""
from __future__ import annotations

import logging
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
from gevent import monkey

log = logging.getLogger(__name__)

#: Called in the hub with the seconds of each block a watch saw (the metrics of each running process).
BLOCK_HOOKS: list[Callable[[float], None]] = []


class HubWatch:
    """One per process: a hub heartbeat and a native thread that notices when it stops."""

    def __init__(self, max_blocking_time: float) -> None:
        self.max_blocking_time = max_blocking_time
        self.interval = min(0.1, max_blocking_time / 2)
        self.last_tick = time.monotonic()
        self.running = True
        self._reports: deque[tuple[float, str]] = deque(maxlen=100)
        self._main_thread = monkey.get_original("_thread", "get_ident")()
        self._timer: Any = gevent.get_hub().loop.timer(self.interval, self.interval)
        self._timer.start(self._tick)
        start_native_thread = monkey.get_original("_thread", "start_new_thread")
        start_native_thread(self._watch, ())

    def __repr__(self) -> str:
        return f"HubWatch(max_blocking_time={self.max_blocking_time})"

    def stop(self) -> None:
        self.running = False
        self._timer.stop()

    def _tick(self) -> None:
        # in the hub: the loop is alive; log what the watcher saw while it was not
        self.last_tick = time.monotonic()
        while self._reports:
            blocked, stack = self._reports.popleft()
            log.warning("the event loop was blocked for at least %.3fs by:\n%s", blocked, stack)
            for hook in BLOCK_HOOKS:
                hook(blocked)

    def _watch(self) -> None:
        # NOTE: a native thread: it must not touch gevent or logging (their locks are greenlet locks),
        # only plain reads and a deque append, which the GIL makes safe.
        native_sleep = monkey.get_original("time", "sleep")
        reported_tick = None
        while self.running:
            native_sleep(self.interval)
            tick = self.last_tick
            blocked = time.monotonic() - tick
            if blocked > self.max_blocking_time and reported_tick != tick:
                frame = sys._current_frames().get(self._main_thread)
                if frame is not None:
                    stack = "".join(traceback.format_stack(frame)[-12:])
                    self._reports.append((blocked, stack))
                    reported_tick = tick


def watch_hub(max_blocking_time: float) -> HubWatch | None:
    """The watch of this thread's hub, started on the first call and kept on the hub itself (every
    process booted on one hub shares it; a later call only changes the threshold). None when 0 (off)."""
    if not max_blocking_time:
        return None
    hub = gevent.get_hub()
    watch: HubWatch | None = getattr(hub, "hero_watch", None)
    if watch is None or not watch.running:
        watch = HubWatch(max_blocking_time)
        hub.hero_watch = watch
    else:
        watch.max_blocking_time = max_blocking_time
    return watch
