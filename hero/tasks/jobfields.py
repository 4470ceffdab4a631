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

The template's fields are also encoded as RESP once (:attr:`JobHash.shared_resp`): the enqueue's
command is ~40 arguments of which ~35 never change, and encoding them on every enqueue
(``hiredis.pack_command``, and the list of pairs it takes) was a quarter of the enqueue's CPU.
"""
from __future__ import annotations

import logging
import os
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from hero.tasks.task import JSONSerializer, Task, TaskData

if TYPE_CHECKING:
    # NOTE: for annotations only: a process that enqueues from templates never needs RQ (hero.tasks.rqkeys).
    from rq.job import Job

log = logging.getLogger(__name__)

#: The fields RQ writes that change from one new job of a task to the next.
VARYING = frozenset({"created_at", "enqueued_at", "data"})
#: Templates kept (tasks x queues x queued/delayed); past it, jobs are built by RQ.
MAX_TEMPLATES = 1024
#: A template: the fields every job of the task shares (without :data:`VARYING`), as RESP too, the
#: function name its call names, and whether its jobs carry ``enqueued_at``.
Template = tuple[dict[str, Any], bytes, str, bool]


def resp_bulk(value: str | bytes) -> bytes:
    """One RESP bulk string, as ``hiredis.pack_command`` encodes an argument."""
    raw = value.encode() if isinstance(value, str) else value
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


@dataclass(frozen=True, eq=False)
class JobHash:
    """The hash of one new job: the fields its task's jobs share, and its own."""

    #: The template's fields (shared by every job built from it: never changed).
    shared: Mapping[str, Any]
    #: :attr:`shared` as RESP bulk strings, name then value (the tail of an HSET).
    shared_resp: bytes
    #: This job's own fields (every field, when RQ built the job).
    own: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {**self.shared, **self.own}

    def __len__(self) -> int:
        return len(self.shared) + len(self.own)


def as_fields(job: Job) -> dict[str, Any]:
    """RQ's ``to_dict`` as the hash stores it: no None, enums by value, everything else bytes or str."""
    return {name: value if isinstance(value, bytes) else str(getattr(value, "value", value))
            for name, value in job.to_dict().items() if value is not None}


#: A job's call up to this size is compressed with a window that holds all of it (:func:`compress_call`).
SMALL_CALL = 4096


def compress_call(call: bytes) -> bytes:
    """``zlib.compress(call)`` as RQ writes ``data``: a zlib stream that ``zlib.decompress`` reads.

    NOTE: zlib.compress sets up a 32 KiB window and a 64K-entry hash table (~260 KB, which malloc
    maps and unmaps for each call): ~15 µs of CPU for a 40-byte call, measured, against ~3 µs with
    a 4 KiB window and a small table. A call that fits in the window finds the same matches.
    """
    if len(call) > SMALL_CALL:
        return zlib.compress(call)
    compressor = zlib.compressobj(6, zlib.DEFLATED, 12, 2)
    return compressor.compress(call) + compressor.flush()


_second: list[Any] = [None, ""]


def utc_stamp() -> str:
    """``rq.utils.utcformat(now())`` (``2026-12-03T04:22:54.549196Z``): the date and time to the second
    formatted once a second, the microseconds each time."""
    stamp = time.time()
    second = int(stamp)
    if _second[0] != second:
        _second[:] = [second, datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")]
    return f"{_second[1]}{int((stamp - second) * 1_000_000):06d}Z"


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
        job_id, job = self.job(task, data)
        return job_id, job.as_dict()

    def job(self, task: Task, data: TaskData) -> tuple[str, JobHash]:
        """A new job's id and hash, from the task's template when it has one, else from RQ."""
        key = (id(task), task.name, data.queue, data.run_at is None)
        if key in self._templates:
            template = self._templates[key]
        else:
            template = self._learn(task, data)
            if len(self._templates) < MAX_TEMPLATES:
                self._templates[key] = template
        if template is None:
            built = self.build(task, data)
            return built.id, JobHash({}, b"", as_fields(built))
        shared, shared_resp, function, enqueued = template
        stamp = utc_stamp()
        own: dict[str, Any] = {"created_at": stamp, "enqueued_at": stamp} if enqueued else {"created_at": stamp}
        own["data"] = compress_call(JSONSerializer.dumps((function, None, (task.name, data.params), {})))
        # NOTE: as unique as RQ's uuid4().hex, without the UUID object
        return os.urandom(16).hex(), JobHash(shared, shared_resp, own)

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
        shared = {name: value for name, value in first.items() if name not in VARYING}
        return (shared, b"".join(resp_bulk(name) + resp_bulk(value) for name, value in shared.items()),
                str(one.func_name), "enqueued_at" in first)
