"""WebSocket memory per connection is bounded in bytes, counted as replies are queued, including
the replies to messages that arrived with the handshake (issue 15)."""
from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from tests.support.ws import RawClient, WsHero

pytestmark = pytest.mark.timeout(60)

#: A 43-byte message whose reply is the whole of public/docs.html (about 15 kB).
ASK_FILE = json.dumps({"event": "file", "file": "docs.html"}).encode()


def _replies(frames: list[tuple[int, bytes]]) -> int:
    return sum(1 for opcode, payload in frames if opcode == 1 and b'"content"' in payload)


def _greedy(hero: WsHero, count: int, *, with_handshake: bool) -> tuple[int | None, int]:
    """Ask for ``count`` replies of 15 kB in one packet, read nothing until the server closes the
    client, then read: (the close code, the replies)."""
    messages = b"".join(RawClient.frame(1, ASK_FILE) for _ in range(count))
    raw = RawClient(hero.host, hero.port, first_frame=messages if with_handshake else b"")
    assert raw.status == 101
    if not with_handshake:
        raw.sock.sendall(messages)
    assert hero.wait_for(lambda: any(live.session.close_code for live in hero.endpoint.live.values()), seconds=20)
    code, frames = raw.read_until_close()
    assert hero.wait_for(lambda: hero.websocket_connections() == 0)
    raw.close()
    return code, _replies(frames)


@pytest.mark.parametrize("with_handshake", [False, True], ids=["one-packet", "handshake-leftover"])
def test_a_client_that_does_not_read_is_closed_at_the_byte_cap(ws_hero: Callable[..., WsHero],
                                                               with_handshake: bool) -> None:
    hero = ws_hero({"max_queued_bytes": 262_144, "close_timeout": 2.0})
    # 2,000 replies of 15 kB (30 MB): before the cap was counted as frames were queued, all of them
    # were held at once and sent, and no close came.
    code, replies = _greedy(hero, 2000, with_handshake=with_handshake)
    assert code == 1013
    assert replies < 2000


def test_a_client_that_reads_gets_every_reply(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero({"max_queued_bytes": 262_144})
    raw = RawClient(hero.host, hero.port)
    assert raw.read_frame()[0] == 1  # the welcome
    raw.sock.sendall(b"".join(RawClient.frame(1, ASK_FILE) for _ in range(300)))  # 4.5 MB of replies
    for _ in range(300):
        opcode, payload = raw.read_frame()
        assert opcode == 1 and b'"content"' in payload
    raw.close()


def test_the_handshake_leftover_cap_is_config(ws_hero: Callable[..., WsHero]) -> None:
    from hero.errors import ConfigError

    with pytest.raises(ConfigError, match="websocket.max_handshake_leftover_bytes"):
        ws_hero({"max_handshake_leftover_bytes": 0})
    hero = ws_hero({"max_handshake_leftover_bytes": 64})
    messages = b"".join(RawClient.frame(1, json.dumps({"event": "detailsView", "messageId": n}).encode())
                        for n in range(20))
    raw = RawClient(hero.host, hero.port, first_frame=messages)
    assert raw.status == 101
    seen = []
    while len(seen) < 20:
        opcode, payload = raw.read_frame()
        message = json.loads(payload)
        if message.get("context") == "response":
            seen.append(message["messageId"])
    assert seen == list(range(20))  # what is over the cap is read from the socket, in order
    raw.close()
