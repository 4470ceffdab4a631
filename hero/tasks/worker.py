"""Task workers: greenlets inside a server process, and ``hero worker``'s forking RQ worker.

In a server process (``tasks.workers`` > 0) each worker is an RQ ``SimpleWorker`` run by a
greenlet, with its own Redis client (a worker raises its client's read timeout) and a
``gevent.Timeout`` as its job timeout (RQ's default, SIGALRM, would hit whichever greenlet is
running). It never forks: a fork of a gevent server process copies every greenlet into the child.
The job timeout only interrupts a job that yields to gevent (I/O,
sleep); a CPU-bound job belongs in ``hero worker``.

``hero worker`` runs RQ's forking ``Worker`` in a process that is *not* monkey-patched: one
work-horse process per job (isolation, SIGALRM timeouts), warm shutdown on SIGTERM.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

import gevent
from rq.exceptions import DequeueTimeout
from rq.job import Job
from rq.queue import Queue
from rq.timeouts import BaseDeathPenalty
from rq.worker import SimpleWorker, Worker, WorkerStatus

from hero.services.store import STORE_ERRORS, RedisStore
from hero.tasks.context import PERFORM, RUNNING, JobRunner
from hero.tasks.task import JSONSerializer

log = logging.getLogger(__name__)


class GeventDeathPenalty(BaseDeathPenalty):
    """A job timeout as a ``gevent.Timeout`` raised in the job's own greenlet."""

    _timer: gevent.Timeout | None = None

    def setup_death_penalty(self) -> None:
        if not self._timeout or self._timeout <= 0:
            return
        error = self._exception(f"Task exceeded maximum timeout value ({self._timeout} seconds)")
        self._timer = gevent.Timeout(self._timeout, error)
        self._timer.start()

    def cancel_death_penalty(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None


class RefusedJob(Exception):
    """A job that names another function than hero's: failed with this reason, never imported."""


class HeroJob(Job):
    """An RQ job that calls nothing but :data:`~hero.tasks.context.PERFORM`.

    RQ imports whatever function a job names; anyone who can write to Redis could make a worker
    import and run any code. A hero worker fails such a job with a clear reason instead, without
    importing anything.
    """

    @property
    def func(self) -> Any:
        name = self.func_name
        if name != PERFORM or self.instance is not None:
            raise RefusedJob(f"refused: a hero worker runs only {PERFORM} jobs, not {name!r} (it was not imported)")
        return super().func


class _Heartbeats:
    """RQ gives a job ``timeout + 60`` s (hero worker: ``monitoring interval + 60``) past its last
    heartbeat before calling it abandoned; hero makes the 60 ``tasks.heartbeat_grace``.
    (Also where both of hero's workers get :class:`HeroJob` as their job class.)"""

    job_class = HeroJob

    heartbeat_grace: int = 60
    #: A forking worker heart-beats every ``job_monitoring_interval`` while its horse works; a
    #: greenlet worker cannot (the job runs in its own greenlet), so its heartbeat covers the timeout.
    monitors_horse: bool = False

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.timeout and job.timeout > 0:
            budget = job.timeout - working_time
            if not self.monitors_horse:
                return int(budget) + self.heartbeat_grace
            return int(min(budget, self.job_monitoring_interval)) + self.heartbeat_grace  # type: ignore[attr-defined]
        return self.job_monitoring_interval + self.heartbeat_grace  # type: ignore[attr-defined]


class _Demoted(logging.LoggerAdapter[logging.Logger]):
    """RQ's per-job INFO lines, as DEBUG: hero logs each task run itself."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG if level == logging.INFO else level, msg, *args, **kwargs)


class GreenletWorker(_Heartbeats, SimpleWorker):
    """An RQ ``SimpleWorker`` driven by a greenlet: no signals, no fork, a stop flag checked each poll."""

    death_penalty_class = GeventDeathPenalty
    #: Seconds one BLPOP waits before the loop looks at the stop flag again.
    poll_timeout: int = 1

    def __init__(self, *args: Any, runner: JobRunner, heartbeat_grace: int = 60, **kwargs: Any) -> None:
        self.runner = runner
        self.heartbeat_grace = heartbeat_grace
        self.busy = False
        super().__init__(*args, **kwargs)
        self.log = _Demoted(logging.getLogger("rq.worker"), {})  # type: ignore[assignment]

    @property
    def connection_timeout(self) -> int:
        # NOTE: RQ sets its client's read timeout to this; ours only needs to outlast one poll.
        return self.poll_timeout + 5

    def execute_job(self, job: Job, queue: Queue) -> None:
        token = RUNNING.set(self.runner)
        self.busy = True
        try:
            super().execute_job(job, queue)
        finally:
            self.busy = False
            RUNNING.reset(token)

    def run(self) -> None:
        """Work until :meth:`request_stop`; a Redis outage pauses the loop, never ends it."""
        backoff = 0.5
        self.register_birth()
        self.set_state(WorkerStatus.STARTED)
        try:
            while not self._stop_requested:
                try:
                    self.heartbeat()
                    self.set_state(WorkerStatus.IDLE)
                    result = self.queue_class.dequeue_any(
                        self._ordered_queues, self.poll_timeout, connection=self.connection,
                        job_class=self.job_class, serializer=self.serializer,
                        death_penalty_class=self.death_penalty_class)
                    backoff = 0.5
                except DequeueTimeout:
                    continue
                except STORE_ERRORS as error:
                    log.warning("task worker %s: redis unavailable (%s); retrying in %.1fs", self.name, error, backoff)
                    gevent.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                if result is None:
                    continue
                job, queue = result
                self.execute_job(job, queue)
        finally:
            try:
                self.register_death()
            except STORE_ERRORS:
                log.warning("task worker %s: could not register its death", self.name)

    def request_stop_soft(self) -> None:
        self._stop_requested = True


class WorkerPool:
    """``tasks.workers`` greenlet workers of one server process."""

    def __init__(self, runner: JobRunner, store: RedisStore, queues: Sequence[str], *, count: int,
                 server_id: str, heartbeat_grace: int = 60, result_ttl: int = 500) -> None:
        self.runner = runner
        self.store = store
        self.server_id = server_id
        self.result_ttl = result_ttl
        self.queues = list(queues)
        self.count = count
        self.heartbeat_grace = heartbeat_grace
        self.workers: list[GreenletWorker] = []
        self.greenlets: list[gevent.Greenlet] = []

    def __repr__(self) -> str:
        return f"<hero WorkerPool {len(self.workers)} workers on {', '.join(self.queues)}>"

    def start(self) -> None:
        for index in range(self.count):
            name = f"{self.server_id}:{index}:{uuid.uuid4().hex[:8]}"
            # NOTE: named in Redis, so that stop() can end its wait for a job (CLIENT UNBLOCK)
            client = self.store.build(decode_responses=False, blocking=True, client_name=name.replace(" ", "_"))
            worker = GreenletWorker(self.queues, name=name,
                                    connection=client, serializer=JSONSerializer, runner=self.runner,
                                    heartbeat_grace=self.heartbeat_grace, default_result_ttl=self.result_ttl)
            self.workers.append(worker)
            self.greenlets.append(gevent.spawn(self._run, worker))
        log.info("%d task worker(s) listening on %s", self.count, ", ".join(self.queues))

    def _run(self, worker: GreenletWorker) -> None:
        try:
            worker.run()
        except gevent.GreenletExit:
            pass
        except Exception:
            log.exception("task worker %s stopped on an error", worker.name)

    def stop(self, timeout: float = 30.0) -> None:
        """Idle workers stop when their poll ends (within ``poll_timeout`` s); busy ones finish their job
        within ``timeout`` s, then are killed."""
        for worker in self.workers:
            worker.request_stop_soft()
        # NOTE: an idle worker is not killed: it waits in BLMOVE, and Redis may already have moved a job
        # into the queue's intermediate list for it; killed, it would leave the job there (status queued,
        # in no queue) until RQ's cleanup finds it a minute later. CLIENT UNBLOCK ends the wait as a
        # timeout unless the job was moved already (then the worker runs it, below); without it (the
        # embedded store) the poll ends within poll_timeout.
        self._unblock_waits()
        gevent.joinall(self.greenlets, timeout=GreenletWorker.poll_timeout + 1)
        busy = [g for g in self.greenlets if not g.dead]
        if busy:
            log.info("waiting up to %.0fs for %d running task(s)", timeout, len(busy))
            gevent.joinall(busy, timeout=timeout)
            late = [g for g in busy if not g.dead]
            if late:
                log.warning("killing %d task(s) still running after %.0fs; RQ files them as failed or retries them",
                            len(late), timeout)
                gevent.killall(late, timeout=2)
        for worker in self.workers:
            try:
                worker.connection.close()
            except Exception:  # pragma: no cover - closing never matters more than stopping
                log.debug("closing a worker client failed", exc_info=True)
        self.workers, self.greenlets = [], []


    def _unblock_waits(self) -> None:
        """CLIENT UNBLOCK each connection of this pool's workers (named after them in :meth:`start`)."""
        if self.store.embedded or not self.workers:
            return
        names = {worker.name.replace(" ", "_") for worker in self.workers}
        client = self.store.build(decode_responses=True)
        try:
            for entry in client.client_list():
                if entry.get("name") in names:
                    client.client_unblock(int(entry["id"]))
        except STORE_ERRORS as error:
            log.debug("task workers: could not unblock their polls (%s); they end within a second", error)
        finally:
            client.close()


class ForkingWorker(_Heartbeats, Worker):
    """``hero worker``: RQ's forking worker, with hero's heartbeat grace."""

    monitors_horse = True

    def __init__(self, *args: Any, heartbeat_grace: int = 60, **kwargs: Any) -> None:
        self.heartbeat_grace = heartbeat_grace
        super().__init__(*args, **kwargs)
