"""``api.tasks``: enqueue, run and inspect background tasks, on RQ.

Every job RQ stores calls one function, :func:`perform`, with the task's name and its validated
params; the task is looked up by name in the booted app of the process running the job. Jobs are
JSON (:class:`hero.tasks.task.JSONSerializer`), under RQ's own keys (``rq:queue:default``...), so
``rq info --serializer hero.tasks.task.JSONSerializer`` shows them too.

Workers: ``hero worker`` (RQ's forking worker, in its own process) and, in server processes,
``tasks.workers`` greenlets (:mod:`hero.tasks.worker`). Delayed jobs, periodic tasks and the recovery of
jobs whose worker died are driven by one leader-elected scheduler per cluster (:mod:`hero.tasks.scheduler`).
"""
from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hero.config import Namespace
from hero.errors import TaskError
from hero.runtime import json as jsonutil
from hero.services.store import STORE_ERRORS, RedisStore
from hero.tasks import rqkeys
from hero.tasks.context import PERFORM, ProcessRunner, current_runner
from hero.tasks.inspection import TaskInspection, queue_names_in
from hero.tasks.jobfields import JobFields, JobHash
from hero.tasks.scheduler import Scheduler
from hero.tasks.submit import store_job
from hero.tasks.task import (
    JSONSerializer,
    Task,
    TaskData,
    TaskRegistry,
)

if TYPE_CHECKING:
    # NOTE: RQ loads when a job is first built, run or inspected, not at boot (hero.tasks.rqkeys).
    from rq import Queue
    from rq.job import Job

    from hero.tasks.worker import WorkerPool

log = logging.getLogger(__name__)


_LIVE = (rqkeys.QUEUED, rqkeys.SCHEDULED, rqkeys.STARTED)


def perform(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """The job function of every hero job: run task ``name`` in the app booted in this process."""
    runner = current_runner()
    if runner is None:
        raise RuntimeError("hero is not booted in this worker process: run workers with `hero worker`")
    return runner.run_job(name, dict(params or {}))


class Tasks(TaskInspection):
    """``api.tasks``: the enqueue API, the runner used by workers, and the inspection API."""

    def __init__(self, registry: TaskRegistry, store: RedisStore, settings: Namespace, *, context: Any,
                 server_id: str, shutdown_timeout: float = 30.0) -> None:
        self.registry = registry
        self.settings = settings
        #: Handed to every task as ``data.api`` / ``worker.api`` (the process's ``hero.container.Api``).
        self.api = context
        self.server_id = server_id
        self.shutdown_timeout = shutdown_timeout
        #: Undecoded client: RQ stores zlib-compressed bytes.
        self.client = store.raw_client
        self.store = store
        self._queues: dict[str, Queue] = {}
        self._seen_queues = set()
        self._named_queues: tuple[Any, set[str]] | None = None
        #: Each new job's hash, from a template of the task's jobs (RQ builds the first ones).
        self._job_fields = JobFields(self._build_job)
        self.scheduler: Scheduler | None = None
        self.workers_pool: WorkerPool | None = None
        #: Log loudly at start when tasks exist but nothing will work them (off in CLI commands).
        self.warn_without_workers = True
        #: Called with ``(event, task name)``: ``enqueued``, then ``processed``, ``skipped`` or
        #: ``failed`` for each run (metrics).
        self.listeners: list[Callable[[str, str], None]] = []
        #: Called with ``(error, data)`` for each failed run of a task (docs/deployment.md, Exception reporters).
        self.exception_reporters: list[Callable[[BaseException, TaskData], None]] = []

    def __repr__(self) -> str:
        return f"<hero Tasks {len(self.registry)} tasks>"

    # --- keys and queues --------------------------------------------------------------------

    def key(self, *parts: str) -> str:
        return self.store.key("tasks", *parts)

    def queue(self, name: str) -> Queue:
        """The RQ queue ``name`` (JSON jobs, gevent-safe timeouts)."""
        queue = self._queues.get(name)
        if queue is None:
            from rq import Queue

            from hero.tasks.worker import GeventDeathPenalty

            queue = self._queues[name] = Queue(name, connection=self.client, serializer=JSONSerializer,
                                               death_penalty_class=GeventDeathPenalty)
        return queue

    def worker_queues(self) -> list[str]:
        """The queues this app's workers listen on (``tasks.queues``; ``*`` means every task's queue)."""
        names: list[str] = []
        for name in self.settings.queues:
            if name == "*":
                names += sorted({task.queue for task in self.registry} | {"default"})
            else:
                names.append(name)
        return list(dict.fromkeys(names))

    def queue_names(self) -> list[str]:
        """Every queue known: the workers', the tasks', and every queue RQ has seen in Redis."""
        return sorted(self.queue_names_without_redis() | queue_names_in(self.client.smembers(rqkeys.QUEUES)))

    def queue_names_without_redis(self) -> set[str]:
        """The queues this app names itself: its workers' and its tasks' (worked out again only when
        the tasks or the queues setting change)."""
        tasks = self.registry.tasks
        signature = (tuple(self.settings.queues), tuple((name, task.queue) for name, task in tasks.items()))
        if self._named_queues is None or self._named_queues[0] != signature:
            self._named_queues = (signature, set(self.worker_queues()) | {task.queue for task in self.registry})
        return set(self._named_queues[1])

    # --- enqueue ----------------------------------------------------------------------------

    def enqueue(self, name: str, params: Mapping[str, Any] | None = None, queue: str | None = None) -> bool:
        """Validate and enqueue now; False when middleware (or a pending periodic instance) refused it."""
        task = self.registry.find(name)
        return self.submit(task, task.load_params(params), queue=queue)

    def enqueue_at(self, timestamp_ms: int | float, name: str, params: Mapping[str, Any] | None = None,
                   queue: str | None = None) -> bool:
        """Validate and enqueue to run at ``timestamp_ms`` (epoch milliseconds)."""
        task = self.registry.find(name)
        _check_number("timestamp", timestamp_ms)
        return self.submit(task, task.load_params(params), queue=queue, run_at=int(timestamp_ms))

    def enqueue_in(self, delay_ms: int | float, name: str, params: Mapping[str, Any] | None = None,
                   queue: str | None = None) -> bool:
        """Validate and enqueue to run ``delay_ms`` milliseconds from now."""
        _check_number("delay", delay_ms)
        return self.enqueue_at(_now_ms() + delay_ms, name, params, queue)

    def submit(self, task: Task, params: dict[str, Any], *, queue: str | None = None, run_at: int | None = None,
               own_job_id: str = "") -> bool:
        """Store a job for already-validated params, through ``pre_enqueue``/``post_enqueue`` middleware."""
        data = TaskData(task=task, params=params, queue=queue or task.queue, api=self.api, run_at=run_at)
        chain = self.registry.middleware_for(task)
        for middleware in chain:
            if middleware.pre_enqueue(data) is False:
                return False
        try:
            jsonutil.dumps(data.params)
        except TypeError as error:
            raise TaskError(f"params for task {task.name} must be JSON: {error}") from None
        job_id, job = self._job_fields.job(task, data)
        if not self._store(job_id, job, data, periodic=task.periodic, own_job_id=own_job_id):
            return False
        data.job_id = job_id
        for listener in self.listeners:
            listener("enqueued", task.name)
        for middleware in chain:
            middleware.post_enqueue(data)
        return True

    def _build_job(self, task: Task, data: TaskData) -> Job:
        from rq import Retry
        from rq.job import JobStatus
        from rq.utils import now

        settings = self.settings
        retries = task.retries if task.retries is not None else (0 if task.periodic else settings.retries)
        intervals = list(task.retry_intervals if task.retry_intervals is not None else settings.retry_intervals)
        job = self.queue(data.queue).create_job(
            PERFORM, args=(task.name, data.params),
            timeout=int(math.ceil(task.timeout or settings.timeout)),
            result_ttl=settings.result_ttl, failure_ttl=settings.failure_ttl,
            description=f"task {task.name}", job_id=uuid.uuid4().hex,
            status=JobStatus.SCHEDULED if data.run_at is not None else JobStatus.QUEUED,
            retry=Retry(max=retries, interval=intervals or 0) if retries > 0 else None,
        )
        if data.run_at is None:
            job.enqueued_at = now()
        return job

    def _store(self, job_id: str, job: JobHash, data: TaskData, *, periodic: bool,
               own_job_id: str = "") -> bool:
        queue_key = rqkeys.queue(data.queue)
        if data.run_at is None:
            target, score = queue_key, None
        else:
            target, score = rqkeys.scheduled(data.queue), data.run_at / 1000
        marker = self.key("periodic", data.task.name) if periodic else None
        return store_job(self.store.commands, job_id, job, queue_key=queue_key, target_key=target, score=score,
                         marker_key=marker, own_job_id=own_job_id)

    # --- periodic tasks ---------------------------------------------------------------------

    def periodic_tasks(self) -> list[Task]:
        return [task for task in self.registry if task.periodic]

    def enqueue_all_recurrent_tasks(self) -> list[str]:
        """Enqueue every periodic task that has no instance queued, delayed or running; the names enqueued."""
        enqueued = []
        for task in self.periodic_tasks():
            self.client.srem(self.key("stopped"), task.name)
            if self.submit(task, task.load_params({})):
                enqueued.append(task.name)
        return enqueued

    def enqueue_recurrent_task(self, name: str, *, own_job_id: str = "") -> bool:
        """Schedule the next run of a periodic task ``frequency`` ms from now (unless it was stopped)."""
        task = self.registry.find(name)
        if not task.periodic or self.client.sismember(self.key("stopped"), task.name):
            return False
        return self.submit(task, task.load_params({}), run_at=_now_ms() + task.frequency, own_job_id=own_job_id)

    def stop_recurrent_task(self, name: str) -> int:
        """Stop a periodic task cluster-wide (until the next boot); the number of instances removed."""
        task = self.registry.find(name)
        self.client.sadd(self.key("stopped"), task.name)
        removed = self.delete(task.queue, task.name) + len(self.delete_delayed(task.queue, task.name))
        self.client.delete(self.key("periodic", task.name))
        return removed

    def heal_periodic(self) -> list[str]:
        """Enqueue each periodic task (not stopped) whose chain broke (Redis flushed, job lost or failed)."""
        healed = []
        stopped = {raw.decode() for raw in self.client.smembers(self.key("stopped"))}
        for task in self.periodic_tasks():
            if task.name in stopped or self.live_instance(task.name) is not None:
                continue
            if self.submit(task, task.load_params({})):
                log.warning("periodic task %s had no instance queued, delayed or running; enqueued it", task.name)
                healed.append(task.name)
        return healed

    def live_instance(self, name: str) -> str | None:
        """The job id of the periodic task's queued, delayed or running instance, if any."""
        current = self.client.get(self.key("periodic", name))
        if current is None:
            return None
        status = self.client.hget(rqkeys.JOB_PREFIX + current.decode(), "status")
        return current.decode() if status is not None and status.decode() in _LIVE else None

    # --- running (in a worker) --------------------------------------------------------------

    def run_job(self, name: str, params: dict[str, Any]) -> Any:
        """What :func:`perform` does in a worker: middleware, ``run``, periodic re-enqueue, stats."""
        from rq import get_current_job

        job = get_current_job()
        # NOTE: count on the job's own client: in a forked work-horse every other client would open
        # a new connection to Redis for this one job (about a millisecond each, measured).
        return self._run(self.registry.find(name), params, job_id=job.id if job else None,
                         worker=job.worker_name if job else None, will_retry=bool(job and job.retries_left),
                         client=job.connection if job else None)

    def run_inline(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """Validate, then run through middleware in this greenlet, as a worker would (spec helper)."""
        task = self.registry.find(name)
        return self._run(task, task.load_params(params), job_id=None, worker="inline")

    def _run(self, task: Task, params: dict[str, Any], *, job_id: str | None, worker: str | None,
             will_retry: bool = False, client: Any = None) -> Any:
        data = TaskData(task=task, params=params, queue=task.queue, api=self.api, job_id=job_id, worker=worker)
        started = time.monotonic()
        outcome = "processed"
        try:
            for middleware in self.registry.middleware_for(task):
                if middleware.pre_process(data) is False:
                    outcome = "skipped"
                    break
            else:
                data.result = task.run(data.params, data)
                for middleware in self.registry.middleware_for(task):
                    middleware.post_process(data)
        except BaseException as error:
            outcome = "failed"
            log.error("[task] %s failed (job %s, worker %s): %s: %s", task.name, job_id, worker,
                      type(error).__name__, error)
            for reporter in self.exception_reporters:
                try:
                    reporter(error, data)
                except Exception:
                    log.exception("an exception reporter failed")
            # NOTE: when RQ will retry the job, that retry is the periodic task's next run.
            if task.periodic and not will_retry:
                if task.re_enqueue_periodic_task_if_exception:
                    self._next_period(task, job_id)
                else:
                    self.client.sadd(self.key("stopped"), task.name)
            raise
        finally:
            self._count(outcome, task.name, client or self.client)
            for listener in self.listeners:
                listener(outcome, task.name)
        log.info("[task] %s %s (job %s, worker %s) in %.1fms", task.name, outcome, job_id, worker,
                 (time.monotonic() - started) * 1000)
        if task.periodic:
            self._next_period(task, job_id)
        return data.result

    def _next_period(self, task: Task, job_id: str | None) -> None:
        try:
            self.enqueue_recurrent_task(task.name, own_job_id=job_id or "")
        except Exception as error:  # the run's own outcome matters more; the scheduler heals the chain
            log.error("periodic task %s could not be re-enqueued: %s", task.name, error)

    def _count(self, outcome: str, name: str, client: Any) -> None:
        try:
            with client.pipeline(transaction=False) as pipe:
                pipe.hincrby(self.key("stats"), outcome, 1)
                pipe.hincrby(self.key("stats"), f"{outcome}:{name}", 1)
                pipe.execute()
        except STORE_ERRORS:
            log.warning("tasks: could not count a %s run of %s", outcome, name)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        ProcessRunner.runner = self
        settings = self.settings
        if settings.scheduler:
            self.scheduler = Scheduler(self, interval=settings.scheduler_interval,
                                       lock_ttl=settings.scheduler_lock_ttl)
            self.scheduler.start()
            enqueued = self.enqueue_all_recurrent_tasks()
            if enqueued:
                log.info("enqueued periodic tasks: %s", ", ".join(enqueued))
        if settings.workers > 0:
            from hero.tasks.worker import WorkerPool

            self.workers_pool = WorkerPool(self, self.store, self.worker_queues(), count=settings.workers,
                                           server_id=self.server_id, heartbeat_grace=settings.heartbeat_grace,
                                           result_ttl=settings.result_ttl)
            self.workers_pool.start()
        self._warn_without_workers()

    def stop(self) -> None:
        if self.workers_pool is not None:
            self.workers_pool.stop(timeout=self.shutdown_timeout)
            self.workers_pool = None
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if ProcessRunner.runner is self:
            ProcessRunner.runner = None

    def _warn_without_workers(self) -> None:
        app_tasks = [task.name for task in self.registry if not self.registry.sources[task.name].startswith(
            str(Path(__file__).parent))]
        if not app_tasks or self.settings.workers > 0 or not self.warn_without_workers:
            return
        if self.store.embedded:
            log.error("TASKS WILL NOT RUN: %d tasks are defined (%s) but tasks.workers is 0, and no `hero worker` "
                      "can reach the embedded store; set tasks.workers > 0 or REDIS_URL", len(app_tasks),
                      ", ".join(app_tasks))
            return
        try:
            listening = {queue for worker in self.workers().values() for queue in worker["queues"]}
        except STORE_ERRORS:
            return
        idle = [queue for queue in sorted({self.registry.find(name).queue for name in app_tasks})
                if queue not in listening]
        if idle:
            log.error("TASKS WILL NOT RUN: no worker listens on queue(s) %s (tasks.workers is 0 and no `hero worker` "
                      "is registered); start `hero worker %s` or set tasks.workers > 0",
                      ", ".join(idle), " ".join(idle))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _check_number(what: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TaskError(f"{what} must be a number of milliseconds, got {value!r}")
