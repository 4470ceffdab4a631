"""WebSocket limits and hostile input (reliability.md §1.2, rows W4–W8): close codes, the ping
timeout, the slow consumer, and frames websocket-client would never send."""
from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

import pytest
import websocket

from tests.support.ws import RawClient, WsHero, ask, close_code, receive, send

pytestmark = pytest.mark.timeout(30)

MIB = 1024 * 1024


def test_a_message_over_the_cap_closes_with_1009(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero()
    ws = hero.connect()
    big = json.dumps({"event": "action", "params": {"action": "randomNumber", "pad": "x" * (2 * MIB)}})
    try:
        ws.send(big)
    except (OSError, websocket.WebSocketException):
        pass  # NOTE: the server may close while the client is still writing
    assert close_code(ws) == 1009
    assert hero.wait_for(lambda: hero.websocket_connections() == 0)
    # the process is unharmed
    other = hero.connect()
    assert ask(other, {"event": "detailsView"})["status"] == "OK"
    other.close()


def test_a_message_at_the_cap_is_read(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero({"max_message_bytes": 4096})
    ws = hero.connect()
    message = {"event": "action", "params": {"action": "randomNumber", "pad": ""}, "messageId": 1}
    message["params"]["pad"] = "y" * (4096 - len(json.dumps(message)))
    assert len(json.dumps(message)) == 4096
    assert "randomNumber" in ask(ws, message)
    send(ws, {**message, "messageId": 22})
    assert close_code(ws) == 1009


def test_fragments_are_summed_against_the_cap(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero({"max_message_bytes": 1000})
    raw = RawClient(hero.host, hero.port)
    assert raw.status == 101 and raw.read_frame()[0] == 1  # the welcome
    raw.send_frame(1, b'{"event":', fin=False)
    for _ in range(3):
        raw.send_frame(0, b" " * 400, fin=False)
    code, _ = raw.read_until_close()
    assert code == 1009
    raw.close()


def test_a_fragmented_message_under_the_cap_is_one_message(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero()
    raw = RawClient(hero.host, hero.port)
    raw.read_frame()
    raw.send_frame(1, b'{"event": "detai', fin=False)
    raw.send_frame(9, b"in between")  # a ping between fragments is allowed
    raw.send_frame(0, b'lsView", "messageId": 77}', fin=True)
    frames = [raw.read_frame() for _ in range(2)]
    assert (10, b"in between") in frames
    reply = json.loads(next(payload for opcode, payload in frames if opcode == 1))
    assert reply["messageId"] == 77 and reply["status"] == "OK"
    raw.close()


def test_a_frame_claiming_a_huge_length_is_cut_at_the_cap(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero({"max_message_bytes": 65536})
    raw = RawClient(hero.host, hero.port)
    raw.read_frame()
    # a masked text frame header announcing 2**62 bytes, then a trickle of payload
    raw.sock.sendall(bytes([0x81, 0x80 | 127]) + (2 ** 62).to_bytes(8, "big") + b"\x00\x00\x00\x00")
    for _ in range(20):
        try:
            raw.sock.sendall(b"a" * 8192)
        except OSError:
            break
    code, _ = raw.read_until_close()
    assert code == 1009
    raw.close()


@pytest.mark.parametrize(("name", "frame", "expected"), [
    ("unmasked", RawClient.frame(1, b'{"event":"detailsView"}', mask=False), 1002),
    ("rsv bits", RawClient.frame(1, b"{}", rsv=4), 1002),
    ("unknown opcode", RawClient.frame(3, b"{}"), 1002),
    ("fragmented ping", RawClient.frame(9, b"x", fin=False), 1002),
    ("continuation without start", RawClient.frame(0, b"{}"), 1002),
    ("invalid utf-8", RawClient.frame(1, b'{"a": "\xff\xfe"}'), 1007),
])
def test_protocol_errors_close_with_their_code(ws_hero: Callable[..., WsHero], name: str, frame: bytes,
                                               expected: int) -> None:
    hero = ws_hero()
    raw = RawClient(hero.host, hero.port)
    raw.read_frame()
    raw.sock.sendall(frame)
    code, _ = raw.read_until_close()
    assert code == expected, name
    raw.close()
    assert hero.wait_for(lambda: hero.websocket_connections() == 0)


def test_the_first_frame_may_arrive_with_the_request_head(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero()
    first = RawClient.frame(1, b'{"event": "detailsView", "messageId": "early"}')
    raw = RawClient(hero.host, hero.port, first_frame=first)
    assert raw.status == 101
    welcome = json.loads(raw.read_frame()[1])
    assert welcome["context"] == "api"
    assert json.loads(raw.read_frame()[1])["messageId"] == "early"
    raw.close()


def test_pings_are_answered_and_a_ping_flood_does_not_hurt(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero()
    raw = RawClient(hero.host, hero.port)
    raw.read_frame()
    raw.send_frame(9, b"hello")
    assert raw.read_frame() == (10, b"hello")
    raw.sock.sendall(b"".join(RawClient.frame(9, str(number).encode()) for number in range(2000)))
    raw.send_json({"event": "detailsView", "messageId": "after"})
    pongs = 0
    while True:
        opcode, payload = raw.read_frame()
        if opcode == 10:
            pongs += 1
            continue
        assert json.loads(payload)["messageId"] == "after"
        break
    assert 1 <= pongs < 2000
    raw.close()


def test_a_client_that_does_not_answer_pings_is_closed_with_1011(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero({"ping_interval": 0.2, "ping_timeout": 0.3})
    raw = RawClient(hero.host, hero.port)
    code, frames = raw.read_until_close()
    assert code == 1011
    assert any(opcode == 9 for opcode, _ in frames)  # it was pinged first
    raw.close()
    assert hero.wait_for(lambda: hero.websocket_connections() == 0)


def test_a_client_that_answers_pings_stays(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero({"ping_interval": 0.1, "ping_timeout": 0.3})
    ws = hero.connect()
    deadline = time.monotonic() + 1.0
    ws.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            ws.recv()  # websocket-client answers pings while it reads
        except websocket.WebSocketTimeoutException:
            pass
    ws.settimeout(5)
    assert ask(ws, {"event": "detailsView"})["status"] == "OK"
    ws.close()


def test_a_client_that_never_reads_is_closed_with_1013_and_does_not_slow_the_room(
        ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero({"max_queued_messages": 16, "close_timeout": 10.0})
    sleeper = hero.connect(sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
    talker, listener = hero.connect(), hero.connect()
    for ws in (sleeper, talker, listener):
        assert ask(ws, {"event": "roomAdd", "room": "defaultRoom"})["status"] == "OK"
    sleeper_session = hero.endpoint.live[ask(sleeper, {"event": "detailsView"})["data"]["id"]].session
    words = "w" * 65536
    # NOTE: the talker and the listener get every message while the sleeper's socket is full: a
    # broadcast that waited for the sleeper would stall this loop until the client timeout (5 s).
    for number in range(400):
        send(talker, {"event": "say", "room": "defaultRoom", "message": words, "messageId": number})
        assert sorted(receive(talker)["context"] for _ in range(2)) == ["response", "user"]
        assert receive(listener)["context"] == "user"
        if sleeper_session.close_code is not None:
            break
    assert sleeper_session.close_code == 1013
    assert close_code(sleeper) == 1013  # once it reads: what was already sent, then the close frame
    assert hero.wait_for(lambda: hero.websocket_connections() == 2)
    assert hero.api.chat.status("defaultRoom")["membersCount"] == 2
    assert hero.endpoint.stats()["closed:1013"] == 1
    talker.close()
    listener.close()
