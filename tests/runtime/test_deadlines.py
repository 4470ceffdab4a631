"""One watcher greenlet enforces every action's deadline."""
from __future__ import annotations

import time

import gevent
import pytest

from hero.runtime.deadlines import DeadlineExpired, Deadlines
from tests.support.apps import wait_for


def test_an_overrun_is_interrupted_near_its_deadline():
    deadlines = Deadlines(resolution=0.01)
    started = time.monotonic()
    with pytest.raises(DeadlineExpired):
        with deadlines.limit(0.05):
            gevent.sleep(5)
    assert 0.04 <= time.monotonic() - started < 0.5


def test_work_that_finishes_in_time_is_untouched_and_later_work_is_never_hit():
    deadlines = Deadlines(resolution=0.01)
    with deadlines.limit(0.05):
        gevent.sleep(0.01)
    gevent.sleep(0.1)  # past the old deadline, outside the block: nothing is thrown


def test_except_exception_cannot_swallow_the_deadline():
    deadlines = Deadlines(resolution=0.01)
    with pytest.raises(DeadlineExpired):
        with deadlines.limit(0.03):
            try:
                gevent.sleep(5)
            except Exception:  # noqa: BLE001 - what careless action code does
                pass


def test_a_nested_deadline_never_extends_the_outer_one():
    deadlines = Deadlines(resolution=0.01)
    started = time.monotonic()
    with pytest.raises(DeadlineExpired):
        with deadlines.limit(0.05):
            with deadlines.limit(10):
                gevent.sleep(5)
    assert time.monotonic() - started < 0.5


def test_many_greenlets_each_get_their_own_deadline():
    deadlines = Deadlines(resolution=0.01)

    def work(seconds: float, limit: float) -> str:
        try:
            with deadlines.limit(limit):
                gevent.sleep(seconds)
            return "done"
        except DeadlineExpired:
            return "expired"

    greenlets = [gevent.spawn(work, 0.01, 1), gevent.spawn(work, 1, 0.05), gevent.spawn(work, 0.02, 1)]
    gevent.joinall(greenlets, timeout=3)
    assert [g.value for g in greenlets] == ["done", "expired", "done"]
    assert wait_for(lambda: deadlines._watcher is None, timeout=2)  # the watcher stops when nothing is open


def test_the_watcher_outlives_actions_that_never_yield():
    """One watcher serves a stream of quick actions, instead of a greenlet spawned for each."""
    deadlines = Deadlines(resolution=0.01)
    with deadlines.limit(1):
        pass
    watcher = deadlines._watcher
    gevent.sleep(0.03)
    for _ in range(100):
        with deadlines.limit(1):
            pass
        assert deadlines._watcher is watcher
