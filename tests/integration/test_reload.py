"""``hero start --reload`` as a developer uses it: edit an action, and the next request sees it; a
syntax error is reported and the server comes back once it is fixed; SIGTERM ends it all."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests

from tests.support.apps import free_port, wait_for, write_app

pytestmark = pytest.mark.timeout(90)


def hello(says: str) -> str:
    return textwrap.dedent(f'''\
        from hero import Action


        class Hello(Action):
            name = "hello"

            def run(self, data):
                return {{"says": "{says}"}}
    ''')


class Output:
    """A child's merged output, read by a thread, so the test can wait for a line."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            self.lines.put(line.rstrip())

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} in {self.seen}")


def says(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/api/hello", timeout=5).json().get("says", "")


def test_an_edited_action_is_served_after_the_restart(tmp_path: Path):
    root = write_app(tmp_path / "app", {"actions/hello.py": hello("one")})
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HERO_")}
    environment.pop("REDIS_URL", None)
    environment.update(PORT=str(port), HERO_SOCKET__ENABLED="false", HERO_ENV="development",
                       HERO_GENERAL__SHUTDOWN_TIMEOUT="2", PYTHONUNBUFFERED="1")
    supervisor = subprocess.Popen([sys.executable, "-m", "hero", "--root", str(root), "start", "--reload"],
                                  env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = Output(supervisor)
    try:
        output.wait_for("hero reload: watching")
        output.wait_for("hero ready")
        assert says(port) == "one"

        (root / "actions/hello.py").write_text(hello("two"))
        output.wait_for("hello.py changed; restarting")
        output.wait_for("hero ready")
        assert says(port) == "two"

        (root / "actions/hello.py").write_text("this is not python\n")
        output.wait_for("restarting")
        output.wait_for("the server exited with 1")
        with pytest.raises(requests.ConnectionError):
            says(port)

        (root / "actions/hello.py").write_text(hello("three"))
        output.wait_for("hero ready")
        assert wait_for(lambda: says(port) == "three")

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=15) == 0
        with pytest.raises(requests.ConnectionError):
            says(port)
    finally:
        if supervisor.poll() is None:
            for child in psutil.Process(supervisor.pid).children(recursive=True):
                child.kill()
            supervisor.kill()
            supervisor.wait()
