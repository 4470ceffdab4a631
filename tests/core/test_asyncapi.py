"""The asyncapi action and `hero asyncapi`: an AsyncAPI 3.0 document of the WebSocket and TCP
interfaces, derived from the action inputs, checked by the AsyncAPI parser (npm @asyncapi/parser)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from hero import Action, Input
from hero.builtin_actions.asyncapi import TCP_VERBS, WS_VERBS, build_asyncapi
from hero.servers.verbs import ALL_VERBS, PARAM_VERBS
from hero.spec_helper import LiveServer
from tests.support.apps import APP_ROOT
from tests.support.needs import require_tool

#: Where .ci/run installs the parser (npm install --prefix), unless HERO_ASYNCAPI_NODE_MODULES says.
NODE_MODULES = Path(os.environ.get("HERO_ASYNCAPI_NODE_MODULES", "/tmp/hero-asyncapi/node_modules"))
VALIDATE = r"""
const { Parser } = require('@asyncapi/parser');
let text = '';
process.stdin.on('data', (chunk) => { text += chunk; });
process.stdin.on('end', async () => {
  const { document, diagnostics } = await new Parser().parse(text);
  const errors = diagnostics.filter((d) => d.severity === 0).map((d) => ({ message: d.message, path: d.path }));
  console.log(JSON.stringify({
    valid: document !== undefined && errors.length === 0, errors,
    operations: document ? document.operations().all().map((o) => o.id()) : [],
    messages: document ? document.allMessages().all().map((m) => m.id()) : [],
  }));
});
"""


class Versioned(Action):
    name = "versioned"
    version = 2
    inputs = {"count": Input(required=True, formatter=int), "label": Input(default="x", description="a label")}

    def run(self, data):
        return {}


class Versioned1(Versioned):
    version = 1


@pytest.fixture(scope="module")
def helper():
    helper = LiveServer.boot(APP_ROOT)
    helper.api.actions.add(Versioned)
    helper.api.actions.add(Versioned1)
    yield helper
    helper.stop()


def parse(document: dict) -> dict:
    node = require_tool("node", "apt-get install nodejs")
    if not (NODE_MODULES / "@asyncapi" / "parser").is_dir():
        message = f"@asyncapi/parser is not installed in {NODE_MODULES} (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([node, "-e", VALIDATE], input=json.dumps(document), capture_output=True, text=True,
                            timeout=120, env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_document_is_valid_asyncapi_3(helper):
    document = build_asyncapi(helper.api)
    assert document["asyncapi"] == "3.0.0"
    parsed = parse(document)
    assert parsed["valid"], parsed["errors"]
    for expected in ("ws_action_cacheTest", "tcp_action_cacheTest", "ws_roomAdd", "tcp_paramAdd",
                     "ws_chat", "tcp_welcome", "tcp_actionLine"):
        assert expected in parsed["operations"]
    assert {"chatMessage", "actionError", "verbError", "reply_randomNumber"} <= set(parsed["messages"])


def test_params_come_from_the_action_inputs(helper):
    document = build_asyncapi(helper.api)
    messages = document["components"]["messages"]
    ws = messages["ws_action_versioned"]["payload"]["properties"]
    assert ws["event"] == {"const": "action"}
    params = ws["params"]
    assert params["required"] == ["action", "count"]
    assert params["properties"]["action"] == {"const": "versioned"}
    assert params["properties"]["label"]["default"] == "x"
    assert params["properties"]["label"]["description"] == "a label"
    assert params["properties"]["apiVersion"]["enum"] == ["1", "2"]
    tcp = messages["tcp_action_versioned"]["payload"]
    assert tcp["properties"]["action"] == {"const": "versioned"}
    assert tcp["properties"]["params"]["required"] == ["count"]
    assert "action" not in tcp["properties"]["params"]["properties"]
    cache = messages["ws_action_cacheTest"]["payload"]["properties"]["params"]
    assert "key" in cache["required"] and "value" in cache["required"]
    reply = messages["reply_randomNumber"]["payload"]
    assert reply["examples"][0]["context"] == "response" and "randomNumber" in reply["examples"][0]


def test_the_verbs_are_the_servers_own(helper):
    assert set(TCP_VERBS) == set(ALL_VERBS) - {"exit"}
    assert set(WS_VERBS) == set(ALL_VERBS) - set(PARAM_VERBS) - {"exit", "roomChange"}  # roomChange: TCP only
    document = build_asyncapi(helper.api)
    assert set(document["servers"]) == {"websocket", "tcp"}
    assert document["channels"]["websocket"]["address"] == "/ws"
    assert document["servers"]["websocket"]["host"] == helper.url.removeprefix("http://")


def test_a_transport_that_is_off_is_not_documented():
    helper = LiveServer.boot(APP_ROOT, overrides={"socket": {"enabled": False}})
    try:
        document = build_asyncapi(helper.api)
    finally:
        helper.stop()
    assert set(document["servers"]) == {"websocket"} and "tcp" not in document["channels"]
    assert not any(key.startswith("tcp_") for key in document["operations"])


def test_served_bare_over_http_and_matching_what_the_server_says():
    server = LiveServer.boot(APP_ROOT)
    try:
        response = requests.get(f"{server.url}/api/asyncapi", timeout=10)
        assert response.status_code == 200
        document = response.json()
        assert "serverInformation" not in document and document["asyncapi"] == "3.0.0"
        ws = server.ws()
        welcome = document["components"]["messages"]["welcome"]["payload"]
        assert set(welcome["required"]) <= set(ws.welcome)
        error = ws.reply({"event": "roomView", "room": "nowhere"})
        assert set(document["components"]["messages"]["verbError"]["payload"]["required"]) <= set(error)
        failed = ws.action("cacheTest")
        assert set(document["components"]["messages"]["actionError"]["payload"]["required"]) <= set(failed)
    finally:
        server.stop()


def test_hero_asyncapi_prints_it():
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HERO_") and key != "REDIS_URL"}
    result = subprocess.run([sys.executable, "-m", "hero", "asyncapi"], cwd=APP_ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["asyncapi"] == "3.0.0" and "ws_action_randomNumber" in document["components"]["messages"]
