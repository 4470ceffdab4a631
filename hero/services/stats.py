"""Counters: counted locally on the hot path, flushed to Redis in batches, read cluster-wide.

Never a Redis round trip per request: ``increment`` touches a dict;
a greenlet flushes the deltas with one pipelined HINCRBY batch every ``flush_seconds``.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any, cast

import gevent
import redis

from hero.core.action import ActionData
from hero.errors import error_message
from hero.services.redis_mux import Probe, gather
from hero.services.store import STORE_ERRORS, RedisStore

log = logging.getLogger(__name__)


class Stats:
    def __init__(self, store: RedisStore, *, flush_seconds: float = 1.0) -> None:
        self.store = store
        self.key = store.key("stats")
        self.flush_seconds = flush_seconds
        #: Deltas not flushed yet (the only thing the hot path touches), and what this process flushed.
        self._pending: dict[str, int] = {}
        self._flushed: Counter[str] = Counter()
        self._flusher: gevent.Greenlet | None = None
        #: Connection type → its ``actions:<type>`` key (:meth:`count_action`); the types are the servers'.
        self._action_keys: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Stats({self.local()!r})"

    def count_action(self, data: ActionData) -> None:
        """A processor listener: ``actions:<connection type>`` + 1 (the processor's own counter).

        NOTE: :meth:`increment` written out, its key made once per connection type: this runs for
        every action, where a lambda calling ``increment`` with an f-string cost two calls and a format.
        """
        kind = data.connection.type
        key = self._action_keys.get(kind)
        if key is None:
            key = self._action_keys[kind] = f"actions:{kind}"
        pending = self._pending
        pending[key] = pending.get(key, 0) + 1

    def increment(self, key: str, amount: int = 1) -> None:
        # NOTE: a plain dict: a Counter's ``+=`` costs twice as much, on every action.
        pending = self._pending
        pending[key] = pending.get(key, 0) + amount

    def local(self) -> dict[str, int]:
        """This process's counts since it started."""
        return self._with_pending(dict(self._flushed))

    def cluster(self) -> dict[str, int]:
        """Counts across every process (what was flushed, plus this process's unflushed deltas)."""
        try:
            return cast("dict[str, int]", gather(self.store.commands, [self.cluster_probe()])[0])
        except STORE_ERRORS:
            return self.cluster_from([])

    def cluster_probe(self) -> Probe:
        """:meth:`cluster` as part of a read of several services in one round trip."""
        return Probe([("HGETALL", self.key)], lambda replies: self.cluster_from(replies[0]))

    def cluster_from(self, flat: list[str]) -> dict[str, int]:
        """The cluster counts from HGETALL's reply (field, value, field, value...), with this process's
        unflushed deltas added."""
        return self._with_pending({flat[at]: int(flat[at + 1]) for at in range(0, len(flat) - 1, 2)})

    def _with_pending(self, totals: dict[str, int]) -> dict[str, int]:
        """``totals`` with this process's unflushed deltas added (in place)."""
        for key, amount in self._pending.items():
            totals[key] = totals.get(key, 0) + amount
        return totals

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = Counter(self._pending), {}
        # NOTE: counted as flushed before the round trip, so local() never misses them meanwhile.
        self._flushed.update(pending)
        try:
            pipe = self.store.client.pipeline(transaction=False)
            for key, amount in pending.items():
                pipe.hincrby(self.key, key, amount)
            pipe.execute()
        except redis.exceptions.RedisError as error:  # NOTE: unreachable, or refusing (OOM, READONLY...)
            self._flushed -= pending
            for key, amount in pending.items():  # keep them for the next try
                self.increment(key, amount)
            log.warning("stats: could not flush to %s: %s", self.store.describe(), error_message(error))

    def start(self) -> None:
        if self._flusher is None:
            self._flusher = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.kill()
            self._flusher = None
        self.flush()

    def _run(self) -> None:
        while True:
            gevent.sleep(self.flush_seconds)
            self.flush()

    def snapshot(self) -> dict[str, Any]:
        return {"local": self.local(), "global": self.cluster()}
