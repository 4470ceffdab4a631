"""``data.to_render = False`` and ``connection.message_count`` on WebSockets (docs/websocket.md)."""
from __future__ import annotations

import json

import pytest
import websocket

from tests.servers.socket.test_socket_render import Count, Quiet

pytestmark = pytest.mark.timeout(30)


def test_websocket_to_render_false_sends_no_reply(boot_hero) -> None:
    api = boot_hero({"socket": {"enabled": False}})
    api.actions.add(Quiet)
    api.actions.add(Count)
    host, port = api.servers["web"].address
    ws = websocket.create_connection(f"ws://{host}:{port}/ws", timeout=5)
    try:
        assert "welcome" in json.loads(ws.recv())
        ws.send(json.dumps({"event": "action", "params": {"action": "quiet"}, "messageId": 1}))
        assert json.loads(ws.recv()) == {"context": "quiet", "count": 1}
        ws.send(json.dumps({"event": "action", "params": {"action": "count"}, "messageId": 2}))
        reply = json.loads(ws.recv())
        assert reply["messageCount"] == 2 and reply["messageId"] == 2
    finally:
        ws.close()


def test_websocket_bare_room_view_lists_the_rooms(boot_hero) -> None:
    """seed 000's bare ``roomView`` over a WebSocket (docs/chat.md)."""
    api = boot_hero({"socket": {"enabled": False}})
    host, port = api.servers["web"].address
    ws = websocket.create_connection(f"ws://{host}:{port}/ws", timeout=5)
    try:
        json.loads(ws.recv())
        ws.send(json.dumps({"event": "roomView", "messageId": 1}))
        assert json.loads(ws.recv())["data"] == []
        ws.send(json.dumps({"event": "roomAdd", "room": "defaultRoom", "messageId": 2}))
        json.loads(ws.recv())
        ws.send(json.dumps({"event": "roomView", "messageId": 3}))
        rooms = json.loads(ws.recv())["data"]
        assert [room["room"] for room in rooms] == ["defaultRoom"] and rooms[0]["membersCount"] == 1
    finally:
        ws.close()
