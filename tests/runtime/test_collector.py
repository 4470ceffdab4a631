"""hero.runtime.collector: the collector is set for serving after boot, and only then."""
import gc

import pytest

from hero.runtime.collector import settle_after_boot


@pytest.fixture
def restore_gc():
    """Put Python's collector back as it was (thresholds, nothing frozen) after the test."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settle_freezes_boot_objects_and_raises_the_young_threshold(restore_gc):
    settle_after_boot(12_345)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == 12_345


def test_settle_again_unfreezes_first_so_old_cycles_can_go(restore_gc):
    class Node:
        pass

    settle_after_boot(0)
    gc.set_threshold(700, 10, 10)
    cycle = Node()
    cycle.me = cycle
    gc.unfreeze()  # NOTE: the cycle was made after the freeze: freeze it as an old boot's object
    gc.freeze()
    del cycle
    settle_after_boot(0)
    assert not any(type(obj) is Node for obj in gc.get_objects())
    assert gc.get_threshold()[0] == 700  # 0 keeps the thresholds


def test_a_library_boot_leaves_the_collector_alone(boot_hero):
    before = gc.get_freeze_count(), gc.get_threshold()
    boot_hero({"web": {"enabled": False}, "socket": {"enabled": False}})
    assert (gc.get_freeze_count(), gc.get_threshold()) == before
