"""One Sails-style machine action (and a classic one) answers over HTTP, WebSocket and TCP with the
same statuses and bodies: HTTP puts the status on the wire; WebSocket and TCP, which have none,
carry the same body, whose ``error`` says that it failed (docs/actions.md, Sails-style actions)."""
from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
import websocket

from hero.process import Process
from tests.support.apps import write_app
from tests.support.lines import LineClient

MACHINE = '''
friendly_name = "Create user"
inputs = {
    "email": {"type": "string", "required": True, "isEmail": True},
    "age": {"type": "number", "min": 18},
}
exits = {
    "success": {"statusCode": 201, "description": "User created"},
    "emailAlreadyInUse": {"statusCode": 409, "description": "Email address already in use"},
}


def fn(inputs, exits):
    if inputs.email == "taken@example.com":
        return exits.emailAlreadyInUse()
    if inputs.email == "crash@example.com":
        raise RuntimeError("the database is down")
    return {"user": {"email": inputs.email, "age": inputs.age}}
'''

CLASSIC = '''
def fn(req, res):
    if req.params.get("who") == "stranger":
        return res.forbidden({"error": "go away", "who": "stranger"})
    return res.status(202).json({"hello": req.params.get("who", "world")})
'''

CASES: list[tuple[str, dict[str, Any], int]] = [
    ("user/create", {"email": "ann@example.com", "age": 30}, 201),
    ("user/create", {"email": "taken@example.com"}, 409),
    ("user/create", {"email": "not-an-email"}, 422),
    ("user/create", {"email": "ann@example.com", "age": 3}, 422),
    ("user/create", {}, 422),
    ("user/create", {"email": "crash@example.com"}, 500),
    ("greet/hello", {"who": "ann"}, 202),
    ("greet/hello", {"who": "stranger"}, 403),
    ("greet/nobody", {}, 404),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = write_app(tmp_path_factory.mktemp("sails-transports"), {
        "config.py": 'routes = {"POST /users": "user/create"}\n',
        "actions/user/create.py": MACHINE,
        "actions/greet/hello.py": CLASSIC,
    })
    process = Process(root, env="test", environ={}, overrides={
        "web": {"port": 0, "metadata": {"server_information": False, "requester_information": False}},
        "socket": {"port": 0}, "general": {"shutdown_timeout": 2.0}})
    api = process.start()
    yield api
    process.stop()


def over_http(api, identity: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    host, port = api.servers["web"].address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("POST", f"/api/{identity}", body=json.dumps(params), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    return response.status, body


def over_websocket(api, identity: str, params: dict[str, Any]) -> dict[str, Any]:
    host, port = api.servers["web"].address
    ws = websocket.create_connection(f"ws://{host}:{port}/ws", timeout=5)
    try:
        json.loads(ws.recv())  # welcome
        ws.send(json.dumps({"event": "action", "params": {**params, "action": identity}, "messageId": "m1"}))
        reply = json.loads(ws.recv())
    finally:
        ws.close()
    assert (reply.pop("context"), reply.pop("messageId")) == ("response", "m1")
    return reply


def over_tcp(api, identity: str, params: dict[str, Any]) -> dict[str, Any]:
    client = LineClient(api.servers["socket"].address)
    try:
        reply = client.ask(json.dumps({"action": identity, "params": params, "messageId": "t1"}))
    finally:
        client.close()
    assert (reply.pop("context"), reply.pop("messageId")) == ("response", "t1")
    return reply


@pytest.mark.parametrize(("identity", "params", "status"), CASES)
def test_the_same_answer_on_every_transport(served, identity, params, status):
    http_status, http_body = over_http(served, identity, params)
    assert http_status == status, http_body
    assert ("error" in http_body) == (status >= 400)
    # NOTE: an unexpected exception gets an errorId of its own on each run; everything else is equal
    assert ("errorId" in http_body) == (params.get("email") == "crash@example.com")
    without_id = {key: value for key, value in http_body.items() if key != "errorId"}
    for reply in (over_websocket(served, identity, params), over_tcp(served, identity, params)):
        assert ("errorId" in reply) == ("errorId" in http_body)
        assert {key: value for key, value in reply.items() if key != "errorId"} == without_id


def test_the_bodies(served):
    assert over_http(served, "user/create", {"email": "ann@example.com", "age": 30}) == \
        (201, {"user": {"email": "ann@example.com", "age": 30}})
    assert over_http(served, "user/create", {"email": "taken@example.com"}) == \
        (409, {"error": "Email address already in use"})
    assert over_http(served, "user/create", {"email": "ann@example.com", "age": 3}) == \
        (422, {"error": "age must be at least 18"})
    assert over_http(served, "greet/hello", {"who": "stranger"}) == (403, {"error": "go away", "who": "stranger"})


def test_a_tcp_line_and_query_routing_name_the_identity(served):
    client = LineClient(served.servers["socket"].address)
    try:
        assert client.ask("greet/hello")["hello"] == "world"
    finally:
        client.close()
    host, port = served.servers["web"].address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/api?action=greet/hello&who=bo")
    assert json.loads(connection.getresponse().read()) == {"hello": "bo"}
    connection.request("POST", "/api/users", body='{"email": "cy@example.com"}',
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())["user"]["email"]) == (201, "cy@example.com")
    connection.close()


def test_a_status_does_not_stick_to_a_persistent_connection(served):
    client = LineClient(served.servers["socket"].address)
    try:
        assert "error" in client.ask(json.dumps({"action": "user/create", "params": {"email": "taken@example.com"}}))
        connection = next(c for c in served.connections if c.type == "socket")
        assert connection.status is None  # the 409 was that run's, not the connection's
        assert "error" not in client.ask("greet/hello")
    finally:
        client.close()
