"""In-process task workers and the scheduler: jobs run, delayed jobs are promoted, periodic tasks
repeat without piling up, failures are retried then filed, timeouts and unknown tasks fail cleanly.
Real Redis and the embedded store."""
import logging
import time

import gevent
import pytest
from rq import Queue
from rq.job import Job, JobStatus

from hero.errors import TaskError
from hero.tasks.task import JSONSerializer, Task, TaskMiddleware
from tests.support.apps import wait_for

pytestmark = pytest.mark.timeout(30)

RUNS: list[float] = []
ATTEMPTS: list[int] = []


class QuickPeriodic(Task):
    name = "quickPeriodic"
    frequency = 100

    def run(self, params, worker):
        RUNS.append(time.time())


class AlwaysFails(Task):
    name = "alwaysFails"
    retries = 2
    retry_intervals = [0]

    def run(self, params, worker):
        ATTEMPTS.append(1)
        raise TaskError("this task always fails")


class SlowTask(Task):
    name = "slowTask"
    timeout = 1
    retries = 0

    def run(self, params, worker):
        gevent.sleep(params.get("seconds", 5))
        return "woke up"


@pytest.fixture(params=["redis", "embedded"])
def api(request, boot_hero):
    RUNS.clear()
    ATTEMPTS.clear()
    booted = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False},
                        "tasks": {"workers": 2, "scheduler": True}}, redis=request.param == "redis")
    for task_class in (AlwaysFails, SlowTask):
        booted.tasks.registry.add(task_class)
    return booted


def enqueue(api, name, params=None):
    """Enqueue and return the job id (caught by a middleware: a worker may take the job at once)."""
    ids = []
    middleware = TaskMiddleware(f"capture-{time.monotonic()}", is_global=True,
                                post_enqueue=lambda data: ids.append(data.job_id))
    api.tasks.registry.add_middleware(middleware)
    try:
        assert api.tasks.enqueue(name, params)
    finally:
        api.tasks.registry.middleware.remove(middleware.name)
    return ids[0]


def job_status(api, job_id):
    return Job.fetch(job_id, connection=api.tasks.client, serializer=JSONSerializer).get_status()


def test_a_worker_runs_an_enqueued_task(api):
    job_id = enqueue(api, "sayHello", {"name": "worker"})
    wait_for(lambda: api.tasks.stats().get("processed:sayHello") == 1)
    fetched = Job.fetch(job_id, connection=api.tasks.client, serializer=JSONSerializer)
    assert wait_for(lambda: fetched.get_status() == JobStatus.FINISHED)
    assert fetched.return_value() == "hello worker"


def test_a_delayed_task_runs_once_due(api):
    started = time.time()
    api.tasks.enqueue_in(300, "sayHello", {"name": "later"})
    wait_for(lambda: api.tasks.stats().get("processed:sayHello") == 1)
    assert time.time() - started >= 0.3
    assert api.tasks.timestamps() == []


def test_a_periodic_task_runs_repeatedly_and_leaves_one_instance(api):
    api.tasks.registry.add(QuickPeriodic)  # the leader's next round enqueues it
    gevent.sleep(1.5)
    assert len(RUNS) >= 3
    gaps = [b - a for a, b in zip(RUNS, RUNS[1:])]
    assert min(gaps) >= 0.09  # never two runs within one period
    api.tasks.workers_pool.stop(timeout=2)
    gevent.sleep(0.3)
    assert len(api.tasks.find_enqueued("quickPeriodic")) == 1


def test_retries_then_the_failed_registry(api):
    api.tasks.enqueue("alwaysFails")
    wait_for(lambda: api.tasks.failed_count() == 1)
    assert len(ATTEMPTS) == 3  # the first run and 2 retries
    (failed,) = api.tasks.failed()
    assert failed["task"] == "alwaysFails" and "this task always fails" in failed["error"]
    assert api.tasks.stats()["failed:alwaysFails"] == 3
    assert api.tasks.retry_and_remove_failed(failed["id"]) is True
    wait_for(lambda: len(ATTEMPTS) == 4 and api.tasks.failed_count() == 1)
    assert api.tasks.remove_failed(failed["id"]) == 1
    assert api.tasks.failed_count() == 0 and api.tasks.remove_failed(failed["id"]) == 0


def test_a_task_past_its_timeout_fails(api):
    api.tasks.enqueue("slowTask", {"seconds": 5})
    wait_for(lambda: api.tasks.failed_count() == 1, timeout=10)
    (failed,) = api.tasks.failed()
    assert "JobTimeoutException" in failed["error"]


def test_details_show_a_worker_working_on_a_slow_task(api):
    api.tasks.enqueue("slowTask", {"seconds": 0.8})
    working = wait_for(lambda: [w for w in api.tasks.workers().values() if w["job"]])
    (job,) = [j for j in [working[0]["job"]]]
    assert Job.fetch(job, connection=api.tasks.client, serializer=JSONSerializer).args[0] == "slowTask"
    details = api.tasks.details()
    assert details["queues"]["default"]["started"] == 1
    assert len(details["workers"]) == 2 and details["leader"] == api.id


def test_an_unknown_task_fails_without_stopping_the_worker(api):
    queue = Queue("default", connection=api.tasks.client, serializer=JSONSerializer)
    bad = queue.enqueue("hero.tasks.perform", "someCrazyTask", {})
    garbage = queue.enqueue("no_such_module.no_such_function")
    api.tasks.enqueue("sayHello", {"name": "after"})
    wait_for(lambda: api.tasks.stats().get("processed:sayHello") == 1)
    wait_for(lambda: api.tasks.failed_count() == 2)
    errors = {job["id"]: job["error"] for job in api.tasks.failed()}
    assert "task someCrazyTask not found" in errors[bad.id]
    assert "no_such_module" in errors[garbage.id]


def test_stop_finishes_the_running_job(api):
    job_id = enqueue(api, "slowTask", {"seconds": 0.5})
    wait_for(lambda: job_status(api, job_id) == JobStatus.STARTED)
    api.tasks.workers_pool.stop(timeout=5)
    assert job_status(api, job_id) == JobStatus.FINISHED


def test_no_worker_anywhere_is_logged_loudly(boot_hero, caplog):
    with caplog.at_level(logging.ERROR, logger="hero.tasks.queue"):
        boot_hero({"web": {"enabled": False}, "socket": {"enabled": False}, "tasks": {"workers": 0}})
    assert any("TASKS WILL NOT RUN" in record.getMessage() for record in caplog.records)


def test_a_job_stranded_between_dequeue_and_start_is_recovered(boot_hero):
    from hero.tasks.scheduler import Scheduler

    api = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False},
                     "tasks": {"workers": 0, "scheduler": False}}, redis=True)
    job_id = enqueue(api, "sayHello", {"name": "stranded"})
    queue = api.tasks.queue("default")
    client = api.tasks.client
    # what a worker killed right after its BLMOVE leaves behind
    client.lmove(queue.key, queue.intermediate_queue_key)
    scheduler = Scheduler(api.tasks)
    scheduler.recover_abandoned()  # first sighting: left alone (its worker may be about to start it)
    assert client.lrange(queue.intermediate_queue_key, 0, -1) == [job_id.encode()]
    client.set(queue.intermediate_queue.get_first_seen_key(job_id), time.time() - 120)
    scheduler.recover_abandoned()
    assert client.llen(queue.intermediate_queue_key) == 0
    assert [job["id"] for job in api.tasks.queued("default")] == [job_id]  # retried


def test_stopping_idle_workers_ends_their_wait_at_once_and_loses_no_job(api):
    api.tasks.registry.add(QuickPeriodic)
    gevent.sleep(0.5)
    started = time.monotonic()
    api.tasks.workers_pool.stop(timeout=2)
    # real Redis: CLIENT UNBLOCK ends each BLMOVE at once; the embedded store's poll ends within a second
    assert time.monotonic() - started < (0.5 if api.tasks.store.embedded is False else 2.5)
    gevent.sleep(0.3)
    assert len(api.tasks.find_enqueued("quickPeriodic")) == 1  # the chain's next instance, in a queue
