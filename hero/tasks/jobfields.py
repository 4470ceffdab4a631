"""The Redis hash of a job to enqueue, without building RQ's ``Job`` every time.

Building a job through RQ (``Queue.create_job``, then ``Job.to_dict``) costs ~90 µs of CPU here, more
than the rest of an enqueue (one Lua script on the shared connection): RQ's ``Job.__init__`` checks
its serializer against a runtime ``Protocol`` (~12 µs) and ``to_dict`` formats dates and compresses.
Of the fields RQ writes for a new job only three change from one job of a task to the next:
``created_at``, ``enqueued_at`` and ``data`` (the compressed call). So the first enqueue of a task
(per queue, queued or delayed) builds two jobs through RQ itself and compares their fields: when
exactly those differ, and ``data`` is the JSON of the call as this module writes it, their fields
become the task's template, and later jobs copy it and fill in the three. When anything else
differs (another RQ, whose jobs carry more), the template is refused and every job of that task is
built by RQ, as before. RQ stays the author of the format; this only stops asking it every time.
"""
from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from rq.job import Job

from hero.tasks.task import JSONSerializer, Task, TaskData

log = logging.getLogger(__name__)

#: The fields RQ writes that change from one new job of a task to the next.
VARYING = frozenset({"created_at", "enqueued_at", "data"})
#: Templates kept (tasks x queues x queued/delayed); past it, jobs are built by RQ.
MAX_TEMPLATES = 1024
#: A template: the fields of a job of the task, and the function name its call names.
Template = tuple[dict[str, Any], str]


def as_fields(job: Job) -> dict[str, Any]:
    """RQ's ``to_dict`` as the hash stores it: no None, enums by value, everything else bytes or str."""
    return {name: value if isinstance(value, bytes) else str(getattr(value, "value", value))
            for name, value in job.to_dict().items() if value is not None}


def _utc_stamp() -> str:
    """``rq.utils.utcformat(now())`` (``2026-12-03T04:22:54.549196Z``) by C's isoformat, not strftime."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")[:-6] + "Z"


class JobFields:
    """``fields(task, data)`` → (job id, the hash to store), from a template when the task has one."""

    def __init__(self, build: Callable[[Task, TaskData], Job]) -> None:
        #: RQ's way: builds a whole Job (hero.tasks.queue.Tasks._build_job).
        self.build = build
        #: None: refused (RQ builds each job of that task).
        self._templates: dict[tuple[Any, ...], Template | None] = {}

    def __repr__(self) -> str:
        return f"JobFields({len(self._templates)} templates)"

    def fields(self, task: Task, data: TaskData) -> tuple[str, dict[str, Any]]:
        key = (id(task), task.name, data.queue, data.run_at is None)
        if key in self._templates:
            template = self._templates[key]
        else:
            template = self._learn(task, data)
            if len(self._templates) < MAX_TEMPLATES:
                self._templates[key] = template
        if template is None:
            job = self.build(task, data)
            return job.id, as_fields(job)
        known, function = template
        fields = dict(known)
        stamp = _utc_stamp()
        fields["created_at"] = stamp
        if "enqueued_at" in fields:
            fields["enqueued_at"] = stamp
        fields["data"] = zlib.compress(JSONSerializer.dumps((function, None, (task.name, data.params), {})))
        return os.urandom(16).hex(), fields  # NOTE: as unique as RQ's uuid4().hex, without the UUID object

    def _learn(self, task: Task, data: TaskData) -> Template | None:
        """The task's template, or None when RQ's jobs differ by more than :data:`VARYING`."""
        one = self.build(task, replace(data, params={"probe": 1}))
        two = self.build(task, replace(data, params={"other": [2]}))
        first, second = as_fields(one), as_fields(two)
        differing = {name for name in first.keys() | second.keys() if first.get(name) != second.get(name)}
        call = JSONSerializer.dumps((one.func_name, None, (task.name, {"probe": 1}), {}))
        if (first.keys() != second.keys() or not differing <= VARYING or "created_at" not in first
                or zlib.decompress(first["data"]) != call):
            log.info("tasks: RQ's jobs of %s carry fields hero does not template (%s); RQ builds each one",
                     task.name, sorted(differing - VARYING))
            return None
        return first, str(one.func_name)
