"""``python -m hero start`` as a user runs it: ready lines, a request, a graceful SIGTERM or SIGHUP, a busy port."""
from __future__ import annotations

import signal
import subprocess
import sys
import socket
import threading
import time

import pytest
import requests

from tests.support.apps import APP_ROOT, free_port
from tests.support.processes import Processes, Subprocess, clean_env, hero_command


def start_hero(processes: Processes, port: int, **env: str) -> Subprocess:
    environment = clean_env(**{"PORT": str(port), "HERO_SOCKET_PORT": str(free_port()), "HERO_ENV": "test", **env})
    return processes.start(hero_command("start"), cwd=APP_ROOT, env=environment, separate_stderr=True)


def read_until_ready(process: Subprocess, seconds: float = 20) -> list[str]:
    """The lines it printed up to and with the ready line."""
    process.wait_for_line("hero ready", seconds)
    return [line.strip() for line in process.lines]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_start_serves_then_stops_on_a_signal_letting_in_flight_actions_finish(stop_signal, processes):
    port = free_port()
    process = start_hero(processes, port)
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


@pytest.mark.timeout(60)
def test_a_busy_port_exits_1_with_a_clear_message(processes):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_hero(processes, port)
        process.wait(30)
        stderr = process.errors()
    assert process.returncode == 1
    assert f"127.0.0.1:{port}" in stderr and "not available" in stderr
    assert "Traceback" not in stderr


@pytest.mark.timeout(60)
def test_each_listening_line_is_printed_once_even_at_info_level(processes):
    port = free_port()
    process = start_hero(processes, port, HERO_ENV="development")
    read_until_ready(process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    stdout, stderr = process.output(), process.errors()
    output = stdout + stderr
    assert output.count(f"listening on http://127.0.0.1:{port}") == 1
    assert output.count("socket server listening on") == 1
    assert output.count("started (env development") == 0  # the ready line says it, on stdout
    assert "hero stopped" in stderr  # the log still speaks at info


def test_version_flag_prints_the_packaged_version():
    from importlib.metadata import version

    result = subprocess.run([sys.executable, "-m", "hero", "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout == f"hero {version('hero')}\n"
