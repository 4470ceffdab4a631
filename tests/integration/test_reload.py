"""``hero start --reload`` as a developer uses it: edit an action, and the next request sees it; a
syntax error is reported and the server comes back once it is fixed; SIGTERM ends it all."""
from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest
import requests

from tests.support.apps import free_port, wait_for, write_app
from tests.support.processes import Processes, clean_env, hero_command

pytestmark = pytest.mark.timeout(90)


def hello(says: str) -> str:
    return textwrap.dedent(f'''\
        from hero import Action


        class Hello(Action):
            name = "hello"

            def run(self, data):
                return {{"says": "{says}"}}
    ''')


def says(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/api/hello", timeout=5).json().get("says", "")


def test_an_edited_action_is_served_after_the_restart(tmp_path: Path, processes: Processes):
    root = write_app(tmp_path / "app", {"actions/hello.py": hello("one")})
    port = free_port()
    environment = clean_env(PORT=str(port), HERO_SOCKET__ENABLED="false", HERO_ENV="development",
                            HERO_GENERAL__SHUTDOWN_TIMEOUT="2", PYTHONUNBUFFERED="1")
    supervisor = processes.start(hero_command("start", "--reload", root=root), env=environment)
    supervisor.wait_for_line("hero reload: watching")
    supervisor.wait_for_line("hero ready")
    assert says(port) == "one"

    (root / "actions/hello.py").write_text(hello("two"))
    supervisor.wait_for_line("hello.py changed; restarting")
    supervisor.wait_for_line("hero ready")
    assert says(port) == "two"

    (root / "actions/hello.py").write_text("this is not python\n")
    supervisor.wait_for_line("restarting")
    supervisor.wait_for_line("the server exited with 1")
    with pytest.raises(requests.ConnectionError):
        says(port)

    (root / "actions/hello.py").write_text(hello("three"))
    supervisor.wait_for_line("hero ready")
    assert wait_for(lambda: says(port) == "three")

    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=15) == 0
    with pytest.raises(requests.ConnectionError):
        says(port)
