"""hero.tasks.rqkeys spells RQ's keys and job states as the installed RQ does, and a server that runs no
worker holds none of RQ's modules until a job is built, run or inspected."""
from __future__ import annotations

import subprocess
import sys

import redis
from rq import Queue
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.worker import Worker

from hero.tasks import rqkeys


def test_the_keys_are_rqs_own():
    client = redis.Redis()  # NOTE: never connected: RQ builds these names without a round trip
    for name in ("default", "emails", "a:b"):
        queue = Queue(name, connection=client)
        assert rqkeys.queue(name) == queue.key
        assert rqkeys.scheduled(name) == ScheduledJobRegistry(queue=queue).key
        assert rqkeys.started(name) == StartedJobRegistry(queue=queue).key
        assert rqkeys.intermediate(name) == queue.intermediate_queue_key
    assert rqkeys.QUEUES == Queue.redis_queues_keys
    assert rqkeys.QUEUE_PREFIX == Queue.redis_queue_namespace_prefix
    assert rqkeys.JOB_PREFIX == Job.redis_job_namespace_prefix
    assert rqkeys.WORKERS == Worker.redis_workers_keys
    assert rqkeys.WORKER_PREFIX == Worker.redis_worker_namespace_prefix
    assert rqkeys.worker_executions("w1") == WORKER_EXECUTIONS_KEY_TEMPLATE.format("w1")
    assert (rqkeys.QUEUED, rqkeys.SCHEDULED, rqkeys.STARTED) == (
        JobStatus.QUEUED.value, JobStatus.SCHEDULED.value, JobStatus.STARTED.value)


#: Boots a server process's tasks (scheduler leading, no worker), lets the scheduler run rounds, then
#: enqueues: RQ loads only then, for the task's first jobs (its template).
NO_RQ_UNTIL_A_JOB = """
import sys
from gevent import monkey
monkey.patch_all()
import gevent
from hero.process import Process
process = Process(sys.argv[1], overrides={"web": {"enabled": False}, "socket": {"enabled": False},
                                          "tasks": {"workers": 0, "scheduler_interval": 0.1}})
api = process.start()
try:
    gevent.sleep(0.5)
    assert api.tasks.scheduler is not None and api.tasks.scheduler.leading
    idle = sorted(name for name in sys.modules if name == "rq" or name.startswith("rq."))
    lengths = api.tasks.total_queue_length(), api.tasks.total_delayed(), api.tasks.workers()
    still = sorted(name for name in sys.modules if name == "rq" or name.startswith("rq."))
    assert api.tasks.enqueue("noop", {})
    print(idle, still, lengths[0], "rq" in sys.modules, api.tasks.total_queue_length())
finally:
    process.stop()
"""


def test_a_server_without_workers_loads_rq_with_its_first_job(redis_url, tmp_path):
    root = tmp_path / "app"
    (root / "tasks").mkdir(parents=True)
    (root / "tasks" / "noop.py").write_text(
        "from hero import Task\n\n\nclass Noop(Task):\n    name = 'noop'\n\n    def run(self, params, worker):\n"
        "        return None\n")
    (root / "config.py").write_text('general = {"server_name": "rqkeys"}\n')
    env = {"REDIS_URL": redis_url, "HERO_LOGGER__LEVEL": "error", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", NO_RQ_UNTIL_A_JOB, str(root)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["[]", "[]", "0", "True", "1"]
