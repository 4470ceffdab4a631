"""A server's own task workers, like `hero worker`, run hero's job function and nothing else a job names."""
from __future__ import annotations

from pathlib import Path

from rq import Queue

from hero.tasks.task import JSONSerializer
from tests.support.apps import wait_for


def test_the_server_workers_refuse_a_job_naming_other_code(boot_hero, tmp_path: Path) -> None:
    api = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False},
                     "tasks": {"workers": 1, "scheduler": False}}, redis=True)
    queue = Queue("default", connection=api.redis.build(decode_responses=False), serializer=JSONSerializer)
    forged = queue.enqueue("os.system", f"touch {tmp_path / 'ran'}")
    api.tasks.enqueue("sayHello", {"name": "still working"})
    failed = wait_for(lambda: {job["id"]: job["error"] for job in api.tasks.failed()}, timeout=10)
    assert "refused: a hero worker runs only hero.tasks.perform jobs, not 'os.system'" in failed[forged.id]
    wait_for(lambda: api.tasks.stats().get("processed", 0) >= 1, timeout=10)
    assert not (tmp_path / "ran").exists()
