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

SERVER = Template('''"""$name: a server of this app's own (hero's docs/servers.md): JSON lines over TCP.

Each line is a JSON object of params (``{"action": "status"}``); each reply is the action's response
as one JSON line. Configure it in config.py: ``servers = {"$name": {"port": 7000}}``.
"""
import json

from gevent.server import StreamServer

from hero import AppServer

#: The longest line read; a longer one gets an error and the connection is closed.
MAX_LINE_BYTES = 65_536


class $class_name(AppServer):
    type = "$name"
    default_config = {"bind": "127.0.0.1", "port": 0}

    def start(self):
        self.listener = StreamServer((self.config.bind, self.config.port), self.serve)
        self.listener.start()
        self.listen_address = self.listener.address[:2]

    def stop(self, timeout):
        self.listener.stop(timeout=timeout)

    def serve(self, sock, address):
        connection = self.build_connection(remote_ip=address[0], remote_port=address[1])
        reader = sock.makefile("rb")
        try:
            while True:
                line = reader.readline(MAX_LINE_BYTES + 1)
                if not line:
                    return
                if len(line) > MAX_LINE_BYTES:
                    self.reply(sock, {"error": f"a line is longer than {MAX_LINE_BYTES} bytes"})
                    return
                try:
                    params = json.loads(line)
                except ValueError as error:
                    self.reply(sock, {"error": f"invalid JSON: {error}"})
                    continue
                if not isinstance(params, dict):
                    self.reply(sock, {"error": "a line must be a JSON object of params"})
                    continue
                self.reply(sock, self.process(connection, params).response)
        finally:
            reader.close()
            self.destroy_connection(connection)

    def reply(self, sock, message):
        sock.sendall(json.dumps(message, default=str).encode() + b"\\n")
''')

SERVER_TEST = Template('''"""The $name server runs actions over its own port."""
import json
import socket

from hero.spec_helper import SpecHelper


def test_${name}_server_runs_an_action(hero_root):
    helper = SpecHelper.boot(hero_root, servers=True,
                             overrides={"web": {"enabled": False}, "socket": {"enabled": False}})
    try:
        with socket.create_connection(helper.api.servers["$name"].address, timeout=5) as sock:
            reader = sock.makefile("rb")
            sock.sendall(b\'{"action": "no-such-action"}\\n\')
            assert json.loads(reader.readline())["error"] == "unknown action or invalid apiVersion"
            sock.sendall(b"[1]\\n")
            assert json.loads(reader.readline())["error"] == "a line must be a JSON object of params"
    finally:
        helper.stop()
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

PROJECT_TEST = '''def test_status_over_http(hero_client):
    assert hero_client.get("/api/status").json()["uptime"] >= 0


def test_status_in_process(spec_helper):
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
PROJECT_CONFTEST = '''"""pytest: this app's tests use hero's fixtures (spec_helper, hero_client, hero_server)."""
from hero.pytest_plugin import use_hero

use_hero()  # gevent patches here, before the tests import anything else
'''

KINDS = {"action": ("actions", ACTION), "task": ("tasks", TASK), "initializer": ("initializers", INITIALIZER),
         "server": ("servers", SERVER)}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PROJECT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def file_name(name: str) -> str:
    """``cacheTest`` → ``cache_test``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def generate(kind: str, name: str, root: Path, description: str = "") -> Path:
    """Write a new action, task or initializer (or a whole project when ``kind == "project"``)."""
    if kind == "project":  # a name (made in ``root``) or a path, as ``cargo new`` takes
        project = (root / Path(name).expanduser()).resolve()
        if not PROJECT_NAME.match(project.name):
            raise BootError(f"`{project.name}` is not a valid project name: use letters, digits, '.', '-' and '_'")
        return _project(project, project.name)
    if not NAME.match(name) or keyword.iskeyword(name):
        raise BootError(f"`{name}` is not a valid name: use letters, digits and underscores")
    folder, template = KINDS[kind]
    path = root / folder / f"{file_name(name)}.py"
    if path.exists():
        raise BootError(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    class_name = name[0].upper() + name[1:]
    path.write_text(template.substitute(name=name, class_name=class_name, description=description or name))
    if kind == "server":
        test = root / "tests" / f"test_{file_name(name)}_server.py"
        if not test.exists():
            test.parent.mkdir(parents=True, exist_ok=True)
            test.write_text(SERVER_TEST.substitute(name=name))
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
    (root / "conftest.py").write_text(PROJECT_CONFTEST)
    (root / "public" / "index.html").write_text(f"<!doctype html>\n<title>{name}</title>\n<h1>{name}</h1>\n")
    return root
