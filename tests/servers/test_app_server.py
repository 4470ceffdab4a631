"""Servers of the app's own (docs/servers.md): found in ``servers/`` and in plugins, configured by
``servers[<type>]``, started and stopped with hero's, running actions through the same pipeline."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hero.errors import BootError
from hero.process import Process
from tests.support.apps import write_app

pytestmark = pytest.mark.timeout(120)

ECHO_SERVER = '''
import json

from gevent.server import StreamServer

from hero import AppServer


class LineServer(AppServer):
    type = "line"
    can_chat = True
    default_config = {"port": 0, "greeting": "hi"}

    def start(self):
        self.listener = StreamServer(("127.0.0.1", self.config.port), self.serve)
        self.listener.start()
        self.listen_address = self.listener.address[:2]

    def stop(self, timeout):
        self.listener.stop(timeout=timeout)

    def serve(self, sock, address):
        connection = self.build_connection(remote_ip=address[0], remote_port=address[1], send=lambda m: None)
        reader = sock.makefile("rb")
        try:
            sock.sendall(json.dumps({"greeting": self.config.greeting}).encode() + b"\\n")
            for line in reader:
                words = line.decode().split()
                if words[0] == "roomAdd":
                    reply = {"data": self.run_verb(connection, "roomAdd", words[1:])}
                else:
                    data = self.process(connection, {"action": words[0], "name": " ".join(words[1:])})
                    reply = {**data.response, "status": data.status}
                sock.sendall(json.dumps(reply).encode() + b"\\n")
        finally:
            self.destroy_connection(connection)
'''

HELLO_ACTION = '''
from hero import Action, Input


class Hello(Action):
    name = "hello"
    inputs = {"name": Input(required=True)}

    def run(self, data):
        return {"hello": data.params["name"], "type": data.connection.type}
'''

AUDIT = '''
from hero import ActionMiddleware, Initializer

SEEN = []


class Audit(Initializer):
    name = "audit"

    def initialize(self, api):
        api.actions.add_middleware(ActionMiddleware("audit", is_global=True,
                                                    pre_process=lambda data: SEEN.append(data.connection.type)))
'''


def app(tmp_path: Path, config: str = "") -> Path:
    return write_app(tmp_path / "app", {"config.py": config or "general = {'starting_chat_rooms': {'lobby': {}}}\n",
                                        "servers/line_server.py": ECHO_SERVER, "actions/hello.py": HELLO_ACTION,
                                        "initializers/audit.py": AUDIT})


def boot(root: Path, **overrides) -> Process:
    process = Process(root, env="test", environ={},
                      overrides={"web": {"enabled": False}, "socket": {"enabled": False}, **overrides})
    process.start()
    return process


def talk(address, *lines: str) -> list[dict]:
    with socket.create_connection(address, timeout=5) as sock:
        reader = sock.makefile("rb")
        replies = [json.loads(reader.readline())]
        for line in lines:
            sock.sendall(line.encode() + b"\n")
            replies.append(json.loads(reader.readline()))
        return replies


def test_an_app_server_runs_actions_through_the_pipeline(tmp_path: Path) -> None:
    process = boot(app(tmp_path), servers={"line": {"greeting": "welcome"}})
    try:
        api = process.api
        server = api.servers["line"]
        assert server.url == f"line://127.0.0.1:{server.address[1]}"
        greeting, hello, missing, unknown, joined = talk(server.address, "hello ann", "hello", "nope", "roomAdd lobby")
        assert greeting == {"greeting": "welcome"}  # config servers.line over default_config
        assert hello == {"hello": "ann", "type": "line", "status": 200}
        assert missing["error"] == "name is a required parameter for this action" and missing["status"] == 422
        assert unknown["status"] == 404
        assert joined == {"data": True}
        audit = sys.modules["hero_app.initializers.audit"]
        assert audit.SEEN.count("line") == 2  # global middleware ran for both runs of `hello`
        address = server.address
    finally:
        process.stop()
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=1)  # stopped with hero


def test_a_plugins_server_is_found(tmp_path: Path) -> None:
    plugin = write_app(tmp_path / "plugin", {"servers/line_server.py": ECHO_SERVER})
    root = write_app(tmp_path / "app", {"config.py": f"plugins = {{'lines': {{'path': {str(plugin)!r}}}}}\n"})
    process = boot(root)
    try:
        assert talk(process.api.servers["line"].address)[0] == {"greeting": "hi"}
    finally:
        process.stop()


def test_an_app_server_can_be_switched_off(tmp_path: Path) -> None:
    process = boot(app(tmp_path), servers={"line": {"enabled": False}})
    try:
        assert "line" not in process.api.servers
    finally:
        process.stop()


@pytest.mark.parametrize("source, message", [
    (ECHO_SERVER.replace('type = "line"', 'type = "web"'), "type `web` is hero's own"),
    (ECHO_SERVER.replace('type = "line"', 'type = "two words"'), "`type` must be a name"),
    (ECHO_SERVER.replace("def stop(self, timeout):", "def halt(self, timeout):"), "it must define stop()"),
])
def test_a_bad_server_stops_the_boot(tmp_path: Path, source: str, message: str) -> None:
    root = write_app(tmp_path / "app", {"servers/line_server.py": source})
    with pytest.raises(BootError, match=message):
        boot(root)


def test_config_for_a_server_that_does_not_exist_stops_the_boot(tmp_path: Path) -> None:
    with pytest.raises(BootError, match="no server of type udp"):
        boot(app(tmp_path), servers={"udp": {"port": 1}})


def test_generate_server_writes_a_server_whose_test_passes(tmp_path: Path) -> None:
    hero = [sys.executable, "-m", "hero", "--root", str(tmp_path)]
    assert subprocess.run([*hero, "generate", "project", "myapp"], capture_output=True, timeout=60).returncode == 0
    project = tmp_path / "myapp"
    done = subprocess.run([sys.executable, "-m", "hero", "--root", str(project), "generate", "server", "lineProtocol"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (project / "servers" / "line_protocol.py").is_file()
    assert (project / "tests" / "test_line_protocol_server.py").is_file()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout  # the server's 2 tests and the project's own


def test_the_readme_server_example(tmp_path: Path) -> None:
    """README, "Servers of your own": servers/upper.py with the README's shout action."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = dict(re.findall(r"^```python\n# ([\w/]+\.py)\n(.*?)^```", readme, re.M | re.S))
    root = write_app(tmp_path / "app", {"servers/upper.py": blocks["servers/upper.py"],
                                        "actions/shout.py": blocks["actions/shout.py"]})
    process = boot(root)
    try:
        with socket.create_connection(process.api.servers["upper"].address, timeout=5) as sock:
            reader = sock.makefile("rb")
            sock.sendall(b"hello\n")
            assert json.loads(reader.readline())["text"] == "HELLO"
    finally:
        process.stop()


def test_an_app_server_is_switched_off_from_the_environment(tmp_path: Path) -> None:
    process = Process(app(tmp_path), env="test", environ={"HERO_SERVERS__LINE": '{"enabled": false}'},
                      overrides={"web": {"enabled": False}, "socket": {"enabled": False}})
    process.start()
    try:
        assert "line" not in process.api.servers
    finally:
        process.stop()
