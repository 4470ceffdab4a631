"""Two real hero processes (`python -m hero start`) on one Redis spend one request budget together."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.apps import free_port, wait_for

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).parents[2]


def test_two_processes_count_against_one_budget(redis_url, tmp_path):
    ports = [free_port(), free_port()]
    environ = {**os.environ, "HERO_ENV": "test", "REDIS_URL": redis_url, "HERO_SOCKET__ENABLED": "false",
               "HERO_TASKS__WORKERS": "0", "HERO_TASKS__SCHEDULER": "false",
               "HERO_GENERAL__RATE_LIMIT": '{"requests": 5, "per_seconds": 60}',
               "HERO_MODELS__URL": f"sqlite:///{tmp_path / 'limits.sqlite3'}"}
    logs = [(tmp_path / f"hero-{port}.log").open("wb") for port in ports]
    processes = [subprocess.Popen([sys.executable, "-m", "hero", "start"], cwd=REPO, stdout=log,
                                  stderr=subprocess.STDOUT, env={**environ, "PORT": str(port),
                                                                 "HERO_GENERAL__ID": f"limit-{port}"})
                 for port, log in zip(ports, logs)]
    try:
        for port, process in zip(ports, processes):
            def listening(port=port, process=process):
                assert process.poll() is None, (tmp_path / f"hero-{port}.log").read_text()
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    return True
                except OSError:
                    return False
            wait_for(listening, timeout=30, interval=0.1)
        answers = [requests.get(f"http://127.0.0.1:{ports[n % 2]}/api/randomNumber", timeout=5) for n in range(7)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
        assert [a.json()["requesterInformation"]["RequestsRemaining"] for a in answers[:5]] == [4, 3, 2, 1, 0]
        assert answers[5].headers["Retry-After"] == answers[5].headers["RateLimit-Reset"]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        for log in logs:
            log.close()
