"""The WebSocket hot path calls the OS socket's send and recv directly, and waits through gevent only
on EAGAIN or a partial send: nothing is lost, reordered or blocked by that (issue 17)."""
from __future__ import annotations

import socket
import struct
from typing import Any

import gevent
import pytest

from hero.servers.loopio import os_socket
from hero.servers.websocket.frames import TRY_AGAIN_LATER, FrameWriter, Limits

pytestmark = pytest.mark.timeout(30)


class Writer(FrameWriter):
    """A FrameWriter alone (the session adds the reader): the end of a turn flushes."""

    def at_turn_end(self) -> None:
        self.flush()


def _read_frames(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` unmasked server frames' payloads, read a little at a time (a slow client)."""
    buffer, payloads = b"", []
    while len(payloads) < count:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 2:
            length, start = buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length, start = struct.unpack("!H", buffer[2:4])[0], 4
            if len(buffer) < start + length:
                break
            payloads.append(buffer[start:start + length])
            buffer = buffer[start + length:]
    return payloads


def _pair() -> tuple[socket.socket, socket.socket]:
    server, client = socket.socketpair()
    # NOTE: small kernel buffers, so the kernel takes only part of a turn's frames
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    return server, client


def test_the_os_socket_is_found_under_a_gevent_socket_only() -> None:
    server, client = socket.socketpair()
    try:
        raw = os_socket(server)
        assert raw is not None and raw is not server and raw.gettimeout() == 0.0
        assert raw.fileno() == server.fileno()
        assert os_socket(object()) is None
    finally:
        server.close()
        client.close()


def test_a_partial_send_on_the_direct_path_still_delivers_everything_in_order() -> None:
    server, client = _pair()
    writer = Writer(server, Limits(max_queued_bytes=8_000_000, max_queued_messages=10_000))
    assert writer._os_sock is not None
    writer._writer = gevent.spawn(writer._write_loop)
    count = 600
    try:
        for number in range(count):
            # 600 frames of ~3 kB in one turn: past the early-flush size, the kernel takes part of
            # them, the writer sends the rest, and later frames queue behind it
            assert writer.send_frame(b"%06d" % number + b"x" * 3000, text=True)
        reader = gevent.spawn(_read_frames, client, count)
        payloads = reader.get(timeout=20)
        assert [int(payload[:6]) for payload in payloads] == list(range(count))
        assert writer.close_code is None
    finally:
        writer._writer.kill()
        server.close()
        client.close()


def test_a_slow_consumer_on_the_direct_path_is_still_closed_with_1013() -> None:
    server, client = _pair()
    writer = Writer(server, Limits(max_queued_bytes=65_536, max_queued_messages=10_000, close_timeout=1.0))
    writer._writer = gevent.spawn(writer._write_loop)
    try:
        accepted = 0
        for _ in range(200):  # 600 kB for a client that reads nothing
            if not writer.send_frame(b"y" * 3000, text=True):
                break
            accepted += 1
            gevent.sleep(0)  # turns end: each flush meets a full kernel buffer (EAGAIN)
        assert writer.close_code == TRY_AGAIN_LATER
        assert accepted < 200
    finally:
        writer._writer.kill()
        server.close()
        client.close()


def test_a_wake_up_with_nothing_to_read_waits_again(ws_hero: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spurious readiness (EAGAIN on the direct recv) is not taken for the end of the connection."""
    from tests.support.ws import RawClient

    hero = ws_hero({})
    raw = RawClient(hero.host, hero.port)
    assert raw.read_frame()[0] == 1  # the welcome
    session = next(iter(hero.endpoint.live.values())).session
    real = session.sock._sock
    calls = {"n": 0}

    class Flaky:
        """The OS socket, whose first recv fails with EAGAIN."""

        def recv(self, size: int) -> bytes:
            calls["n"] += 1
            if calls["n"] == 1:
                raise BlockingIOError
            return bytes(real.recv(size))

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    # NOTE: the reader took the OS socket when it started; the reader that takes over while an
    # action sleeps takes it again, and gets the flaky one.
    from hero.servers.websocket import session as session_module

    monkeypatch.setattr(session_module, "os_socket", lambda sock: Flaky())
    try:
        raw.sock.sendall(RawClient.frame(1, b'{"event":"action","params":{"action":"sleepTest","sleepDuration":10}}'))
        assert raw.read_frame()[0] == 1
        raw.sock.sendall(RawClient.frame(1, b'{"event":"action","params":{"action":"randomNumber"}}'))
        opcode, payload = raw.read_frame()
        assert opcode == 1 and b"randomNumber" in payload
        assert calls["n"] >= 2 and session.close_code is None
    finally:
        raw.close()


def test_a_reply_orjson_alone_refuses_is_still_encoded_as_hero_json_does() -> None:
    """push() calls orjson directly and hands what it refuses to hero.runtime.json.dumps."""
    import json

    class Point:
        def to_dict(self) -> dict[str, int]:
            return {"x": 1}

    server, client = socket.socketpair()
    writer = Writer(server, Limits())
    try:
        assert writer.push({"big": 2**70, "point": Point(), "context": "response"})
        writer.flush()
        assert json.loads(_read_frames(client, 1)[0]) == {"big": 2**70, "point": {"x": 1}, "context": "response"}
        assert writer.push({"bad": object(), "messageId": 7})  # nothing can encode it: an error reply
        writer.flush()
        reply = json.loads(_read_frames(client, 1)[0])
        assert reply["messageId"] == 7 and "could not be encoded" in reply["error"]
    finally:
        server.close()
        client.close()


def test_json_the_router_parses_itself_still_gets_hero_s_errors(ws_hero: Any) -> None:
    """MessageRouter.handle calls orjson directly; what it refuses (or nests too deep) gets
    hero.runtime.json's client-readable error, and the connection stays."""
    import json

    from tests.support.ws import RawClient

    hero = ws_hero({})
    raw = RawClient(hero.host, hero.port)
    assert raw.read_frame()[0] == 1  # the welcome
    for message, expected in ((b'{"event": "action", NaN}', "invalid JSON"),
                              (b"[" * 100 + b"]" * 100, "nested deeper than")):
        raw.sock.sendall(RawClient.frame(1, message))
        opcode, payload = raw.read_frame()
        assert opcode == 1 and expected in json.loads(payload)["error"]
    raw.sock.sendall(RawClient.frame(1, b'{"event":"action","params":{"action":"randomNumber"},"messageId":"m"}'))
    reply = json.loads(raw.read_frame()[1])
    assert reply["messageId"] == "m" and reply["context"] == "response" and "randomNumber" in reply
    raw.close()
