"""hero's pytest plugin, as an app author meets it: a generated project's tests pass with
``hero_client``, ``hero_server`` and ``spec_helper``; other projects' test runs are left unpatched."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.apps import write_app


def pytest_run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("HERO_", "PYTEST_")) and key != "REDIS_URL"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=folder,
                          env=environment, capture_output=True, text=True, timeout=120)


def hero(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hero", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


FIXTURE_TESTS = '''
import json


def test_hero_client_is_the_web_app_in_process(hero_client):
    response = hero_client.get("/api/status")
    assert response.status_code == 200 and response.json()["uptime"] >= 0
    assert hero_client.get("/api/nope").status_code == 404
    assert hero_client.post("/api/status", json={}).status_code == 200


def test_hero_server_serves_every_transport(hero_server):
    import requests

    assert requests.get(hero_server.url + "/api/status", timeout=5).json()["uptime"] >= 0
    ws = hero_server.ws()
    assert ws.welcome["context"] == "api"
    assert "uptime" in ws.action("status")
    tcp = hero_server.tcp()
    assert "uptime" in tcp.action("status")
    tcp.send("roomAdd defaultRoom")
    assert tcp.recv()["status"] == "OK"


def test_a_first_test_writes_to_the_store(spec_helper):
    spec_helper.api.cache.save("left-over", 1)
    assert spec_helper.api.cache.load("left-over")["value"] == 1


def test_the_next_test_starts_on_an_empty_store(spec_helper):
    assert spec_helper.api.redis.client.get("left-over") is None
    assert spec_helper.api.cache.keys() == []
    assert "defaultRoom" in spec_helper.api.chat.list()  # the starting rooms are made again
'''


@pytest.mark.timeout(180)
def test_a_project_generated_at_a_path_passes_its_own_tests_and_the_fixtures_work(tmp_path):
    result = hero("generate", "project", str(tmp_path / "code" / "shop"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "code" / "shop"
    assert result.stdout == f"created {project}\n"
    assert 'server_name": "shop"' in (project / "config.py").read_text()
    (project / "config.py").write_text((project / "config.py").read_text().replace(
        "test = {}", 'test = {"general": {"starting_chat_rooms": {"defaultRoom": {}}}}'))
    (project / "tests" / "test_fixtures.py").write_text(FIXTURE_TESTS)
    result = pytest_run(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_a_relative_path_and_a_bad_name(tmp_path):
    assert hero("generate", "project", "apps/blog", cwd=tmp_path).returncode == 0
    assert (tmp_path / "apps" / "blog" / "conftest.py").is_file()
    result = hero("generate", "project", "apps/bad name!", cwd=tmp_path)
    assert result.returncode == 1 and "`bad name!` is not a valid project name" in result.stderr
    assert "Traceback" not in result.stderr


UNPATCHED = '''
import socket


def test_socket_is_the_standard_one():
    assert socket.socket.__module__ == "socket"
'''

PATCHED = '''
import socket


def test_socket_is_gevents():
    assert socket.socket.__module__.startswith("gevent")


def test_fixtures_work(hero_client):
    assert hero_client.get("/healthz").json() == {"status": "ok"}
'''


def test_another_project_is_not_patched(tmp_path):
    write_app(tmp_path, {"test_plain.py": UNPATCHED})
    result = pytest_run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_ini_option_patches_before_any_conftest(tmp_path):
    write_app(tmp_path, {"pytest.ini": "[pytest]\nhero = true\n", "test_patched.py": PATCHED,
                         "conftest.py": "import socket\nassert socket.socket.__module__.startswith('gevent')\n"})
    result = pytest_run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_fixture_without_the_setup_fails_saying_how(tmp_path):
    write_app(tmp_path, {"test_fixture.py": "def test_x(spec_helper):\n    pass\n"})
    result = pytest_run(tmp_path)
    assert result.returncode == 1
    assert "set `hero = true` in the pytest ini" in result.stdout
