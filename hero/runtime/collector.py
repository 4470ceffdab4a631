"""Python's cyclic garbage collector, set for a serving process once it has booted.

Measured on ``GET /api/enqueueNoop`` at 50 connections (scripts/bench actionhero), with Python's
defaults (700, 10, 10): a young collection every ~30 requests, because the 50 requests in flight
hold more than 700 new containers between them, not because anything leaks (with a threshold of
10,000, one young collection ran in 70,000 requests). Each one promoted those in-flight objects;
they died in the oldest generation and set off full collections of the ~63,000 objects of the
booted app (modules, classes, config): ~55-100 ms each, the p99 of the run, and ~10% of the CPU.

So after boot: :func:`gc.freeze` moves what boot made out of every later collection, and a young
threshold of ``general.gc_young_threshold`` lets the requests in flight die young. Cycles are still
collected, later and in smaller sets.
"""
from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle_after_boot(young_threshold: int) -> None:
    """Collect once, freeze what is left (boot's objects), raise the young generation's threshold.

    Called by the entry points that serve (``hero start``, the gunicorn worker), never by a library
    boot (tests boot many processes in one interpreter). Safe to call again after a restart in
    place: the previous boot's frozen objects are unfrozen first, so its cycles can be collected.
    ``young_threshold`` 0 keeps Python's thresholds (the freeze still happens).
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    if young_threshold > 0:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(young_threshold, middle, old)
    log.debug("gc: %d objects frozen after boot; thresholds %s", gc.get_freeze_count(), gc.get_threshold())
