"""WebSocket transport, PROTOCOL §3 line by line, with websocket-client against a booted hero.

The helpers at the top (``ws_hero``, ``RawClient``, ``close_code``) are shared with the other
``test_websocket_*`` modules.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gevent
import pytest
import websocket

from hero.servers.websocket.endpoint import WebSocketEndpoint

pytestmark = pytest.mark.timeout(30)


# --- helpers shared by the test_websocket_* modules -------------------------------------------------


@dataclass
class WsHero:
    api: Any
    endpoint: WebSocketEndpoint
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{self.endpoint.config.path}"

    def connect(self, query: str = "", *, welcome: bool = True, **options: Any) -> websocket.WebSocket:
        """A websocket-client connection (its welcome message read unless ``welcome=False``)."""
        options.setdefault("timeout", 5)
        # NOTE: websocket-client checks UTF-8 in pure Python (~40 ms per 64 KiB); the server checks it.
        options.setdefault("skip_utf8_validation", True)
        ws = websocket.create_connection(self.url + query, **options)
        if welcome:
            assert json.loads(ws.recv())["context"] == "api"
        return ws

    def websocket_connections(self) -> int:
        return sum(1 for connection in self.api.connections if connection.type == "websocket")

    def wait_for(self, predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()


def find_endpoint(api: Any) -> WebSocketEndpoint:
    web = api.servers["web"]
    for value in vars(web).values():
        if isinstance(value, WebSocketEndpoint):
            return value
    raise AssertionError("the web server has no WebSocket endpoint")


@pytest.fixture
def ws_hero(boot_hero: Callable[..., Any]) -> Callable[..., WsHero]:
    """``boot(websocket={...}, redis=False, **overrides) -> WsHero``: hero with WebSockets on the web port."""

    def boot(websocket: dict[str, Any] | None = None, *, redis: bool = False, **overrides: Any) -> WsHero:
        layers = {"websocket": websocket or {}, "socket": {"enabled": False}, **overrides}
        api = boot_hero(layers, redis=redis)
        host, port = api.servers["web"].address[:2]
        return WsHero(api, find_endpoint(api), host, port)

    return boot


def send(ws: websocket.WebSocket, message: Any) -> None:
    ws.send(message if isinstance(message, str) else json.dumps(message))


def receive(ws: websocket.WebSocket) -> dict[str, Any]:
    return json.loads(ws.recv())


def ask(ws: websocket.WebSocket, message: dict[str, Any]) -> dict[str, Any]:
    """Send one message and return the reply (skipping chat pushes)."""
    send(ws, message)
    while True:
        reply = receive(ws)
        if reply.get("context") == "response":
            return reply


def close_code(ws: websocket.WebSocket) -> int | None:
    """Read until the server's close frame; its code (None when the TCP connection just ended)."""
    while True:
        try:
            opcode, frame = ws.recv_data_frame(True)
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else 1005


class RawClient:
    """A WebSocket client on a bare socket, for frames websocket-client will not send."""

    def __init__(self, host: str, port: int, path: str = "/ws", headers: dict[str, str] | None = None,
                 *, first_frame: bytes = b"") -> None:
        self.sock = socket.create_connection((host, port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + first_frame)
        self.buffer = b""
        head = self._read_until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    @staticmethod
    def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0) -> bytes:
        head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
        length = len(payload)
        mask_bit = 0x80 if mask else 0
        if length < 126:
            head += bytes([mask_bit | length])
        elif length < 65536:
            head += bytes([mask_bit | 126]) + struct.pack("!H", length)
        else:
            head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))

    def send_frame(self, opcode: int, payload: bytes, **options: Any) -> None:
        self.sock.sendall(self.frame(opcode, payload, **options))

    def send_json(self, message: Any) -> None:
        self.send_frame(1, json.dumps(message).encode())

    def read_frame(self) -> tuple[int, bytes]:
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read_exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read_exactly(8))[0]
        return first & 0x0F, self._read_exactly(length)

    def read_until_close(self) -> tuple[int | None, list[tuple[int, bytes]]]:
        """Frames up to the close frame: (its code, the frames before it)."""
        frames = []
        while True:
            try:
                opcode, payload = self.read_frame()
            except (ConnectionError, OSError):
                return None, frames
            if opcode == 8:
                return (struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005), frames
            frames.append((opcode, payload))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def hero(ws_hero: Callable[..., WsHero]) -> WsHero:
    return ws_hero()


@pytest.fixture
def client(hero: WsHero) -> Iterator[websocket.WebSocket]:
    ws = hero.connect()
    yield ws
    ws.close()


# --- §3: connecting ------------------------------------------------------------------------------


def test_connect_sends_the_welcome_message(hero: WsHero) -> None:
    ws = hero.connect(welcome=False)
    assert receive(ws) == {"welcome": "Welcome to the hero api", "context": "api"}
    ws.close()


def test_details_view_describes_a_fresh_websocket_connection(client: websocket.WebSocket) -> None:
    reply = ask(client, {"event": "detailsView", "messageId": 1})
    assert reply["status"] == "OK" and reply["context"] == "response" and reply["messageId"] == 1
    data = reply["data"]
    assert set(data) == {"id", "fingerprint", "type", "remoteIP", "remotePort", "params", "connectedAt", "rooms",
                         "totalActions", "pendingActions"}
    assert data["type"] == "websocket" and data["remoteIP"] == "127.0.0.1"
    assert data["fingerprint"] == data["id"]
    assert data["totalActions"] == 0 and data["pendingActions"] == 0 and data["params"] == {} and data["rooms"] == []


def test_session_id_on_the_upgrade_url_is_the_fingerprint(hero: WsHero) -> None:
    ws = hero.connect("?sessionID=abc123fingerprint")
    data = ask(ws, {"event": "detailsView"})["data"]
    assert data["fingerprint"] == "abc123fingerprint" and data["id"] != "abc123fingerprint"
    ws.close()


# --- §3: actions ----------------------------------------------------------------------------------


def test_action_reply_is_the_response_with_context_and_message_id(client: websocket.WebSocket) -> None:
    reply = ask(client, {"event": "action", "params": {"action": "randomNumber"}, "messageId": 2})
    assert 0 <= reply["randomNumber"] <= 1
    assert reply["stringRandomNumber"].startswith("Your random number is")
    assert reply["context"] == "response" and reply["messageId"] == 2
    assert "error" not in reply


def test_action_error_is_in_the_reply(client: websocket.WebSocket) -> None:
    reply = ask(client, {"event": "action", "params": {"action": "cacheTest"}, "messageId": 3})
    assert reply == {"error": "key is a required parameter for this action", "context": "response", "messageId": 3}
    unknown = ask(client, {"event": "action", "params": {"action": "noSuchAction"}, "messageId": "x"})
    assert unknown["error"] == "unknown action or invalid apiVersion" and unknown["messageId"] == "x"


def test_the_server_makes_a_message_id_when_absent_and_echoes_params_message_id(client: websocket.WebSocket) -> None:
    made = ask(client, {"event": "action", "params": {"action": "randomNumber"}})
    assert isinstance(made["messageId"], str) and len(made["messageId"]) == 36
    echoed = ask(client, {"event": "action", "params": {"action": "randomNumber", "messageId": "aaa"}})
    assert echoed["messageId"] == "aaa"
    verb = ask(client, {"event": "detailsView"})
    assert isinstance(verb["messageId"], str) and len(verb["messageId"]) == 36


def test_params_are_not_sticky(client: websocket.WebSocket) -> None:
    first = ask(client, {"event": "action", "params": {"action": "cacheTest", "key": "abcd", "value": "efgh"}})
    assert first["cacheTestResults"]["loadResp"]["value"] == "efgh"
    second = ask(client, {"event": "action", "params": {"action": "cacheTest"}})
    assert second["error"] == "key is a required parameter for this action"
    assert ask(client, {"event": "detailsView"})["data"]["params"] == {}


def test_actions_reply_in_completion_order(client: websocket.WebSocket) -> None:
    send(client, {"event": "action", "params": {"action": "sleepTest", "sleepDuration": 400}, "messageId": "slow"})
    send(client, {"event": "action", "params": {"action": "randomNumber"}, "messageId": "fast"})
    assert receive(client)["messageId"] == "fast"
    slow = receive(client)
    assert slow["messageId"] == "slow" and slow["sleepDuration"] == 400


def test_a_sixth_concurrent_action_is_refused(client: websocket.WebSocket) -> None:
    for number in range(6):
        send(client, {"event": "action", "params": {"action": "sleepTest", "sleepDuration": 500}, "messageId": number})
    first = receive(client)  # before any of the sleeping five: refused at once, not queued
    assert first == {"error": "you have too many pending requests", "context": "response", "messageId": 5}
    others = [receive(client) for _ in range(5)]
    assert sorted(reply["messageId"] for reply in others) == [0, 1, 2, 3, 4]
    assert all("error" not in reply for reply in others)


def test_many_parallel_actions_each_get_their_own_params(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero(general={"simultaneous_actions": 20})
    ws = hero.connect()
    for number in range(11):
        send(ws, {"event": "action", "params": {"action": "sleepTest", "sleepDuration": 100 + number * 10},
                  "messageId": number})
    replies = {reply["messageId"]: reply for reply in (receive(ws) for _ in range(11))}
    assert {number: reply["sleepDuration"] for number, reply in replies.items()} == \
        {number: 100 + number * 10 for number in range(11)}
    ws.close()


# --- §3: verbs and chat ---------------------------------------------------------------------------


def test_room_verbs(client: websocket.WebSocket) -> None:
    assert ask(client, {"event": "roomAdd", "room": "defaultRoom", "messageId": 5}) == \
        {"status": "OK", "context": "response", "data": True, "messageId": 5}
    again = ask(client, {"event": "roomAdd", "room": "defaultRoom", "messageId": 6})
    assert again == {"status": "error", "error": "connection already in this room (defaultRoom)",
                     "context": "response", "messageId": 6}
    view = ask(client, {"event": "roomView", "room": "defaultRoom", "messageId": 7})
    assert view["status"] == "OK" and view["data"]["room"] == "defaultRoom"
    assert view["data"]["membersCount"] == 1 and len(view["data"]["members"]) == 1
    member = next(iter(view["data"]["members"].values()))
    assert set(member) == {"id", "joinedAt"}
    assert ask(client, {"event": "detailsView"})["data"]["rooms"] == ["defaultRoom"]
    assert ask(client, {"event": "roomLeave", "room": "defaultRoom"})["data"] is True
    assert ask(client, {"event": "roomView", "room": "defaultRoom"})["error"] == \
        "connection not in this room (defaultRoom)"
    assert ask(client, {"event": "roomAdd", "room": "noSuchRoom"})["error"] == "room does not exist"
    assert ask(client, {"event": "roomAdd"})["error"] == "a room is required"
    assert ask(client, {"event": "say", "room": "defaultRoom"})["error"] == "both room and message are required"


def test_say_reaches_members_of_the_room_only(hero: WsHero) -> None:
    alice, bob, carol = hero.connect(), hero.connect(), hero.connect()
    assert ask(alice, {"event": "roomAdd", "room": "defaultRoom"})["status"] == "OK"
    assert ask(bob, {"event": "roomAdd", "room": "defaultRoom"})["status"] == "OK"
    assert ask(carol, {"event": "roomAdd", "room": "otherRoom"})["status"] == "OK"
    alice_id = ask(alice, {"event": "detailsView"})["data"]["id"]
    send(alice, {"event": "say", "room": "defaultRoom", "message": {"text": "hello", "n": [1, 2]}, "messageId": 8})
    replies = [receive(alice), receive(alice)]
    assert {"status": "OK", "context": "response", "data": None, "messageId": 8} in replies
    own = next(reply for reply in replies if reply["context"] == "user")
    heard = receive(bob)
    for message in (own, heard):
        assert message["context"] == "user" and message["from"] == alice_id
        assert message["room"] == "defaultRoom" and message["message"] == {"text": "hello", "n": [1, 2]}
        assert isinstance(message["sentAt"], int) and "messageId" not in message
    send(bob, {"event": "say", "room": "defaultRoom", "message": "plain words"})
    assert sorted(reply["context"] for reply in (receive(bob), receive(bob))) == ["response", "user"]
    assert receive(alice)["message"] == "plain words"
    # carol, in another room, heard nothing: her next frame is the reply to her own request
    assert ask(carol, {"event": "detailsView"})["data"]["rooms"] == ["otherRoom"]
    carol.settimeout(0.3)
    with pytest.raises(websocket.WebSocketTimeoutException):
        carol.recv()
    for ws in (alice, bob, carol):
        ws.close()


def test_members_count_follows_joins_and_disconnects(hero: WsHero) -> None:
    alice, bob = hero.connect(), hero.connect()
    ask(alice, {"event": "roomAdd", "room": "defaultRoom"})
    ask(bob, {"event": "roomAdd", "room": "defaultRoom"})
    assert ask(alice, {"event": "roomView", "room": "defaultRoom"})["data"]["membersCount"] == 2
    bob.close()
    assert hero.wait_for(lambda: hero.websocket_connections() == 1)
    assert ask(alice, {"event": "roomView", "room": "defaultRoom"})["data"]["membersCount"] == 1
    alice.close()
    assert hero.wait_for(lambda: hero.websocket_connections() == 0)


def test_param_verbs_and_unknown_events_are_refused_and_the_connection_stays(client: websocket.WebSocket) -> None:
    assert ask(client, {"event": "paramAdd", "key": "a", "messageId": 10}) == \
        {"status": "error", "error": "verb not found or not allowed (paramAdd)", "context": "response", "messageId": 10}
    assert ask(client, {"event": "paramsView"})["error"] == "verb not found or not allowed (paramsView)"
    assert ask(client, {"event": "dance"})["error"] == "verb not found or not allowed (dance)"
    assert "event" in ask(client, {"messageId": 4})["error"]
    assert ask(client, {"event": "action", "params": [1, 2]})["error"] == "params must be a JSON object, not an array"
    assert "randomNumber" in ask(client, {"event": "action", "params": {"action": "randomNumber"}})


@pytest.mark.parametrize("frame", ["[1, 2]", "\"text\"", "42", "null", "not json", "{\"a\": NaN}", "[" * 100])
def test_a_frame_that_is_not_a_json_object_gets_an_error_and_the_connection_stays(
        client: websocket.WebSocket, frame: str) -> None:
    send(client, frame)
    reply = receive(client)
    assert reply["status"] == "error" and reply["context"] == "response" and reply["error"]
    assert ask(client, {"event": "detailsView", "messageId": 1})["status"] == "OK"


def test_a_binary_frame_holding_json_is_read_like_text(client: websocket.WebSocket) -> None:
    client.send_binary(json.dumps({"event": "detailsView", "messageId": 9}).encode())
    assert receive(client)["messageId"] == 9


def test_documentation_lists_the_actions(client: websocket.WebSocket) -> None:
    reply = ask(client, {"event": "documentation", "messageId": 7})
    assert reply["status"] == "OK" and reply["messageId"] == 7
    assert "randomNumber" in reply["data"] and "sleepTest" in reply["data"]


def test_file_sends_content_mime_and_length(client: websocket.WebSocket) -> None:
    reply = ask(client, {"event": "file", "file": "simple.html", "messageId": 11})
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "public", "simple.html"), "rb") as file:
        expected = file.read()
    assert reply["content"] == expected.decode() and reply["length"] == len(expected)
    assert reply["mime"] == "text/html" and reply["lastModified"].endswith("Z")
    assert reply["context"] == "response" and reply["messageId"] == 11
    missing = ask(client, {"event": "file", "file": "missing.html", "messageId": 12})
    assert missing == {"error": "that file is not found", "content": None, "mime": "text/html", "length": 22,
                       "context": "response", "messageId": 12}
    escape = ask(client, {"event": "file", "file": "../config.py", "messageId": 13})
    assert escape["error"] == "that file is not found" and escape["content"] is None


# --- §3: closing ---------------------------------------------------------------------------------


def test_quit_closes_with_1000_and_forgets_the_connection(hero: WsHero) -> None:
    ws = hero.connect()
    assert hero.websocket_connections() == 1
    send(ws, {"event": "quit"})
    assert close_code(ws) == 1000
    assert hero.wait_for(lambda: hero.websocket_connections() == 0)
    ws = hero.connect()
    send(ws, {"event": "exit", "messageId": 3})
    assert close_code(ws) == 1000


def test_a_client_close_is_answered_and_the_connection_forgotten(hero: WsHero) -> None:
    ws = hero.connect()
    ask(ws, {"event": "roomAdd", "room": "defaultRoom"})
    ws.close(status=1000)
    assert hero.wait_for(lambda: hero.websocket_connections() == 0)
    assert hero.api.chat.status("defaultRoom")["membersCount"] == 0


def test_a_dropped_tcp_connection_is_forgotten(hero: WsHero) -> None:
    ws = hero.connect()
    ws.sock.close()
    assert hero.wait_for(lambda: hero.websocket_connections() == 0)
    assert hero.endpoint.stats()["activeConnections"] == 0


def test_stop_lets_actions_finish_then_closes_with_1001(hero: WsHero) -> None:
    ws = hero.connect()
    send(ws, {"event": "action", "params": {"action": "sleepTest", "sleepDuration": 300}, "messageId": "inflight"})
    time.sleep(0.05)
    hero.api.processor.stopping = True
    started = time.monotonic()
    stopping = gevent.spawn(hero.endpoint.stop, 5.0)
    assert receive(ws)["messageId"] == "inflight"
    assert close_code(ws) == 1001  # websocket-client answers the close frame
    stopping.join()
    assert time.monotonic() - started < 4.5  # the clients answered: no waiting out the 5 s budget
    assert hero.websocket_connections() == 0
    late = RawClient(hero.host, hero.port)
    assert late.status == 503
    late.close()


def test_stats_count_sockets(hero: WsHero) -> None:
    ws = hero.connect()
    stats = hero.endpoint.stats()
    assert stats["activeConnections"] == 1 and stats["opened"] == 1
    ws.close()
    assert hero.wait_for(lambda: hero.endpoint.stats()["activeConnections"] == 0)


def test_chat_between_websocket_clients_on_a_real_redis(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero(redis=True)
    alice, bob = hero.connect(), hero.connect()
    for ws in (alice, bob):
        assert ask(ws, {"event": "roomAdd", "room": "defaultRoom"})["status"] == "OK"
    send(alice, {"event": "say", "room": "defaultRoom", "message": "over redis"})
    heard = receive(bob)
    assert heard["context"] == "user" and heard["message"] == "over redis"
    alice.close()
    bob.close()


def test_a_process_stop_closes_websockets_with_1001_after_their_actions(hero: WsHero) -> None:
    ws = hero.connect()
    send(ws, {"event": "action", "params": {"action": "sleepTest", "sleepDuration": 300}, "messageId": "last"})
    time.sleep(0.05)
    assert hero.api.process is not None
    stopping = gevent.spawn(hero.api.process.stop)
    assert receive(ws)["messageId"] == "last"
    assert close_code(ws) == 1001
    stopping.join(timeout=10)
    assert stopping.dead and not hero.api.running


def test_a_member_on_one_process_hears_a_say_from_another(ws_hero: Callable[..., WsHero]) -> None:
    first = ws_hero(redis=True, general={"id": "ws-a"})
    second = ws_hero(redis=True, general={"id": "ws-b"})
    alice, bob = first.connect(), second.connect()
    for ws in (alice, bob):
        assert ask(ws, {"event": "roomAdd", "room": "defaultRoom"})["status"] == "OK"
    assert ask(alice, {"event": "roomView", "room": "defaultRoom"})["data"]["membersCount"] == 2
    bob_id = ask(bob, {"event": "detailsView"})["data"]["id"]
    send(bob, {"event": "say", "room": "defaultRoom", "message": {"from": "process b"}})
    heard = receive(alice)
    assert heard["context"] == "user" and heard["from"] == bob_id and heard["message"] == {"from": "process b"}
    bob.close()
    assert first.wait_for(lambda: first.api.chat.status("defaultRoom")["membersCount"] == 1)
    alice.close()


def test_a_message_the_server_says_comes_from_0(hero: WsHero) -> None:
    ws = hero.connect()
    ask(ws, {"event": "roomAdd", "room": "defaultRoom"})
    hero.api.chat.broadcast(None, "defaultRoom", {"notice": "maintenance at noon"})
    message = receive(ws)
    assert message["context"] == "user" and message["from"] == "0"
    assert message["message"] == {"notice": "maintenance at noon"} and message["room"] == "defaultRoom"
    ws.close()


def test_status_counts_websocket_connections_and_requests(client: websocket.WebSocket) -> None:
    ask(client, {"event": "action", "params": {"action": "randomNumber"}})
    stats = ask(client, {"event": "action", "params": {"action": "status"}})["stats"]
    assert stats["connections"]["websocket"] == 1
    assert stats["requests"]["local"]["actions:websocket"] >= 1
    assert stats["servers"]["web"]["websocket"]["activeConnections"] == 1
