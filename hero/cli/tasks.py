"""Task commands of the ``hero`` CLI (merged into ``hero.cli.main``'s commands).

    hero worker [queues...] [--burst]      RQ's forking worker with the app loaded (SIGTERM: warm stop)
    hero enqueue <task> --params JSON      validate and enqueue (``--in MS`` / ``--at MS`` to delay)
    hero tasks [--json]                    queues, workers, failed jobs, the scheduler leader

``hero worker`` runs in a process that is not monkey-patched (``hero.cli.main.UNPATCHED_COMMANDS``):
RQ forks one work-horse per job, and forking a gevent process copies its greenlets.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hero.errors import BootError, HeroError

if TYPE_CHECKING:
    # NOTE: for annotations only; the commands import these once the process is set up (see _process).
    from hero.container import Api
    from hero.process import Process

log = logging.getLogger("hero.cli")

#: Initializers a `hero worker` does not start: their greenlets would never run in an unpatched
#: process (and would be copied into every work-horse).
WORKER_SKIPS = frozenset({"cluster"})

_OFF: dict[str, dict[str, Any]] = {"web": {"enabled": False}, "socket": {"enabled": False},
                                   "tasks": {"workers": 0, "scheduler": False}}


def _process(args: argparse.Namespace) -> tuple[Process, Api]:
    # NOTE: imported here: `hero worker` runs unpatched, and the other commands patch first in main();
    # either way hero.process (gevent, redis, rq) must not load with the CLI's own modules.
    from hero.process import Process

    process = Process(args.root, overrides=_OFF)
    api = process.initialize()
    api.tasks.warn_without_workers = False
    return process, api


def _require_shared_store(api: Api, what: str) -> None:
    if api.redis.embedded:
        raise BootError(f"{what} needs a shared Redis: set REDIS_URL (the embedded store lives only in this process)")


def command_worker(args: argparse.Namespace) -> int:
    # NOTE: imported here for the reason in _process.
    from hero.tasks.task import JSONSerializer
    from hero.tasks.worker import ForkingWorker

    process, api = _process(args)
    _require_shared_store(api, "hero worker")
    process.initializers = [item for item in process.initializers if item.name not in WORKER_SKIPS]
    process.start()
    settings = api.config.tasks
    queues = list(args.queues) or api.tasks.worker_queues()
    try:
        worker = ForkingWorker(
            queues, connection=api.redis.build(decode_responses=False, blocking=True),
            serializer=JSONSerializer, job_monitoring_interval=settings.job_monitoring_interval,
            heartbeat_grace=settings.heartbeat_grace, default_result_ttl=settings.result_ttl,
            **({"name": args.name} if args.name else {}),
        )
        sys.stdout.write(f"hero worker {worker.name} (pid {worker.pid}) listening on {', '.join(queues)}\n")
        sys.stdout.flush()
        # NOTE: RQ installs its own SIGINT/SIGTERM handlers here: the first signal lets the running
        # job finish (warm shutdown), a second one kills the work-horse.
        worker.work(burst=args.burst, logging_level=None, with_scheduler=False)
    finally:
        process.stop()
    return 0


def command_enqueue(args: argparse.Namespace) -> int:
    try:
        params = json.loads(args.params)
    except ValueError as error:
        sys.stderr.write(f"hero: --params is not JSON: {error}\n")
        return 1
    process, api = _process(args)
    try:
        _require_shared_store(api, "hero enqueue")
        if args.at is not None:
            enqueued = api.tasks.enqueue_at(args.at, args.task, params, queue=args.queue)
        elif args.delay is not None:
            enqueued = api.tasks.enqueue_in(args.delay, args.task, params, queue=args.queue)
        else:
            enqueued = api.tasks.enqueue(args.task, params, queue=args.queue)
    except HeroError as error:
        sys.stderr.write(f"hero: {error.message}\n")
        return 1
    finally:
        process.stop()
    sys.stdout.write(("enqueued" if enqueued else "not enqueued (refused by middleware, or already pending)")
                     + f": {args.task}\n")
    return 0 if enqueued else 2


def command_tasks(args: argparse.Namespace) -> int:
    process, api = _process(args)
    try:
        details = api.tasks.details()
        failed = api.tasks.failed(0, 9)
        names = [task.describe() for task in api.tasks.registry]
    finally:
        process.stop()
    if args.json:
        sys.stdout.write(json.dumps({"tasks": names, **details, "failed": failed}, indent=2, default=str) + "\n")
        return 0
    out = sys.stdout
    out.write("tasks: " + ", ".join(f"{t['name']}{' (every %d ms)' % t['frequency'] if t['frequency'] else ''}"
                                     for t in names) + "\n")
    out.write(f"scheduler leader: {details['leader'] or 'none'}\n")
    out.write("queues:\n")
    for name, queue in details["queues"].items():
        out.write(f"  {name:<16} queued {queue['length']:<6} delayed {queue['delayed']:<6} "
                  f"running {queue['started']:<6} failed {queue['failed']}\n")
    out.write(f"workers: {len(details['workers'])}\n")
    for name, worker in details["workers"].items():
        out.write(f"  {name}  {worker['state']}  on {','.join(worker['queues'])}"
                  f"{'  job ' + worker['job'] if worker['job'] else ''}\n")
    out.write(f"failed (latest {len(failed)}):\n")
    for job in failed:
        error = (job.get("error") or "").strip().splitlines()
        out.write(f"  {job['id']}  {job['task']}  {job['params']}  {error[-1] if error else ''}\n")
    return 0


def _configure_worker(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queues", nargs="*", help="queues in priority order (default: tasks.queues)")
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--name", help="the worker's name (default: a random one)")


def _configure_enqueue(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="the task's name")
    parser.add_argument("--params", default="{}", help="the task's params as a JSON object")
    parser.add_argument("--queue", help="another queue than the task's own")
    parser.add_argument("--in", dest="delay", type=int, help="run in this many milliseconds")
    parser.add_argument("--at", type=int, help="run at this time (epoch milliseconds)")


# NOTE: configure's result is ignored (``object``): the lambda below returns add_argument's Action.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], object], Callable[[argparse.Namespace], int]]] = {
    "worker": ("work tasks (RQ's forking worker with the app loaded)", _configure_worker, command_worker),
    "enqueue": ("validate and enqueue a task", _configure_enqueue, command_enqueue),
    "tasks": ("show queues, workers and failed jobs",
              lambda parser: parser.add_argument("--json", action="store_true", help="print JSON"), command_tasks),
}
