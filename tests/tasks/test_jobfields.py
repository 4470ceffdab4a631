"""Enqueue's job hash from a template (hero.tasks.jobfields): the same fields RQ writes, or RQ's own."""
from __future__ import annotations

import zlib
from typing import Any

import pytest

from hero.tasks.jobfields import VARYING, JobFields, as_fields
from hero.tasks.task import JSONSerializer, TaskData

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def tasks(boot_hero: Any) -> Any:
    api = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False},
                     "tasks": {"workers": 0, "scheduler": False}}, redis=True)
    return api.tasks


@pytest.mark.parametrize("run_at", [None, 4_102_444_800_000])
def test_a_templated_job_has_exactly_the_fields_rq_writes(tasks: Any, run_at: int | None) -> None:
    task = tasks.registry.find("sayHello")
    data = TaskData(task=task, params={"name": "ada", "greeting": "hi"}, queue="default", run_at=run_at)
    fields = JobFields(tasks._build_job)
    fields.fields(task, data)  # learns the template
    job_id, templated = fields.fields(task, data)
    by_rq = as_fields(tasks._build_job(task, data))
    assert templated.keys() == by_rq.keys()
    assert {name for name in by_rq if templated[name] != by_rq[name]} <= VARYING
    assert zlib.decompress(templated["data"]) == zlib.decompress(by_rq["data"])
    assert ("enqueued_at" in templated) is (run_at is None)
    assert len(job_id) == 32 and job_id != fields.fields(task, data)[0]


def test_jobs_that_differ_by_more_are_built_by_rq_every_time(tasks: Any) -> None:
    task = tasks.registry.find("sayHello")
    built: list[Any] = []

    def build(task: Any, data: TaskData) -> Any:
        job = tasks._build_job(task, data)
        job.description = f"task {task.name} #{len(built)}"  # a field RQ would vary per job
        built.append(job)
        return job

    fields = JobFields(build)
    data = TaskData(task=task, params={"name": "ada"}, queue="default")
    job_id, hashed = fields.fields(task, data)
    assert job_id == built[-1].id and hashed["description"] == built[-1].description
    assert len(built) == 3  # two probes, then this job by RQ


def test_a_templated_job_is_read_back_and_run_by_an_rq_worker(tasks: Any) -> None:
    from rq import SimpleWorker

    tasks.enqueue("sayHello", {"name": "grace"})
    tasks.enqueue("sayHello", {"name": "ada"})  # from the template
    queue = tasks.queue("default")
    job = queue.jobs[-1]
    assert job.args[0] == "sayHello" and job.args[1]["name"] == "ada"
    assert JSONSerializer.loads(zlib.decompress(job.connection.hget(job.key, "data")))[2][1]["name"] == "ada"
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)
    job.refresh()
    assert job.get_status().value == "finished" and "ada" in str(job.return_value())


def test_the_stamp_is_written_as_rq_writes_dates() -> None:
    from datetime import datetime

    from rq.utils import utcformat

    from hero.tasks.jobfields import _utc_stamp

    stamp = _utc_stamp()
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert utcformat(parsed) == stamp
