"""Streaming actions over WebSocket (docs/websocket.md, Streaming): a message per chunk, then the
``streamEnd`` reply; a client that leaves stops the generator."""
from __future__ import annotations

import json

from tests.support.apps import wait_for
from tests.support.streams import Ticker, add_stream_actions


def test_the_countdown_as_stream_messages(ws_hero) -> None:
    hero = ws_hero()
    add_stream_actions(hero.api)
    ws = hero.connect()
    ws.send(json.dumps({"event": "action", "params": {"action": "countdown", "interval": 5}, "messageId": "c"}))
    messages = [json.loads(ws.recv()) for _ in range(11)]
    assert messages[:10] == [{"context": "stream", "messageId": "c", "chunk": {"left": left}, "event": "tick",
                              "id": str(left)} for left in range(10, 0, -1)]
    assert messages[10] == {"context": "response", "messageId": "c", "streamEnd": True}
    ws.send(json.dumps({"event": "action", "params": {"action": "broken"}, "messageId": 2}))
    assert [json.loads(ws.recv()) for _ in range(3)] == [
        {"context": "stream", "messageId": 2, "chunk": "one"}, {"context": "stream", "messageId": 2, "chunk": "two"},
        {"error": "the stream ran out of patience", "context": "response", "messageId": 2, "streamEnd": True}]
    ws.close()


def test_other_actions_answer_while_a_stream_runs(ws_hero) -> None:
    hero = ws_hero()
    add_stream_actions(hero.api)
    ws = hero.connect()
    ws.send(json.dumps({"event": "action", "params": {"action": "ticker", "interval": 20}, "messageId": "t"}))
    ws.send(json.dumps({"event": "action", "params": {"action": "randomNumber"}, "messageId": "r"}))
    seen = [json.loads(ws.recv()) for _ in range(6)]
    assert any(message["messageId"] == "r" and "randomNumber" in message for message in seen)
    ws.close()
    wait_for(lambda: Ticker.running == 0 and Ticker.exited == 1)


def test_a_client_that_leaves_stops_the_generator(ws_hero) -> None:
    hero = ws_hero()
    add_stream_actions(hero.api)
    for number in range(20):
        ws = hero.connect()
        ws.send(json.dumps({"event": "action", "params": {"action": "ticker", "interval": 2}}))
        assert json.loads(ws.recv())["context"] == "stream"
        ws.sock.close()  # gone without a close frame
    wait_for(lambda: Ticker.running == 0 and Ticker.exited == 20)
    wait_for(lambda: hero.websocket_connections() == 0)
