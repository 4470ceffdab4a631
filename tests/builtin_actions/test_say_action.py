"""The built-in `say` action: HTTP says to a room, and members on another process hear it."""
from __future__ import annotations

import json

import pytest
import requests
import websocket

pytestmark = pytest.mark.timeout(30)


def test_an_http_say_is_heard_by_a_websocket_member_of_another_process(boot_hero):
    hearing = boot_hero({"general": {"id": "say-ws"}, "socket": {"enabled": False}}, redis=True)
    saying = boot_hero({"general": {"id": "say-http"}, "socket": {"enabled": False}}, redis=True)
    host, port = hearing.servers["web"].address[:2]
    ws = websocket.create_connection(f"ws://{host}:{port}/ws", timeout=5)
    json.loads(ws.recv())
    ws.send(json.dumps({"event": "roomAdd", "room": "defaultRoom", "messageId": 1}))
    assert json.loads(ws.recv())["status"] == "OK"
    host, port = saying.servers["web"].address[:2]
    answer = requests.post(f"http://{host}:{port}/api/say", json={"room": "defaultRoom", "message": {"hi": "there"}},
                           timeout=5)
    assert answer.status_code == 200 and answer.json()["said"] is True
    heard = json.loads(ws.recv())
    assert heard["context"] == "user" and heard["room"] == "defaultRoom" and heard["message"] == {"hi": "there"}
    assert heard["from"] == answer.json()["requesterInformation"]["id"]
    ws.close()


def test_say_goes_through_chat_middleware_and_checks_its_inputs(boot_hero):
    from hero import ChatMiddleware

    api = boot_hero({"socket": {"enabled": False}})
    api.chat.add_middleware(ChatMiddleware("quiet", on_say_receive=lambda c, room, p: {**p, "message": "shh"}))
    host, port = api.servers["web"].address[:2]
    ws = websocket.create_connection(f"ws://{host}:{port}/ws", timeout=5)
    json.loads(ws.recv())
    ws.send(json.dumps({"event": "roomAdd", "room": "defaultRoom"}))
    json.loads(ws.recv())
    url = f"http://{host}:{port}/api/say"
    assert requests.get(url, params={"room": "defaultRoom", "message": "LOUD"}, timeout=5).status_code == 200
    assert json.loads(ws.recv())["message"] == "shh"
    missing = requests.get(url, params={"room": "nowhere", "message": "x"}, timeout=5)
    assert missing.status_code == 422 and missing.json()["error"] == "room does not exist"
    assert requests.get(url, params={"room": "defaultRoom"}, timeout=5).json()["error"] == \
        "message is a required parameter for this action"
    # a WebSocket (a persistent connection) must be in the room, as with its say verb
    ws.send(json.dumps({"event": "action", "params": {"action": "say", "room": "otherRoom", "message": "x"}}))
    assert json.loads(ws.recv())["error"] == "connection not in this room (otherRoom)"
    ws.close()
