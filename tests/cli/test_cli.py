"""The ``hero`` command, run as a user would run it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.apps import APP_ROOT


def hero(*args: str, env: dict | None = None, cwd: str = APP_ROOT) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("HERO_", "PORT"))}
    environment.pop("REDIS_URL", None)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "hero", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60)


def test_actions_json_lists_the_example_actions_with_versions_and_inputs():
    result = hero("actions", "--json")
    assert result.returncode == 0, result.stderr
    actions = {entry["name"]: entry for entry in json.loads(result.stdout)}
    for name in ("status", "randomNumber", "cacheTest", "sleepTest", "validationTest", "showDocumentation"):
        assert name in actions
    assert actions["cacheTest"]["version"] == 1
    assert actions["cacheTest"]["inputs"]["key"]["required"] is True
    assert actions["sleepTest"]["inputs"]["sleepDuration"]["default"] == 1000


def test_actions_table():
    result = hero("actions")
    assert result.returncode == 0
    assert "cacheTest" in result.stdout and "key*" in result.stdout


def test_version_and_help():
    assert hero("version").stdout.startswith("hero ")
    result = hero("--help")
    assert result.returncode == 0 and "start" in result.stdout and "actions" in result.stdout


def test_a_bad_config_value_exits_1_naming_the_key_without_a_traceback():
    result = hero("actions", env={"PORT": "abc"})
    assert result.returncode == 1
    assert "web.port" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.timeout(30)
def test_a_broken_action_file_exits_1_naming_it(tmp_path):
    (tmp_path / "actions").mkdir()
    (tmp_path / "actions" / "broken.py").write_text("raise RuntimeError('boom')\n")
    result = hero("--root", str(tmp_path), "actions")
    assert result.returncode == 1
    assert "broken.py failed to load: RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.stderr


def test_generate_an_action_that_boots_and_runs(tmp_path):
    result = hero("--root", str(tmp_path), "generate", "action", "sayHello", "--description", "greets")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "actions" / "say_hello.py").is_file()
    listed = json.loads(hero("--root", str(tmp_path), "actions", "--json").stdout)
    assert "sayHello" in [entry["name"] for entry in listed]
    assert hero("--root", str(tmp_path), "generate", "action", "sayHello").returncode == 1  # no overwrite


def test_generate_refuses_a_bad_name(tmp_path):
    result = hero("--root", str(tmp_path), "generate", "action", "not-a-name")
    assert result.returncode == 1 and "not a valid name" in result.stderr


def test_generate_a_project_whose_own_test_passes(tmp_path):
    assert hero("--root", str(tmp_path), "generate", "project", "myapp").returncode == 0
    project = tmp_path / "myapp"
    for relative in ("config.py", "actions/status.py", "tests/test_status.py", "public/index.html"):
        assert (project / relative).is_file()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_console_runs_code_with_the_app_booted():
    result = subprocess.run([sys.executable, "-m", "hero", "console"], cwd=APP_ROOT, input="print(sorted(api.actions.versions))\n",
                            capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if not k.startswith("HERO_") and k != "REDIS_URL"})
    assert result.returncode == 0, result.stderr
    assert "actionsView" in result.stdout  # the first action by name


def test_generate_a_task_that_the_app_loads(tmp_path):
    assert hero("--root", str(tmp_path), "generate", "task", "nightlyReport").returncode == 0
    result = hero("--root", str(tmp_path), "tasks", "--json")
    assert result.returncode == 0, result.stderr
    assert "nightlyReport" in result.stdout


def test_generate_a_sails_action_whose_own_test_passes(tmp_path):
    assert hero("--root", str(tmp_path), "generate", "project", "myapp").returncode == 0
    project = tmp_path / "myapp"
    result = hero("--root", str(project), "generate", "action", "--sails", "user/create", "--description", "makes users")
    assert result.returncode == 0, result.stderr
    assert (project / "actions" / "user" / "create.py").is_file()
    assert (project / "tests" / "test_user_create.py").is_file()
    listed = json.loads(hero("--root", str(project), "actions", "--json").stdout)
    (entry,) = [entry for entry in listed if entry["name"] == "user/create"]
    assert entry["sails"] == "machine" and entry["exits"]["notFound"]["statusCode"] == 404
    assert entry["description"] == "makes users"
    # the generated test goes through the pytest plugin's spec_helper.request
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project,
                           capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout  # the project's own two tests and the action's three
    again = hero("--root", str(project), "generate", "action", "--sails", "user/create")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = hero("--root", str(project), "generate", "action", "--sails", "/user//create")
    assert bad.returncode == 1 and "is invalid" in bad.stderr
    assert hero("--root", str(project), "generate", "task", "--sails", "x/y").returncode == 1
