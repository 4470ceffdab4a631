"""The task scheduler: one greenlet per server process, one leader per cluster.

Every ``tasks.scheduler_interval`` seconds each process's scheduler tries to take (or keep) a Redis
lock with a TTL. The holder, and only it, moves due delayed jobs onto their queues, re-enqueues a
periodic task whose chain broke, and hands jobs whose worker died (their heartbeat expired) to
RQ's abandoned-job handling, which retries them or files them as failed. When the leader dies,
its lock expires and another process takes over within ``tasks.scheduler_lock_ttl`` seconds.

RQ's own scheduler forks, and its ``with_scheduler`` hung workers inside a gevent process;
this one is a greenlet driving RQ's registries directly. A round reads RQ's keys itself
(:mod:`hero.tasks.rqkeys`) and imports RQ only when a job was abandoned: a server that runs no worker
holds RQ's modules only once it builds, runs or inspects a job.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

import gevent
import redis
from redis.exceptions import LockError

from hero.services.store import STORE_ERRORS, RedisStore
from hero.tasks import rqkeys
from hero.tasks.jobfields import utc_stamp

if TYPE_CHECKING:
    from rq.queue import Queue
    from rq.worker import SimpleWorker


class KeyedStore(Protocol):
    """A client and the key scheme of the task keys (``hero.tasks.inspection.TaskInspection``)."""

    client: redis.Redis

    def key(self, *parts: str) -> str: ...


class ScheduledQueues(KeyedStore, Protocol):
    """What the scheduler needs of ``api.tasks`` (``hero.tasks.queue.Tasks``)."""

    store: RedisStore
    server_id: str

    def queue_names(self) -> list[str]: ...

    def queue(self, name: str) -> Queue: ...

    def heal_periodic(self) -> Any: ...


log = logging.getLogger(__name__)

# NOTE: take each due job off the delayed set and push it in one script, so even two processes
# that both believe they lead (a leader stalled past its lock TTL) never enqueue a job twice.
# KEYS: delayed zset, queue list; ARGV: now (epoch s), job key prefix, enqueued_at, batch size.
_PROMOTE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local moved = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local key = ARGV[2] .. id
    if redis.call('EXISTS', key) == 1 then
      redis.call('HSET', key, 'status', 'queued', 'enqueued_at', ARGV[3])
      if redis.call('HGET', key, 'enqueue_at_front') == '1' then
        redis.call('LPUSH', KEYS[2], id)
      else
        redis.call('RPUSH', KEYS[2], id)
      end
      moved = moved + 1
    end
  end
end
return moved
"""

#: Delayed jobs moved per queue per tick at most (the rest follow on the next tick).
PROMOTE_BATCH = 1000


def current_leader(tasks: KeyedStore) -> str | None:
    """The process id held in the leader lock, if any."""
    raw = tasks.client.get(tasks.key("scheduler", "leader"))
    if not raw:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return text.rpartition("#")[0]


class Scheduler:
    """Leader election plus the leader's duties, on a greenlet (:meth:`tick` runs one round)."""

    def __init__(self, tasks: ScheduledQueues, *, interval: float = 1.0, lock_ttl: float = 10.0) -> None:
        self.tasks = tasks
        self.client = tasks.client
        self.interval = interval
        self.lock_ttl = max(lock_ttl, interval * 2)
        self.token = f"{tasks.server_id}#{uuid.uuid4().hex}"
        # NOTE: thread_local=False: under gevent threading.local is per greenlet, so a lock taken in
        # one greenlet would look unowned when released from another (the stopping one).
        self.lock = self.client.lock(tasks.key("scheduler", "leader"), timeout=self.lock_ttl, thread_local=False)
        self.leading = False
        self._promote = self.client.register_script(_PROMOTE)
        self._greenlet: gevent.Greenlet | None = None
        self._failing = False
        self._janitor_worker: SimpleWorker | None = None

    def __repr__(self) -> str:
        return f"<hero Scheduler leading={self.leading} interval={self.interval}s lock_ttl={self.lock_ttl}s>"

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(timeout=2)
            self._greenlet = None
        if self.leading:
            self.leading = False
            try:
                self.lock.release()
            except (LockError,) + STORE_ERRORS:  # NOTE: concatenated; mypy rejects a starred tuple
                pass  # already expired or taken: nothing of ours to release

    def _run(self) -> None:
        while True:
            try:
                self.tick()
                if self._failing:
                    log.info("scheduler: redis answers again")
                self._failing = False
            except STORE_ERRORS as error:
                if not self._failing:
                    log.warning("scheduler: %s is unavailable (%s); retrying", self.tasks.store.describe(), error)
                self._failing = True
            except Exception:
                log.exception("scheduler: a round failed")
            gevent.sleep(self.interval)

    def tick(self) -> None:
        """One round: keep or take the lead; when leading, do the leader's duties."""
        self.elect()
        if self.leading:
            self.promote_due()
            self.tasks.heal_periodic()
            self.recover_abandoned()

    def elect(self) -> bool:
        if self.leading:
            try:
                self.lock.reacquire()
            except LockError:
                self.leading = False
                log.warning("scheduler: lost the leader lock (another process leads now)")
        if not self.leading and self.lock.acquire(blocking=False, token=self.token):
            self.leading = True
            log.info("scheduler: %s leads the task scheduler", self.tasks.server_id)
        return self.leading

    def promote_due(self, timestamp: float | None = None) -> int:
        """Move delayed jobs due by ``timestamp`` (epoch s, default now) onto their queues; how many."""
        moment = time.time() if timestamp is None else timestamp
        moved = 0
        for name in self.tasks.queue_names():
            moved += int(self._promote(keys=[rqkeys.scheduled(name), rqkeys.queue(name)],
                                       args=[repr(moment), rqkeys.JOB_PREFIX, utc_stamp(), PROMOTE_BATCH]))
        return moved

    def recover_abandoned(self, timestamp: float | None = None) -> None:
        """Jobs whose worker stopped heart-beating before ``timestamp``: retried (if they have retries
        left) or moved to the failed registry with ``AbandonedJobError`` (RQ's own handling)."""
        cutoff = time.time() if timestamp is None else timestamp
        for name in self.tasks.queue_names():
            # NOTE: one read first, the one RQ's cleanup starts with (an entry whose heartbeat expired
            # before the cutoff): RQ itself is needed only when there is one.
            if self.client.zrangebyscore(rqkeys.started(name), 0, cutoff, start=0, num=1):
                from rq.registry import StartedJobRegistry

                from hero.tasks.task import JSONSerializer
                from hero.tasks.worker import GeventDeathPenalty

                registry = StartedJobRegistry(name, connection=self.client, serializer=JSONSerializer,
                                              death_penalty_class=GeventDeathPenalty)
                registry.cleanup(timestamp)
            # NOTE: a worker that died between taking a job (BLMOVE into the queue's intermediate
            # list) and registering it as started leaves it in neither place; RQ's own cleanup
            # retries or fails it once it has sat there for a minute.
            if self.client.llen(rqkeys.intermediate(name)):
                queue = self.tasks.queue(name)
                janitor = self._janitor()
                queue.intermediate_queue.cleanup(janitor, queue)
                self.client.delete(janitor.key)  # the failure counters RQ keeps on "its" worker

    def _janitor(self) -> SimpleWorker:
        """A worker object that never works: RQ's intermediate-queue cleanup fails jobs through one."""
        if self._janitor_worker is None:
            from rq.worker import SimpleWorker

            from hero.tasks.task import JSONSerializer

            # NOTE: its own client: building a worker raises its client's read timeout.
            client = self.tasks.store.build(decode_responses=False)
            self._janitor_worker = SimpleWorker([], name=f"hero-scheduler-{uuid.uuid4().hex}", connection=client,
                                                prepare_for_work=False, serializer=JSONSerializer)
        return self._janitor_worker


__all__ = ["Scheduler", "current_leader"]
