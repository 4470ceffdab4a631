"""Names published outside the code (stored in queued jobs, typed on command lines, written in
deployments) keep working wherever the code behind them lives now."""
from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from rq.utils import import_attribute

import hero.tasks.queue
from hero.services.public import StaticFiles
from hero.tasks.task import JSONSerializer

BIN = Path(sys.executable).parent


def test_the_job_function_rq_stores_in_every_job() -> None:
    # NOTE: RQ imports a job's function by the dotted name stored in the job; every hero job ever
    # enqueued names this one (tests/integration/test_task_workers.py runs such a job end to end).
    assert import_attribute("hero.tasks.perform") is hero.tasks.queue.perform
    assert hero.tasks.queue.PERFORM == "hero.tasks.perform"


def test_the_serializer_for_rq_info(redis_url: str) -> None:
    assert import_attribute("hero.task.JSONSerializer") is JSONSerializer
    result = subprocess.run([str(BIN / "rq"), "info", "--url", redis_url, "--serializer", "hero.task.JSONSerializer"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_gunicorn_worker_and_app() -> None:
    import hero.gunicorn

    assert import_attribute("hero.gunicorn.Worker") is hero.gunicorn.Worker
    assert callable(import_attribute("hero.gunicorn.app"))


def test_the_pytest_plugin_and_the_console_script() -> None:
    distribution = importlib.metadata.distribution("hero")
    points = {(point.group, point.name): point.value for point in distribution.entry_points}
    assert points[("pytest11", "hero")] == "hero.pytest_plugin"
    assert points[("console_scripts", "hero")] == "hero.cli:main"
    assert callable(import_attribute("hero.cli.main"))
    assert import_attribute("hero.pytest_plugin.spec_helper")


def test_the_static_files_engine() -> None:
    assert import_attribute("hero.servers.static.StaticFiles") is StaticFiles
