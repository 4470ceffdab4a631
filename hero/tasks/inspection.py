"""The inspection and removal half of ``api.tasks`` (actionhero's task API: queued, delayed,
failed, workers, stats, details). :class:`hero.tasks.queue.Tasks` inherits it; everything here reads or
deletes what the enqueue half wrote, through RQ's registries and hero's own keys.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hero.services.redis_mux import Probe
from hero.services.store import RedisStore
from hero.tasks import rqkeys
from hero.tasks.scheduler import current_leader
from hero.tasks.task import JSONSerializer, TaskRegistry

if TYPE_CHECKING:
    # NOTE: RQ's objects load with the first read of jobs or registries; lengths, workers and keys
    # are read without them (hero.tasks.rqkeys).
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry


def queue_names_in(members: Iterable[str | bytes]) -> set[str]:
    """The queue names in RQ's set of queue keys (``rq:queues``: ``rq:queue:<name>`` each, bytes from
    an undecoded client, str from the store's commands)."""
    prefix = rqkeys.QUEUE_PREFIX
    names = (member.decode() if isinstance(member, bytes) else member for member in members)
    return {name[len(prefix):] for name in names if name.startswith(prefix)}


def live_workers(client: Any) -> dict[str, dict[str, Any]]:
    """Every live RQ worker registered in Redis: name → queues, state, host, pid, current job.

    Read straight from RQ's keys: ``Worker.all()`` would build Worker objects, each raising the
    read timeout of the client it is given.
    """
    prefix = rqkeys.WORKER_PREFIX
    keys = sorted(raw.decode() for raw in client.smembers(rqkeys.WORKERS))
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
            pipe.smembers(rqkeys.worker_executions(key[len(prefix):]))
        replies = pipe.execute()
    workers = {}
    for index, key in enumerate(keys):
        fields = {k.decode(): v.decode() for k, v in replies[2 * index].items()}
        if not fields or "death" in fields:
            continue
        executions = sorted(raw.decode().rpartition(":")[0] for raw in replies[2 * index + 1])
        workers[key[len(prefix):]] = {
            "queues": [q for q in fields.get("queues", "").split(",") if q],
            "state": fields.get("state"), "host": fields.get("hostname"), "pid": fields.get("pid"),
            "job": executions[0] if executions else None, "started": fields.get("birth"),
        }
    return workers


class TaskInspection:
    """Reads and removals over the queues; needs ``client``, ``registry``, ``queue()`` and ``key()``."""

    client: Any
    registry: TaskRegistry
    store: RedisStore
    #: Queue names RQ's set held at the last :meth:`lengths_probe` (their keys are read every time).
    _seen_queues: set[str]

    def queue(self, name: str) -> Queue:
        raise NotImplementedError

    def queue_names(self) -> list[str]:
        raise NotImplementedError

    def queue_names_without_redis(self) -> set[str]:
        raise NotImplementedError

    def key(self, *parts: str) -> str:
        raise NotImplementedError

    def _jobs(self, ids: Iterable[str]) -> list[Job | None]:
        from rq.job import Job

        ids = list(ids)
        return Job.fetch_many(ids, connection=self.client, serializer=JSONSerializer) if ids else []

    @staticmethod
    def _info(job: Job, queue: str, timestamp_ms: int | None = None) -> dict[str, Any]:
        try:
            name, params = job.args[0], job.args[1] if len(job.args) > 1 else {}
        except Exception:  # a job hero did not write (another serializer, another function)
            name, params = job.func_name, None
        return {"id": job.id, "task": name, "queue": queue, "params": params, "timestamp": timestamp_ms}

    def queued(self, queue: str, start: int = 0, stop: int = -1) -> list[dict[str, Any]]:
        """The jobs waiting in ``queue`` (oldest first): ``{id, task, queue, params, timestamp: None}``."""
        ids = [raw.decode() for raw in self.client.lrange(rqkeys.queue(queue), start, stop)]
        return [self._info(job, queue) for job in self._jobs(ids) if job is not None]

    def delete(self, queue: str, name: str, params: Mapping[str, Any] | None = None, count: int = 0) -> int:
        """Remove queued jobs of task ``name`` (only those with exactly ``params`` when given); how many."""
        removed = 0
        for info in self.queued(queue):
            if info["task"] == name and (params is None or info["params"] == dict(params)):
                if self.client.lrem(rqkeys.queue(queue), 1, info["id"]):
                    self.client.delete(rqkeys.JOB_PREFIX + info["id"])
                    removed += 1
                if count and removed >= count:
                    break
        return removed

    def _delayed(self, queue: str) -> list[tuple[str, int]]:
        key = rqkeys.scheduled(queue)
        return [(raw.decode(), round(score * 1000)) for raw, score in self.client.zrange(key, 0, -1, withscores=True)]

    def _delayed_infos(self, queue: str) -> list[dict[str, Any]]:
        entries = self._delayed(queue)
        jobs = self._jobs(job_id for job_id, _ in entries)
        return [self._info(job, queue, ts) for job, (_, ts) in zip(jobs, entries) if job is not None]

    def delete_delayed(self, queue: str, name: str, params: Mapping[str, Any] | None = None) -> list[int]:
        """Remove delayed jobs of task ``name``; the timestamps (ms) they were due at."""
        key = rqkeys.scheduled(queue)
        removed = []
        for info in self._delayed_infos(queue):
            if info["task"] == name and (params is None or info["params"] == dict(params)):
                if self.client.zrem(key, info["id"]):
                    self.client.delete(rqkeys.JOB_PREFIX + info["id"])
                    removed.append(info["timestamp"])
        return removed

    def scheduled_at(self, queue: str, name: str, params: Mapping[str, Any] | None = None) -> list[int]:
        """When (epoch ms) the delayed jobs of task ``name`` in ``queue`` are due."""
        return [info["timestamp"] for info in self._delayed_infos(queue)
                if info["task"] == name and (params is None or info["params"] == dict(params))]

    def delete_queue(self, queue: str) -> int:
        """Empty ``queue`` and delete its jobs; how many were waiting."""
        waiting = self.client.llen(rqkeys.queue(queue))
        self.queue(queue).empty()
        return int(waiting)

    def all_delayed(self) -> dict[int, list[dict[str, Any]]]:
        """Every delayed job, by the timestamp (ms) it is due at."""
        by_time: dict[int, list[dict[str, Any]]] = {}
        for queue in self.queue_names():
            for info in self._delayed_infos(queue):
                by_time.setdefault(info["timestamp"], []).append(info)
        return dict(sorted(by_time.items()))

    def timestamps(self) -> list[int]:
        """The distinct times (epoch ms) at which delayed jobs are due, ascending."""
        return sorted({ts for queue in self.queue_names() for _, ts in self._delayed(queue)})

    def delayed_at(self, timestamp_ms: int) -> list[dict[str, Any]]:
        return self.all_delayed().get(int(timestamp_ms), [])

    def find_enqueued(self, name: str) -> list[dict[str, Any]]:
        """Queued (timestamp None) and delayed jobs of task ``name`` in every queue."""
        found = []
        for queue in self.queue_names():
            found += [info for info in self.queued(queue) + self._delayed_infos(queue) if info["task"] == name]
        return found

    def delete_enqueued(self, name: str, params: Mapping[str, Any] | None = None) -> int:
        """Remove every queued and delayed job of task ``name`` (with exactly ``params`` when given)."""
        return sum(self.delete(queue, name, params) + len(self.delete_delayed(queue, name, params))
                   for queue in self.queue_names())

    def workers(self) -> dict[str, dict[str, Any]]:
        """Live RQ workers (``hero worker`` processes and in-process greenlets): name → queues, state, job."""
        return live_workers(self.client)

    def _failed_registries(self) -> list[FailedJobRegistry]:
        from rq.registry import FailedJobRegistry

        return [FailedJobRegistry(queue=self.queue(name)) for name in self.queue_names()]

    def failed(self, start: int = 0, stop: int = -1) -> list[dict[str, Any]]:
        """Failed jobs (all queues), each with its ``error`` (the traceback or reason) and ``failed_at``."""
        found = []
        for registry in self._failed_registries():
            for job in self._jobs(registry.get_job_ids()):
                if job is None:
                    continue
                info = self._info(job, registry.name)
                result = job.latest_result()
                info["error"] = result.exc_string if result is not None else None
                info["failed_at"] = job.ended_at.isoformat() if job.ended_at else None
                found.append(info)
        return found[start:None if stop == -1 else stop + 1]

    def failed_count(self) -> int:
        return sum(registry.count for registry in self._failed_registries())

    def remove_failed(self, job_id: str) -> int:
        """Forget a failed job; 1 when it was there."""
        for registry in self._failed_registries():
            if job_id in registry:
                registry.remove(job_id, delete_job=True)
                return 1
        return 0

    def retry_and_remove_failed(self, job_id: str) -> bool:
        """Put a failed job back on its queue; False when it is not in a failed registry."""
        for registry in self._failed_registries():
            if job_id in registry:
                registry.requeue(job_id)
                return True
        return False

    def stats(self) -> dict[str, int]:
        """Runs counted across the cluster: ``processed``, ``failed``, ``skipped`` and per task (``failed:x``)."""
        return {k.decode(): int(v) for k, v in sorted(self.client.hgetall(self.key("stats")).items())}

    def total_queue_length(self) -> int:
        """Jobs waiting in every queue (not delayed, not running)."""
        return int(self.store.gather([self.lengths_probe()])[0][0])

    def lengths_probe(self) -> Probe:
        """``(total_queue_length(), total_delayed())`` as part of a read of several services in one round
        trip (the status action), over the queues known so far; a queue RQ's set names that this
        process had not seen is counted by one more round trip, once."""
        names = self.queue_names_without_redis() | self._seen_queues
        keys = [self._length_keys(name) for name in sorted(names)]
        commands: list[tuple[Any, ...]] = [("SMEMBERS", rqkeys.QUEUES)]
        commands += [("LLEN", queued) for queued, _ in keys]
        commands += [("ZCARD", delayed) for _, delayed in keys]

        def read(replies: list[Any]) -> tuple[int, int]:
            count = len(keys)
            queued = sum(int(length) for length in replies[1:1 + count])
            delayed = sum(int(length) for length in replies[1 + count:])
            found = queue_names_in(replies[0])
            new = sorted(found - names)
            if new:
                self._seen_queues |= found
                more = [self._length_keys(name) for name in new]
                lengths = self.store.commands.execute([("LLEN", queued) for queued, _ in more] +
                                                      [("ZCARD", delayed) for _, delayed in more])
                queued += sum(int(length) for length in lengths[:len(more)])
                delayed += sum(int(length) for length in lengths[len(more):])
            return queued, delayed

        return Probe(commands, read)

    @staticmethod
    def _length_keys(name: str) -> tuple[str, str]:
        """The keys of queue ``name``'s waiting list and of its delayed jobs' registry."""
        return rqkeys.queue(name), rqkeys.scheduled(name)

    def total_delayed(self) -> int:
        """Jobs waiting for their time in every queue (``enqueue_in`` / ``enqueue_at``)."""
        return int(self.store.gather([self.lengths_probe()])[0][1])

    def leader(self) -> str | None:
        """The id of the process whose scheduler leads the cluster, if any."""
        return current_leader(self)

    def details(self) -> dict[str, Any]:
        """actionhero's ``details()``: queues with their lengths, workers, stats and the scheduler leader."""
        from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

        queues = {}
        for name in self.queue_names():
            queue = self.queue(name)
            queues[name] = {"length": queue.count, "delayed": ScheduledJobRegistry(queue=queue).count,
                            "started": StartedJobRegistry(queue=queue).count,
                            "failed": FailedJobRegistry(queue=queue).count}
        return {"queues": queues, "workers": self.workers(), "stats": self.stats(), "leader": self.leader()}

