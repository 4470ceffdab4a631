"""``hero generate``: new apps and new actions, tasks and initializers from small templates."""
from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

from hero.errors import BootError

ACTION = Template('''"""$name: $description"""
from hero import Action, Input


class $class_name(Action):
    name = "$name"
    description = "$description"
    inputs = {}
    output_example = {}

    def run(self, data):
        return {}
''')

TASK = Template('''"""$name: $description"""
from hero import Task


class $class_name(Task):
    name = "$name"
    description = "$description"
    queue = "default"
    frequency = 0  # milliseconds between runs; 0: only when enqueued

    def run(self, params, worker):
        return None
''')

INITIALIZER = Template('''"""$name: $description"""
from hero import Initializer


class $class_name(Initializer):
    name = "$name"

    def initialize(self, api):
        pass

    def start(self, api):
        pass

    def stop(self, api):
        pass
''')

PROJECT_CONFIG = '''"""Configuration: only what differs from hero's defaults. See hero/defaults.py for every key."""

general = {
    "server_name": "$name",
}

routes = {
    "get": [{"path": "/status", "action": "status"}],
}

test = {}

production = {}
'''

PROJECT_STATUS = '''"""status: a health check."""
import time

from hero import Action


class Status(Action):
    name = "status"
    description = "is this node up"

    def run(self, data):
        return {"id": data.api.id, "uptime": int(time.time() * 1000) - data.api.started_at}
'''

PROJECT_TEST = '''def test_status(spec_helper):
    assert "error" not in spec_helper.run_action("status")
'''

SAILS_ACTION = Template('''"""$identity: $description

A Sails-style machine action (README, Sails-style actions): its identity is its path below actions/.
Served at /api/$identity, as `?action=$identity`, over WebSocket and TCP.
"""

friendly_name = "$friendly"
description = "$description"

inputs = {
    "name": {"type": "string", "required": True, "maxLength": 100, "example": "hero",
             "description": "who the action is for"},
}

exits = {
    "success": {"description": "done", "outputExample": {"identity": "$identity", "name": "hero"}},
    "notFound": {"statusCode": 404, "description": "nothing answers to that name"},
}


def fn(inputs, exits):
    if inputs.name == "nobody":
        return exits.notFound()
    return {"identity": "$identity", "name": inputs.name}
''')

SAILS_TEST = Template('''def test_${test_name}_succeeds(spec_helper):
    response = spec_helper.request("POST /api/$identity", params={"name": "hero"})
    assert response.status == 200, response.body
    assert response.body["name"] == "hero"


def test_${test_name}_needs_a_name(spec_helper):
    response = spec_helper.request("POST /api/$identity", params={})
    assert response.status == 422
    assert response.body["error"] == "name is a required parameter for this action"


def test_${test_name}_not_found_exit(spec_helper):
    response = spec_helper.request("POST /api/$identity", params={"name": "nobody"})
    assert response.status == 404
    assert response.body["error"] == "nothing answers to that name"
''')

KINDS = {"action": ("actions", ACTION), "task": ("tasks", TASK), "initializer": ("initializers", INITIALIZER)}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def file_name(name: str) -> str:
    """``cacheTest`` → ``cache_test``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def generate(kind: str, name: str, root: Path, description: str = "") -> Path:
    """Write a new action, task or initializer (or a whole project when ``kind == "project"``)."""
    if not NAME.match(name) or keyword.iskeyword(name):
        raise BootError(f"`{name}` is not a valid name: use letters, digits and underscores")
    if kind == "project":
        return _project(root / name, name)
    folder, template = KINDS[kind]
    path = root / folder / f"{file_name(name)}.py"
    if path.exists():
        raise BootError(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    class_name = name[0].upper() + name[1:]
    path.write_text(template.substitute(name=name, class_name=class_name, description=description or name))
    return path


def generate_sails(identity: str, root: Path, description: str = "") -> list[Path]:
    """Write a machine action at ``actions/<identity>.py`` and its test in ``tests/``."""
    from hero.core.sails.identity import check_identity
    from hero.errors import CodedError

    try:
        check_identity(identity)
    except CodedError as error:
        raise BootError(error.message) from None
    path = root / "actions" / f"{identity}.py"
    test_name = re.sub(r"\W", "_", identity)
    test = root / "tests" / f"test_{test_name}.py"
    for existing in (path, test):
        if existing.exists():
            raise BootError(f"{existing} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    test.parent.mkdir(parents=True, exist_ok=True)
    last = identity.rpartition("/")[2]
    friendly = re.sub(r"[-_.]+", " ", last).strip().capitalize() or identity
    values = {"identity": identity, "description": description or friendly, "friendly": friendly,
              "test_name": test_name}
    path.write_text(SAILS_ACTION.substitute(values))
    test.write_text(SAILS_TEST.substitute(values))
    return [path, test]


def _project(root: Path, name: str) -> Path:
    if root.exists() and any(root.iterdir()):
        raise BootError(f"{root} exists and is not empty")
    for folder in ("actions", "tasks", "initializers", "public", "tests"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "config.py").write_text(Template(PROJECT_CONFIG).substitute(name=name))
    (root / "actions" / "status.py").write_text(PROJECT_STATUS)
    (root / "tests" / "test_status.py").write_text(PROJECT_TEST)
    (root / "public" / "index.html").write_text(f"<!doctype html>\n<title>{name}</title>\n<h1>{name}</h1>\n")
    return root
