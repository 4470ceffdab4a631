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

    from hero.tasks.jobfields import utc_stamp

    stamp = utc_stamp()
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert utcformat(parsed) == stamp


@pytest.mark.parametrize("score, marker, own", [(None, None, ""), (4_102_444_800.5, "hero:tasks:periodic:x", "abc")])
def test_the_hand_made_command_is_what_hiredis_would_pack(tasks: Any, score: Any, marker: Any, own: str) -> None:
    import hiredis

    from hero.services.redis_mux import RedisMux
    from hero.tasks.jobfields import JobHash, resp_bulk
    from hero.tasks.submit import _SUBMIT_SHA, store_job

    sent: list[bytes] = []

    class Recorder(RedisMux):
        def execute_packed(self, packed: bytes, count: int) -> list[Any]:
            sent.append(packed)
            return [1]

    shared = {"status": "queued", "origin": "défaut"}
    job = JobHash(shared, b"".join(resp_bulk(k) + resp_bulk(v) for k, v in shared.items()),
                  {"created_at": "2026-12-03T07:00:00.000001Z", "data": b"\x00\xff%s"})
    assert store_job(Recorder("redis://127.0.0.1:1/5"), "ab12", job, queue_key="rq:queue:q",
                     target_key="rq:queue:q", score=score, marker_key=marker, own_job_id=own) is True
    keys = ["rq:queue:q", "rq:queues", *([marker] if marker else []), "rq:job:ab12"]
    args = ["ab12", repr(score or 0.0), own, "queue" if score is None else "schedule", "rq:queue:q", "rq:job:"]
    fields = [item for pair in job.as_dict().items() for item in pair]
    assert sent == [hiredis.pack_command(("EVALSHA", _SUBMIT_SHA, len(keys), *keys, *args, *fields))]


def test_an_enqueue_loads_the_script_when_redis_lost_it(tasks: Any) -> None:
    from hero.services.redis_mux import RedisMux

    assert isinstance(tasks.store.commands, RedisMux)  # the hand-made command's path
    tasks.enqueue("sayHello", {"name": "one"})
    tasks.store.raw_client.script_flush()
    assert tasks.enqueue("sayHello", {"name": "two"}) is True
    assert tasks.enqueue("sayHello", {"name": "three"}) is True
    assert [job["params"]["name"] for job in tasks.queued("default")] == ["one", "two", "three"]


@pytest.mark.parametrize("size", [0, 40, 4096, 4097, 100_000])
def test_a_call_is_compressed_as_zlib_reads_it(size: int) -> None:
    import os

    from hero.tasks.jobfields import compress_call

    call = (b"[\"hero.tasks.perform\",null,[\"x\",{\"p\":\"" + os.urandom(size // 2).hex().encode() + b"\"}],{}]")
    assert zlib.decompress(compress_call(call)) == call
