"""The MCP endpoint (docs/mcp.md) against the official MCP Python SDK's client, run in a process of
its own (tests/support/mcp_client.py), and the protocol's HTTP rules on raw requests."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from hero import Action, ActionMiddleware, HeroError, Input
from tests.support.apps import wait_for
from tests.support.streams import Ticker, add_stream_actions
from tests.support.web import boot_web, web_url

CLIENT = str(Path(__file__).parents[2] / "support" / "mcp_client.py")
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


class Add(Action):
    name = "add"
    description = "adds two numbers"
    inputs = {"a": Input(required=True, formatter=int, description="the first"), "b": Input(default=0, formatter=int)}
    mcp = True

    def run(self, data):
        return {"sum": data.params["a"] + data.params["b"], "type": data.connection.type}


class Hidden(Action):
    name = "hidden"
    description = "not a tool"

    def run(self, data):
        return {}


class NotAuthorized(HeroError):
    status = 401
    message = "not authorized"


def bearer(data):
    environ = data.connection.extra.get("environ") or {}
    if environ.get("HTTP_AUTHORIZATION") != "Bearer s3cret":
        raise NotAuthorized()


class Guarded(Action):
    name = "guarded"
    middleware = ["bearer"]
    mcp = {"tool": True, "description": "needs the token"}

    def run(self, data):
        return {"secret": 42}


class NoMcp(Action):
    name = "noMcp"
    mcp = True
    blocked_connection_types = ["mcp"]

    def run(self, data):
        return {}


def boot(boot_hero, **overrides: Any):
    api = boot_web(boot_hero, **overrides)
    for action in (Add, Hidden, Guarded, NoMcp):
        api.actions.add(action)
    api.actions.add_middleware(ActionMiddleware("bearer", pre_process=bearer))
    return api


def sdk(url: str, calls: list[dict[str, Any]], *headers: str) -> dict[str, Any]:
    assert importlib.util.find_spec("mcp") is not None, "the MCP SDK is a test dependency: pip install -e '.[test]'"
    done = subprocess.run([sys.executable, CLIENT, url, *headers], input=json.dumps(calls), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_official_client_lists_calls_and_streams(boot_hero) -> None:
    api = boot(boot_hero)
    result = sdk(f"{web_url(api)}/mcp", [
        {"tool": "add", "arguments": {"a": 2, "b": 3}},
        {"tool": "add", "arguments": {"b": 3}},
        {"tool": "add", "arguments": {"a": "x"}},
        {"tool": "guarded"},
        {"tool": "noMcp"},
        {"tool": "countdown", "arguments": {"interval": 0}},
    ])
    assert result["protocolVersion"] == "2025-11-25"
    tools = {tool["name"]: tool for tool in result["tools"]}
    assert sorted(tools) == ["add", "countdown", "guarded", "noMcp"]  # opted in only
    assert tools["add"]["description"] == "adds two numbers"
    assert tools["guarded"]["description"] == "needs the token"
    schema = tools["add"]["inputSchema"]
    assert schema["type"] == "object" and schema["required"] == ["a"]
    assert set(schema["properties"]) == {"a", "b"} and schema["properties"]["a"]["description"] == "the first"
    added, missing, invalid, refused, blocked, countdown = result["calls"]
    assert not added["isError"] and added["structured"] == {"sum": 5, "type": "mcp"}
    assert json.loads(added["text"][0]) == {"sum": 5, "type": "mcp"}
    assert missing == {"isError": True, "text": ["a is a required parameter for this action"], "structured": None,
                       "progress": []}
    assert invalid["isError"] and "invalid literal for int()" in invalid["text"][0]
    assert refused["isError"] and refused["text"] == ["not authorized"]
    assert blocked["isError"] and "mcp" in blocked["text"][0]
    assert not countdown["isError"]
    assert countdown["structured"] == {"chunks": [{"left": left} for left in range(10, 0, -1)]}
    assert [item["progress"] for item in countdown["progress"]] == list(range(1, 11))
    assert [json.loads(item["message"]) for item in countdown["progress"]] == [{"left": left} for left in range(10, 0, -1)]


def test_auth_middleware_sees_the_request_headers(boot_hero) -> None:
    api = boot(boot_hero)
    result = sdk(f"{web_url(api)}/mcp", [{"tool": "guarded"}], "Authorization=Bearer s3cret")
    assert result["calls"][0]["structured"] == {"secret": 42}


def test_sessions_versions_and_methods_on_raw_http(boot_hero) -> None:
    api = boot(boot_hero)
    url = f"{web_url(api)}/mcp"
    opened = requests.post(url, json=INIT, headers=ACCEPT, timeout=5)
    assert opened.status_code == 200 and opened.json()["result"]["protocolVersion"] == "2025-06-18"
    session = {"Mcp-Session-Id": opened.headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-06-18", **ACCEPT}
    note = requests.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session, timeout=5)
    assert note.status_code == 202 and note.content == b""
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    assert requests.post(url, json=ping, headers=session, timeout=5).json() == {"jsonrpc": "2.0", "id": 2, "result": {}}
    assert requests.post(url, json=ping, headers=ACCEPT, timeout=5).status_code == 400  # no session
    assert requests.post(url, json=ping, headers={**session, "Mcp-Session-Id": "nope"}, timeout=5).status_code == 404
    assert requests.post(url, json=ping, headers={**session, "MCP-Protocol-Version": "1999-01-01"},
                         timeout=5).status_code == 400
    unknown = requests.post(url, json={"jsonrpc": "2.0", "id": 3, "method": "resources/list"}, headers=session,
                            timeout=5).json()
    assert unknown["error"]["code"] == -32601
    no_tool = requests.post(url, json={"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                                       "params": {"name": "hidden"}}, headers=session, timeout=5).json()
    assert no_tool["error"] == {"code": -32602, "message": "unknown tool: hidden"}
    garbage = requests.post(url, data=b"{nope", headers={**session, "Content-Type": "application/json"}, timeout=5)
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == -32700
    assert requests.get(url, headers=session, timeout=5).status_code == 405
    assert requests.post(url, json=INIT, headers={**ACCEPT, "Origin": "http://evil.example"}, timeout=5).status_code == 403
    assert requests.delete(url, headers=session, timeout=5).status_code == 200
    assert requests.post(url, json=ping, headers=session, timeout=5).status_code == 404


def test_an_origin_allowed_by_cors_may_call(boot_hero) -> None:
    api = boot(boot_hero, web={"cors_origins": ["https://agent.example"]})
    url = f"{web_url(api)}/mcp"
    opened = requests.post(url, json=INIT, headers={**ACCEPT, "Origin": "https://agent.example"}, timeout=5)
    assert opened.status_code == 200
    assert opened.headers["Access-Control-Allow-Origin"] == "https://agent.example"
    assert opened.headers["Access-Control-Expose-Headers"] == "Mcp-Session-Id"
    assert requests.post(url, json=INIT, headers={**ACCEPT, "Origin": "https://other.example"},
                         timeout=5).status_code == 403


def test_mcp_can_be_switched_off(boot_hero) -> None:
    api = boot(boot_hero, mcp={"enabled": False})
    assert requests.post(f"{web_url(api)}/mcp", json=INIT, headers=ACCEPT, timeout=5).status_code == 404


def test_a_client_that_leaves_a_streaming_call_stops_the_action(boot_hero) -> None:
    api = boot(boot_hero)
    add_stream_actions(api)
    Ticker.mcp = True
    try:
        url = f"{web_url(api)}/mcp"
        opened = requests.post(url, json=INIT, headers=ACCEPT, timeout=5)
        session = {"Mcp-Session-Id": opened.headers["Mcp-Session-Id"], **ACCEPT}
        call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "ticker", "arguments": {}, "_meta": {"progressToken": "p"}}}
        with requests.post(url, json=call, headers=session, stream=True, timeout=5) as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            lines = response.iter_lines()
            assert next(lines) == b"event: message"
            progress = json.loads(next(lines).removeprefix(b"data: "))
            assert progress["method"] == "notifications/progress" and progress["params"]["progressToken"] == "p"
        wait_for(lambda: Ticker.running == 0 and Ticker.exited == 1)
        wait_for(lambda: not any(connection.type == "mcp" for connection in api.connections))
    finally:
        Ticker.mcp = False
