"""WebSocket transport, PROTOCOL §3 line by line, with websocket-client against a booted hero.

Its clients (``WsHero``, ``RawClient``, ``close_code``...) are in tests/support/ws.py and the ``ws_hero``
fixture in this folder's conftest.py, shared with the other ``test_websocket_*`` modules.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator

import gevent
import pytest
import websocket

from tests.support.apps import APP_ROOT
from tests.support.ws import RawClient, WsHero, ask, close_code, receive, send

pytestmark = pytest.mark.timeout(30)


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
    with open(os.path.join(APP_ROOT, "public", "simple.html"), "rb") as file:
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
