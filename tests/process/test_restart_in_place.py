"""Restart in place (SIGUSR2 → ``Process.restart()``; docs/deployment.md): the app's code and
config are read again and swapped in on the same listening sockets, with no client refused; new
code that does not boot leaves the old one serving."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import gevent
import pytest
import requests

from hero.process import Process
from tests.support.apps import free_port, wait_for, write_app

pytestmark = pytest.mark.timeout(90)

VERSION = '''
from hero import Action


class Version(Action):
    name = "version"

    def run(self, data):
        return {"v": %d}
'''


def make_app(tmp_path: Path, web_port: int, socket_port: int) -> Path:
    return write_app(tmp_path / "app", {
        "config.py": f"web = {{'port': {web_port}}}\nsocket = {{'port': {socket_port}}}\n",
        "actions/version.py": VERSION % 1,
    })


def version(port: int) -> int:
    return int(requests.get(f"http://127.0.0.1:{port}/api/version", timeout=5).json()["v"])


def test_restart_swaps_the_code_on_the_same_sockets_without_refusing_anyone(tmp_path: Path, redis_url: str) -> None:
    web_port, socket_port = free_port(), free_port()
    root = make_app(tmp_path, web_port, socket_port)
    process = Process(root, env="test", environ={"REDIS_URL": redis_url})
    process.start()
    try:
        old_api = process.api
        assert version(web_port) == 1
        (root / "actions" / "version.py").write_text(VERSION % 2)
        refused: list[str] = []
        answered: list[int] = []
        done = False

        def hammer() -> None:
            while not done:
                try:
                    answered.append(version(web_port))
                except requests.RequestException as error:
                    refused.append(str(error))
                gevent.sleep(0.005)

        worker = gevent.spawn(hammer)
        gevent.sleep(0.1)
        assert process.restart() is True
        gevent.sleep(0.2)
        done = True
        worker.join(timeout=10)
        assert refused == [] and answered and answered[-1] == 2
        assert 1 in answered  # the old code answered until it stopped
        assert process.api is not old_api and process.api.running and not old_api.running
        assert process.api.id == old_api.id  # the same process: the same id, as in actionhero
        assert process.api.servers["web"].address[1] == web_port
        with socket.create_connection(("127.0.0.1", socket_port), timeout=5) as tcp:
            reader = tcp.makefile("rb")
            assert json.loads(reader.readline())["context"] == "api"
            tcp.sendall(b"version\r\n")
            assert json.loads(reader.readline())["v"] == 2
        assert not process.stopped.is_set()
    finally:
        process.stop()
    assert process.stopped.is_set()


def test_new_code_that_does_not_boot_keeps_the_old_serving(tmp_path: Path, caplog) -> None:
    web_port = free_port()
    root = make_app(tmp_path, web_port, free_port())
    process = Process(root, env="test", environ={})
    process.start()
    try:
        running = process.api
        (root / "actions" / "version.py").write_text("this is not python\n")
        assert process.restart() is False
        assert "the new code did not boot, the running code keeps serving" in caplog.text
        assert process.api is running and running.running
        assert version(web_port) == 1
        (root / "actions" / "version.py").write_text(VERSION % 3)
        assert process.restart() is True and version(web_port) == 3  # fixed: the next restart works
    finally:
        process.stop()


def test_sigusr2_restarts_a_running_server(tmp_path: Path) -> None:
    web_port = free_port()
    root = make_app(tmp_path, web_port, free_port())
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HERO_")}
    environment.pop("REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "hero", "--root", str(root), "start"], env=environment,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _answers(web_port), timeout=30, interval=0.2)
        assert version(web_port) == 1
        (root / "actions" / "version.py").write_text(VERSION % 2)
        server.send_signal(signal.SIGUSR2)
        wait_for(lambda: _answers(web_port) == 2, timeout=30, interval=0.2)
        assert server.poll() is None  # the same process
        server.send_signal(signal.SIGHUP)  # still the graceful stop
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)


def _answers(port: int) -> int | None:
    try:
        return version(port)
    except requests.RequestException:
        time.sleep(0.1)
        return None


FAILING_START = '''
from hero import Initializer


class Fussy(Initializer):
    name = "fussy"

    def start(self, api):
        raise RuntimeError("cannot start today")
'''


def test_new_code_that_does_not_start_brings_the_old_back_on_the_same_socket(tmp_path: Path, caplog) -> None:
    web_port = free_port()
    root = make_app(tmp_path, web_port, free_port())
    process = Process(root, env="test", environ={})
    process.start()
    try:
        running = process.api
        (root / "actions" / "version.py").write_text(VERSION % 2)
        write_app(root, {"initializers/fussy.py": FAILING_START})
        assert process.restart() is False
        assert "the new code did not start" in caplog.text and "cannot start today" in caplog.text
        assert process.api is running and running.running
        assert version(web_port) == 1  # the old code, on the same port
    finally:
        process.stop()
