"""RQ's Redis keys and job states, spelled out: its storage format, without importing RQ.

    rqkeys.queue("default")      # rq:queue:default      (a list of job ids)
    rqkeys.scheduled("default")  # rq:scheduled:default  (delayed jobs, scored by when they are due)
    rqkeys.started("default")    # rq:wip:default        (running jobs, scored by their heartbeat's expiry)
    rqkeys.JOB_PREFIX + job_id   # rq:job:<id>           (a job's hash)

A server process that runs no worker only enqueues, promotes delayed jobs and looks for abandoned ones:
one Lua script or one read each, on these keys. RQ itself (~2.5 MiB of an idle process with what it
imports: urllib.request, http.client, email, multiprocessing, ctypes) loads when a job is first built,
run or inspected. These names are RQ's format since 1.x, the same in 2.x and 3.x (the layout every
RQ-compatible tool reads); ``tests/tasks/test_rqkeys.py`` checks each against the RQ installed.
"""
from __future__ import annotations

#: The set of every queue's key (``rq:queue:<name>`` each).
QUEUES = "rq:queues"
QUEUE_PREFIX = "rq:queue:"
JOB_PREFIX = "rq:job:"
#: The set of every registered worker's key (``rq:worker:<name>`` each).
WORKERS = "rq:workers"
WORKER_PREFIX = "rq:worker:"

#: ``rq.job.JobStatus`` values of a job that still will run or runs now.
QUEUED, SCHEDULED, STARTED = "queued", "scheduled", "started"


def queue(name: str) -> str:
    return QUEUE_PREFIX + name


def scheduled(name: str) -> str:
    """``ScheduledJobRegistry``: delayed jobs of queue ``name``, scored by when they are due (epoch s)."""
    return f"rq:scheduled:{name}"


def started(name: str) -> str:
    """``StartedJobRegistry``: ``<job id>:<execution id>`` entries, scored by their heartbeat's expiry."""
    return f"rq:wip:{name}"


def intermediate(name: str) -> str:
    """Where a worker moves a job it takes (``BLMOVE``) before it registers the job as started."""
    return f"{QUEUE_PREFIX}{name}:intermediate"


def worker_executions(worker_name: str) -> str:
    """The set of the executions a worker runs now (``<job id>:<execution id>`` each)."""
    return f"{WORKER_PREFIX}{worker_name}:executions"
