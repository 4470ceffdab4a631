"""The README's examples run: its files make an app that boots, and its API snippets work."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hero.spec_helper import SpecHelper
from tests.support.apps import APP_ROOT, write_app

README = Path(APP_ROOT, "README.md").read_text()
BLOCK = re.compile(r"^## (?P<heading>.+?)$|^```(?P<lang>\w+)\n(?P<code>.*?)^```", re.M | re.S)


def blocks(language: str = "python") -> list[tuple[str, str]]:
    """(section heading, code) for every code block in the README of ``language``."""
    found, heading = [], ""
    for match in BLOCK.finditer(README):
        if match["heading"]:
            heading = match["heading"]
        elif match["lang"] == language:
            found.append((heading, match["code"]))
    return found


def snippets(heading: str) -> list[str]:
    return [code for section, code in blocks() if section == heading and not code.startswith("# ")]


FILES = {code.splitlines()[0][2:].strip(): code for _, code in blocks() if re.match(r"# [\w/-]+\.py\n", code)}

USES_AUTH = '''
from hero import Action

class Secret(Action):
    name = "secret"
    middleware = ["auth"]
    def run(self, data):
        return {"secret": 42}
'''


EXPLODES = '''
from hero import Action

class Explode(Action):
    name = "explode"
    def run(self, data):
        raise RuntimeError("kaboom")
'''


@pytest.fixture(scope="module")
def readme_app(tmp_path_factory):
    assert {"actions/greet.py", "actions/shout.py", "initializers/auth.py", "tasks/send_welcome.py",
            "initializers/report_errors.py"} <= set(FILES)
    root = write_app(tmp_path_factory.mktemp("readme"),
                     {**FILES, "actions/secret.py": USES_AUTH, "actions/explode.py": EXPLODES})
    helper = SpecHelper.boot(root, environ={})  # NOTE: the embedded store, whatever REDIS_URL the run has
    yield helper
    helper.stop()


def test_the_action_examples(readme_app):
    assert readme_app.run_action("greet", name="ann", times="2")["greeting"] == "hello ann hello ann"
    assert readme_app.run_action("greet", name="  ")["error"] == "name must not be blank"
    assert readme_app.run_action("greet")["error"] == "name is a required parameter for this action"
    assert readme_app.run_action("shout", text="hi")["text"] == "HI"


def test_the_middleware_example(readme_app):
    assert readme_app.run_action("secret")["error"] == "not authorized"
    assert readme_app.run_action("secret", token="let-me-in")["secret"] == 42  # middleware sees raw params
    data = readme_app.api.processor.process(readme_app.build_connection(), {"action": "secret"})
    assert data.status == 401


def test_the_task_examples(readme_app):
    assert readme_app.run_task("sendWelcome", {"email": "ann@example.com"}) == "welcome sent to ann@example.com"
    (code,) = [c for c in snippets("Tasks") if "api.tasks.enqueue" in c]
    exec(code, {"api": readme_app.api})
    assert len(readme_app.find_enqueued_tasks("sendWelcome")) == 3


def test_the_cache_snippet(readme_app):
    (code,) = snippets("Cache")
    exec(code, {"api": readme_app.api})
    assert readme_app.api.cache.load("greeting")["value"] == {"text": "hello"}


def test_the_chat_snippets(readme_app):
    api = readme_app.api
    connection = readme_app.build_connection()
    first, middleware, cluster = snippets("Chat")
    exec(first, {"api": api, "connection": connection})
    assert connection.rooms == ["lobby"]
    exec(middleware, {"api": api})
    api.chat.broadcast(None, "lobby", "HELLO")
    import gevent

    gevent.sleep(0.2)
    assert connection.messages[-1]["message"] == "hello"
    forgotten = {"users": 1}
    exec(cluster.replace("wait=True", "wait=False"), {"api": api, "cid": connection.id, "local_cache": forgotten})
    gevent.sleep(0.2)
    assert forgotten == {}


@pytest.mark.timeout(30)
def test_the_websocket_example_against_a_live_server(boot_hero):
    api = boot_hero()
    (code,) = snippets("WebSocket")
    url = api.servers["web"].url.replace("http://", "ws://")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(code.replace("ws://localhost:8080", url), {})
    lines = output.getvalue().splitlines()
    assert "Welcome to the hero api" in lines[0]
    assert "randomNumber" in lines[1]
    assert "{'any': 'JSON'}" in lines[-1]


def test_the_sails_section(tmp_path):
    """Its files make an app (with its routes as config.py); its snippet prints what its comments say."""
    section = [code for heading, code in blocks() if heading == "Sails-style actions"]
    files = {code.splitlines()[0][2:].strip(): code for code in section if re.match(r"# [\w/-]+\.py\n", code)}
    assert set(files) == {"actions/user/create.py", "actions/user/find-one.py"}
    (config,) = [code for code in section if code.startswith("# config.py (excerpt)")]
    (code,) = [code for code in section if not code.startswith("# ")]
    helper = SpecHelper.boot(write_app(tmp_path, {**files, "config.py": config}))
    try:
        helper.api.cache.destroy("user:ann@example.com")
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(code, {})
        printed = output.getvalue().splitlines()
        said = [line.partition("  # ")[2].strip() for line in code.splitlines() if "  # " in line]
        assert len(printed) == len(said) == 7
        for out, comment in zip(printed, said):
            assert comment.startswith(out), (out, comment)
        assert helper.request("/api/users/bo@example.com").body["error"] == "no user bo@example.com"
        assert helper.request("/api/user/create", params={"email": "x"}).status == 422
    finally:
        helper.api.cache.destroy("user:ann@example.com")
        helper.stop()
def shell_block(heading: str, containing: str) -> str:
    (code,) = [code for section, code in blocks("sh") if section == heading and containing in code]
    return code


def user_environment(**extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("HERO_", "PYTEST_")) and key not in ("REDIS_URL", "PORT")}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    return {**environment, **extra}


@pytest.mark.timeout(120)
def test_the_new_app_example(tmp_path):
    code = shell_block("Layout", "hero generate project")
    result = subprocess.run(["bash", "-c", code], env=user_environment(HOME=str(tmp_path)), cwd=tmp_path,
                            capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "code" / "shop" / "config.py").is_file() and " passed" in result.stdout


def test_the_unknown_key_message_is_the_real_one(tmp_path):
    from hero.config import load_config
    from hero.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path, environ={}, overrides={"web": {"prot": 9000}})
    assert f"`hero: {raised.value.message}`" in README


@pytest.mark.timeout(60)
def test_the_asyncapi_example(boot_hero, tmp_path):
    api = boot_hero()
    code = shell_block("AsyncAPI", "hero asyncapi").replace("localhost:8080", api.servers["web"].url[7:])
    result = subprocess.run(["bash", "-c", code], env=user_environment(HERO_ROOT=APP_ROOT), cwd=tmp_path,
                            capture_output=True, text=True, timeout=50)
    assert result.returncode == 0, result.stderr
    printed = json.loads((tmp_path / "asyncapi.json").read_text())
    served = json.loads(result.stdout)
    assert printed["asyncapi"] == served["asyncapi"] == "3.0.0"
    assert set(printed["components"]["messages"]) == set(served["components"]["messages"])


@pytest.mark.timeout(30)
def test_the_metrics_example(boot_hero):
    api = boot_hero()
    (code,) = snippets("Metrics")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(code.replace("http://localhost:8080", api.servers["web"].url), {})
    assert 'hero_actions_total{action="randomNumber",status="200",transport="web"} 1.0' in output.getvalue()


def test_the_exception_reporter_example(readme_app, caplog):
    with caplog.at_level(logging.ERROR, logger="errors"):
        assert readme_app.run_action("explode")["error"] == "kaboom"
    [record] = [record for record in caplog.records if record.name == "errors"]
    assert re.fullmatch(r"explode failed \(error id [0-9a-f]{16}\): RuntimeError\('kaboom'\)", record.getMessage())


@pytest.mark.timeout(60)
def test_the_tracing_example(tmp_path):
    (code,) = snippets("Tracing")
    script = tmp_path / "traced.py"
    script.write_text("from gevent import monkey\nmonkey.patch_all()\n" + code + f"""
from hero.spec_helper import SpecHelper
helper = SpecHelper.boot({APP_ROOT!r})
helper.run_action("randomNumber")
helper.stop()
""")
    result = subprocess.run([sys.executable, str(script)], env=user_environment(), capture_output=True, text=True,
                            timeout=50)
    assert result.returncode == 0, result.stderr
    assert '"name": "randomNumber"' in result.stdout and '"hero.transport": "testServer"' in result.stdout


@pytest.mark.timeout(120)
def test_the_testing_your_app_examples(tmp_path):
    (code,) = snippets("Testing your app")
    write_app(tmp_path, {"test_app.py": code, "pytest.ini": f"[pytest]\nhero = true\nhero_root = {APP_ROOT}\n"})
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                            env=user_environment(), capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
