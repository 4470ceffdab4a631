"""Streaming actions over TCP (docs/tcp.md, Streaming): a line per chunk, then the ``streamEnd``
reply; a client that leaves stops the generator."""
from __future__ import annotations

import json

from tests.support.apps import wait_for
from tests.support.streams import Ticker, add_stream_actions


def test_the_countdown_as_stream_lines(hero_socket) -> None:
    api, connect = hero_socket()
    add_stream_actions(api)
    client = connect()
    client.send(json.dumps({"action": "countdown", "params": {"interval": 5}, "messageId": "c"}) + "\n")
    messages = [client.read() for _ in range(11)]
    assert [message["chunk"] for message in messages[:10]] == [{"left": left} for left in range(10, 0, -1)]
    assert {message["context"] for message in messages[:10]} == {"stream"}
    assert messages[10] == {"context": "response", "messageId": "c", "streamEnd": True}
    client.send("raw\n")
    assert [client.read() for _ in range(4)] == [
        {"context": "stream", "messageId": 1, "chunk": "a"}, {"context": "stream", "messageId": 1, "chunk": "b"},
        {"context": "stream", "messageId": 1, "chunk": "c"},
        {"context": "response", "messageId": 1, "streamEnd": True}]


def test_a_client_that_leaves_stops_the_generator(hero_socket) -> None:
    api, connect = hero_socket()
    add_stream_actions(api)
    for _ in range(20):
        client = connect()
        client.send("ticker\n")
        assert client.read()["context"] == "stream"
        client.close()
    wait_for(lambda: Ticker.running == 0 and Ticker.exited == 20)
    wait_for(lambda: sum(1 for connection in api.connections if connection.type == "socket") == 0)
