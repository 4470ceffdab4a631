"""Streaming actions shared by the streaming tests of every transport, and a way to count what a
stream leaves behind (its generator, its greenlets)."""
from __future__ import annotations

import gc
import time
from typing import Any

from greenlet import greenlet

from hero import Action, HeroError, Input, SSEEvent


class Ticker(Action):
    """Streams ``{"n": 0}``, ``{"n": 1}``, ... forever, one every ``interval`` ms; counts the
    generators running and those that got ``GeneratorExit``."""

    name = "ticker"
    inputs = {"interval": Input(default=5, formatter=int)}
    running = 0
    exited = 0

    def run(self, data):
        Ticker.running += 1
        try:
            n = 0
            while True:
                yield {"n": n}
                n += 1
                time.sleep(data.params["interval"] / 1000)
        except GeneratorExit:
            Ticker.exited += 1
            raise
        finally:
            Ticker.running -= 1


class Quiet(Action):
    """One event, a quiet ``pause`` ms, then a second event: buffering and keep-alives show."""

    name = "quiet"
    inputs = {"pause": Input(default=400, formatter=int)}

    def run(self, data):
        yield SSEEvent("first", event="note", id="1")
        time.sleep(data.params["pause"] / 1000)
        yield SSEEvent("second\nline", event="note", id="2")


class Mood(HeroError):
    status = 409
    message = "the stream ran out of patience"


class Broken(Action):
    """Two chunks, then a HeroError mid-stream."""

    name = "broken"

    def run(self, data):
        yield "one"
        yield b"two"
        raise Mood()


class Raw(Action):
    """Returns an iterator (not a generator function): it streams too."""

    name = "raw"

    def run(self, data):
        return iter(["a", "b", "c"])


STREAM_ACTIONS = (Ticker, Quiet, Broken, Raw)


def add_stream_actions(api: Any) -> None:
    for action in STREAM_ACTIONS:
        if action.name not in api.actions:
            api.actions.add(action)
    Ticker.running = Ticker.exited = 0


def live_greenlets() -> int:
    """Greenlets that have started and not finished (gevent's hub and this test's included)."""
    gc.collect()
    return sum(1 for item in gc.get_objects() if isinstance(item, greenlet) and bool(item) and not item.dead)
