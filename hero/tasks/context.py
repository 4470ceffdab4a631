"""Which app a job runs for.

RQ calls one module-level function (:func:`hero.tasks.perform`) for every job; it finds the task
runner here: the runner set for the worker greenlet running the job, else the runner of the process
(``hero worker``, whose forked work-horse has no greenlets of its own).
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

#: The one job function RQ may call in a hero worker (stored by name inside every hero job).
PERFORM = "hero.tasks.perform"


class JobRunner(Protocol):
    """What runs a job by task name (``hero.tasks.queue.Tasks``)."""

    def run_job(self, name: str, params: dict[str, Any]) -> Any: ...


#: The runner a worker greenlet works for (each greenlet has its own context).
RUNNING: ContextVar[JobRunner | None] = ContextVar("hero_task_runner", default=None)


class ProcessRunner:
    """The runner of this process, set while its tasks are started and cleared when they stop."""

    runner: JobRunner | None = None


def current_runner() -> JobRunner | None:
    return RUNNING.get() or ProcessRunner.runner
