"""The TCP line protocol, line by line (PROTOCOL §4; actionhero v20's socket tests), with raw sockets."""
from __future__ import annotations

import json

import gevent
import pytest

from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def client(hero_socket) -> LineClient:
    _, connect = hero_socket()
    return connect()


def test_welcome(client: LineClient) -> None:
    assert client.welcome == {"welcome": "Welcome to the hero api", "context": "api"}


def test_unknown_word_is_an_unknown_action(client: LineClient) -> None:
    assert client.ask("hello") == {"error": "unknown action or invalid apiVersion", "context": "response",
                                   "messageId": 1}


def test_bare_action_name_runs_it(client: LineClient) -> None:
    reply = client.ask("randomNumber")
    assert 0 <= reply["randomNumber"] <= 1 and reply["context"] == "response" and reply["messageId"] == 1
    assert client.ask("status")["nodeStatus"] == "Node Healthy"


def test_json_line_runs_with_exactly_its_params(client: LineClient) -> None:
    client.ask("paramAdd value=stickyValue")
    reply = client.ask(json.dumps({"action": "cacheTest", "params": {"key": "someOtherValue"}}))
    assert reply["error"] == "value is a required parameter for this action"
    reply = client.ask(json.dumps({"action": "cacheTest", "params": {"key": "abc", "value": "x" * 50_000}}))
    assert reply["cacheTestResults"]["loadResp"]["value"] == "x" * 50_000


def test_bad_json_lines_get_an_error_and_the_connection_stays(client: LineClient) -> None:
    assert client.ask('{"action": "status"')["status"] == "error"
    assert client.ask('{"action": "status", "params": [1]}')["error"] == (
        "a JSON line must be an object with an object `params`")
    assert client.ask("randomNumber")["randomNumber"] >= 0


def test_details_view(client: LineClient) -> None:
    reply = client.ask("detailsView")
    assert reply["status"] == "OK" and reply["context"] == "response" and reply["messageId"] == 1
    data = reply["data"]
    assert set(data) == {"id", "fingerprint", "type", "remoteIP", "remotePort", "params", "connectedAt", "rooms",
                         "totalActions", "pendingActions"}
    assert data["remoteIP"] == "127.0.0.1" and data["id"] == data["fingerprint"] and data["type"] == "socket"
    assert data["remotePort"] == client.sock.getsockname()[1] and data["totalActions"] == 0


def test_sticky_params(client: LineClient) -> None:
    assert client.ask("paramAdd key=otherKey") == {"status": "OK", "context": "response", "data": None,
                                                   "messageId": 1}
    assert client.ask("paramAdd value otherValue")["status"] == "OK"
    assert client.ask("paramsView")["data"] == {"key": "otherKey", "value": "otherValue"}
    assert client.ask("paramView key")["data"] == "otherKey"
    assert client.ask("cacheTest")["cacheTestResults"]["loadResp"]["value"] == "otherValue"
    assert client.ask("paramDelete key")["status"] == "OK"
    assert client.ask("cacheTest")["error"] == "key is a required parameter for this action"
    assert client.ask("paramsDelete")["status"] == "OK"
    assert client.ask("paramsView")["data"] == {}


def test_param_add_refuses_unknown_keys_and_too_many(hero_socket) -> None:
    _, connect = hero_socket({"general": {"max_sticky_params": 2}})
    client = connect()
    assert client.ask("paramAdd notAnInput=1")["error"] == "notAnInput is not an input of any action"
    client.ask("paramAdd key=abc")
    client.ask("paramAdd value=abc")
    assert client.ask("paramAdd sleepDuration=1")["error"] == "too many params on this connection (2 max)"
    assert client.ask("paramAdd key=replaced")["status"] == "OK"


def test_message_ids_count_up_or_come_from_the_client(client: LineClient) -> None:
    assert [client.ask("randomNumber")["messageId"] for _ in range(3)] == [1, 2, 3]
    assert client.ask(json.dumps({"action": "randomNumber", "messageId": "fromJson"}))["messageId"] == "fromJson"
    assert client.ask(json.dumps({"action": "randomNumber", "params": {"messageId": 7}}))["messageId"] == 7
    client.ask("paramAdd messageId=aaaaaa")
    assert client.ask("randomNumber")["messageId"] == "aaaaaa"
    assert client.ask("detailsView")["messageId"] == "aaaaaa"


@pytest.mark.parametrize("verb", ["quit", "exit"])
def test_quit_says_goodbye_and_closes(client: LineClient, verb: str) -> None:
    assert client.ask(verb) == {"status": "Bye!", "context": "api"}
    assert client.closed_by_server()


@pytest.mark.parametrize("sequence", [b"\xff\xf4\xff\xfd\x06", b"\x04"], ids=["ctrl-c", "ctrl-d"])
def test_ctrl_c_and_ctrl_d_close(client: LineClient, sequence: bytes) -> None:
    client.send(b"randomNumb")  # half a line is discarded
    client.send(sequence)
    assert client.read() == {"status": "Bye!", "context": "api"}
    assert client.closed_by_server()


def test_every_line_ending_and_empty_lines(client: LineClient) -> None:
    client.send(b"randomNumber\r\nrandomNumber\rrandomNumber\n\n\r\n\r   \nrandomNumber\n")
    assert [client.read()["messageId"] for _ in range(4)] == [1, 2, 3, 4]
    # a \r\n split across two packets is one line end, not an empty line plus one
    client.send(b"randomNumber\r")
    client.send(b"\nrandomNumber\n")
    assert [client.read()["messageId"] for _ in range(2)] == [5, 6]


def test_invalid_utf8_gets_an_error_and_the_connection_stays(client: LineClient) -> None:
    client.send(b"\xff\xfe\xfd\n")
    assert client.read() == {"status": "error", "error": "the line is not valid UTF-8", "context": "response",
                             "messageId": 1}
    assert client.ask("randomNumber")["messageId"] == 2


def test_six_pipelined_slow_actions_the_sixth_is_refused(client: LineClient) -> None:
    client.ask("paramAdd sleepDuration=300")
    client.send("sleepTest\n" * 6)
    first = client.read()
    assert first == {"error": "you have too many pending requests", "context": "response", "messageId": 7}
    rest = [client.read() for _ in range(5)]
    assert sorted(reply["messageId"] for reply in rest) == [2, 3, 4, 5, 6]
    assert all(reply["sleepDuration"] == 300 and "error" not in reply for reply in rest)


def test_replies_come_in_completion_order(client: LineClient) -> None:
    client.send(json.dumps({"action": "sleepTest", "params": {"sleepDuration": 300}, "messageId": "slow"}) + "\n")
    client.send(json.dumps({"action": "randomNumber", "messageId": "fast"}) + "\n")
    assert [client.read()["messageId"] for _ in range(2)] == ["fast", "slow"]


def test_documentation_and_file_verbs(client: LineClient) -> None:
    documentation = client.ask("documentation")["data"]
    assert documentation["randomNumber"]["1"]["name"] == "randomNumber"
    reply = client.ask("file simple.html")
    assert reply["status"] == "OK" and reply["data"]["mime"] == "text/html" and reply["data"]["length"] > 0
    assert client.ask("file ../config.py")["error"] == "that file is not found"


def test_unknown_verb_shape_and_errors(client: LineClient) -> None:
    assert client.ask("roomAdd") == {"status": "error", "error": "a room is required", "context": "response",
                                     "messageId": 1}


# --- chat over TCP --------------------------------------------------------------------------------


def test_rooms_and_say(hero_socket) -> None:
    _, connect = hero_socket()
    clients = [connect() for _ in range(3)]
    outsider = connect()
    for client in clients:
        assert client.ask("roomAdd defaultRoom") == {"status": "OK", "context": "response", "data": True,
                                                     "messageId": 1}
    assert outsider.ask("roomAdd otherRoom")["data"] is True
    view = clients[0].ask("roomView defaultRoom")["data"]
    assert view["room"] == "defaultRoom" and view["membersCount"] == 3
    assert clients[0].ask("roomView notARoom")["error"] == "connection not in this room (notARoom)"
    assert clients[0].ask("roomAdd defaultRoom")["error"] == "connection already in this room (defaultRoom)"
    assert clients[0].ask("roomAdd noSuchRoom")["error"] == "room does not exist"
    sender_id = clients[0].ask("detailsView")["data"]["id"]
    clients[0].send("say defaultRoom Hi  from client 1\n")
    pushes = []
    for client in clients:
        message = client.read()
        while message.get("context") != "user":
            message = client.read()
        pushes.append(message)
    for message in pushes:
        assert message["message"] == "Hi  from client 1" and message["room"] == "defaultRoom"
        assert message["from"] == sender_id and message["context"] == "user" and message["sentAt"] > 0
    assert outsider.ask("detailsView")["status"] == "OK"  # no chat arrived before this reply
    assert clients[1].ask("say defaultRoom")["error"] == "both room and message are required"
    assert clients[2].ask("roomLeave defaultRoom")["data"] is True
    assert clients[2].ask("roomLeave defaultRoom")["error"] == "connection not in this room (defaultRoom)"
    assert clients[1].ask("roomView defaultRoom")["data"]["membersCount"] == 2


def test_a_closed_client_leaves_its_rooms(hero_socket) -> None:
    api, connect = hero_socket()
    stays, goes = connect(), connect()
    stays.ask("roomAdd defaultRoom")
    goes.ask("roomAdd defaultRoom")
    goes.close()
    for _ in range(100):
        if stays.ask("roomView defaultRoom")["data"]["membersCount"] == 1:
            break
        gevent.sleep(0.02)
    assert stays.ask("roomView defaultRoom")["data"]["membersCount"] == 1


def test_create_chat_room_over_tcp(client: LineClient) -> None:
    reply = client.ask(json.dumps({"action": "createChatRoom", "params": {"name": "tcpRoom"}}))
    assert reply["name"] == "tcpRoom" and reply["didCreate"] is True
    assert client.ask("roomAdd tcpRoom")["data"] is True


def test_chat_over_tcp_on_real_redis(hero_socket) -> None:
    _, connect = hero_socket(redis=True)
    first, second = connect(), connect()
    first.ask("roomAdd defaultRoom")
    second.ask("roomAdd defaultRoom")
    second.send("say defaultRoom hello\n")
    message = first.read()
    assert message["message"] == "hello" and message["context"] == "user"
