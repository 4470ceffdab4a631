"""The hub monitor logs code that blocks the event loop."""
from __future__ import annotations

import logging
import time

import gevent
import pytest
from gevent import monkey

from hero.runtime.monitor import watch_hub


@pytest.mark.timeout(20)
def test_blocking_the_hub_is_logged_with_the_stack(caplog):
    watch = watch_hub(0.1)
    assert watch is not None
    unpatched_sleep = monkey.get_original("time", "sleep")
    with caplog.at_level(logging.WARNING, logger="hero.runtime.monitor"):
        def block():
            unpatched_sleep(0.6)

        gevent.spawn(block).join()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not caplog.records:
            gevent.sleep(0.1)
    messages = [record.getMessage() for record in caplog.records if record.name == "hero.runtime.monitor"]
    assert len(messages) == 1  # once per occurrence
    assert "event loop was blocked" in messages[0] and "in block" in messages[0]
    assert "unpatched_sleep(0.6)" in messages[0]  # the stack points at the blocking line
    assert watch_hub(0.2) is watch  # one watch per hub, shared by every process booted on it


def test_zero_turns_it_off():
    assert watch_hub(0) is None
