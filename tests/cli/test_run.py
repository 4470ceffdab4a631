"""``hero run``: an action from the shell, through the whole pipeline on a ``cli`` connection."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hero.cli.run import UsageError, parse_params
from tests.support.apps import APP_ROOT, write_app
from tests.support.processes import clean_env

APP = {
    "config.py": """
        general = {"server_name": "run-test"}
    """,
    "actions/secret.py": """
        from hero import Action, Input

        class Secret(Action):
            name = "secret"
            inputs = {"who": Input(required=True), "times": Input(default=1, formatter=int)}
            middleware = ["token"]

            def run(self, data):
                return {"hello": [data.params["who"]] * data.params["times"], "type": data.connection.type}
    """,
    "actions/web_only.py": """
        from hero import Action

        class WebOnly(Action):
            name = "webOnly"
            description = "not from a shell"
            blocked_connection_types = ["cli"]

            def run(self, data):
                return {"ran": True}
    """,
    "initializers/token.py": """
        from hero import ActionMiddleware, HeroError, Initializer

        class NoToken(HeroError):
            status = 401
            message = "a token is needed"

        def check(data):
            if data.params.get("token") != "t0k":
                raise NoToken()

        class Token(Initializer):
            name = "token"

            def initialize(self, api):
                api.actions.add_middleware(ActionMiddleware("token", pre_process=check))
    """,
}


def run(*args: str, root: Path | str = APP_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hero", "--root", str(root), "run", *args], env=clean_env(),
                          capture_output=True, text=True, timeout=60)


def test_success_prints_the_response_as_json(tmp_path: Path) -> None:
    root = write_app(tmp_path, APP)
    done = run("secret", "--who", "ann", "--times", "2", "--token", "t0k", root=root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"hello": ["ann", "ann"], "type": "cli"}
    done = run("secret", "--params", '{"who": "bob", "token": "t0k"}', "--times=3", root=root)
    assert json.loads(done.stdout) == {"hello": ["bob"] * 3, "type": "cli"}


def test_failure_exits_1_with_the_error_on_stderr(tmp_path: Path) -> None:
    root = write_app(tmp_path, APP)
    done = run("secret", "--token", "t0k", root=root)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().endswith("who is a required parameter for this action")
    done = run("secret", "--who", "ann", root=root)  # the middleware applies
    assert (done.returncode, done.stderr.strip().splitlines()[-1]) == (1, "a token is needed")
    done = run("nope", root=root)
    assert (done.returncode, done.stderr.strip().splitlines()[-1]) == (1, "unknown action or invalid apiVersion")
    done = run("secret", "--params", "[1]", root=root)
    assert done.returncode == 2 and "--params must be a JSON object" in done.stderr


def test_a_blocked_connection_type(tmp_path: Path) -> None:
    done = run("webOnly", root=write_app(tmp_path, APP))
    assert done.returncode == 1
    assert "cli" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr


def test_help_shows_the_inputs(tmp_path: Path) -> None:
    done = run("--help", "secret", root=write_app(tmp_path, APP))
    assert done.returncode == 0
    assert "--who  (required)" in done.stdout and "--times  (optional, default 1)" in done.stdout


def test_a_streaming_action_prints_a_line_per_chunk() -> None:
    done = run("countdown", "--interval", "0")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [{"left": left} for left in range(10, 0, -1)]


def test_parse_params() -> None:
    assert parse_params(["--a", "1", "--b=x=y", "--flag", "--params", '{"a": 0, "c": [1]}']) == {
        "a": "1", "b": "x=y", "flag": True, "c": [1]}
    for bad in (["loose"], ["--params", "nope"]):
        with pytest.raises(UsageError):
            parse_params(bad)
