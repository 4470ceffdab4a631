"""``python -m hero start`` as a user runs it: ready lines, a request, a graceful SIGTERM or SIGHUP, a busy port."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.support.apps import APP_ROOT, free_port


def start_hero(port: int, **env: str) -> subprocess.Popen:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HERO_")}
    environment.pop("REDIS_URL", None)
    environment.update({"PORT": str(port), "HERO_SOCKET_PORT": str(free_port()), "HERO_ENV": "test", **env})
    return subprocess.Popen([sys.executable, "-m", "hero", "start"], cwd=APP_ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until_ready(process: subprocess.Popen, seconds: float = 20) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.startswith("hero ready"):
            return lines
    process.kill()
    raise AssertionError(f"no ready line: {lines} {process.stderr.read()}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_start_serves_then_stops_on_a_signal_letting_in_flight_actions_finish(stop_signal):
    port = free_port()
    process = start_hero(port)
    try:
        lines = read_until_ready(process)
        assert f"hero web server listening on http://127.0.0.1:{port}" in lines
        assert any(line.startswith("hero socket server listening on") for line in lines)
        assert requests.get(f"http://127.0.0.1:{port}/api/randomNumber", timeout=5).status_code == 200

        result: dict = {}

        def slow_request() -> None:
            result["response"] = requests.get(f"http://127.0.0.1:{port}/api/sleepTest?sleepDuration=800", timeout=10)

        worker = threading.Thread(target=slow_request)
        worker.start()
        time.sleep(0.3)
        process.send_signal(stop_signal)
        worker.join(10)
        assert result["response"].status_code == 200
        assert result["response"].json()["sleepDuration"] == 800
        assert process.wait(15) == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.timeout(60)
def test_a_busy_port_exits_1_with_a_clear_message():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_hero(port)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"127.0.0.1:{port}" in stderr and "not available" in stderr
    assert "Traceback" not in stderr
