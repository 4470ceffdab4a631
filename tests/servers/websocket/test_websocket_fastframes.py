"""The fast frame path reads and writes what wsproto would, and leaves everything else to wsproto."""
from __future__ import annotations

import os

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, BytesMessage, Ping, Request, TextMessage

from hero.servers.websocket import fastframes
from hero.servers.websocket.fastframes import build_frame, internals, read_simple_frame, unmask, unmask_int

_OPEN = ConnectionState.OPEN


# NOTE: the session and the frame writer write these checks out per message (a call costs about as
# much as the check); here they are spelled once, from wsproto's public-ish attributes, to show that
# what the fast path reads means what it assumes.
def decoder_is_clean(ws):
    proto = ws._proto
    frames, messages = proto._frame_decoder, proto._message_decoder
    return ws.state is _OPEN and not proto.extensions and frames.header is None \
        and not len(frames.buffer) and messages.opcode is None


def sender_is_clean(ws):
    return ws.state is _OPEN and not ws._proto.extensions and ws._proto._outbound_opcode is None


def split_simple_frames(data, max_payload, *, first_only=False):
    """The simple frames at the start of ``data``, as the reader takes them one after another."""
    found, at = [], 0
    while (frame := read_simple_frame(data, max_payload, at)) is not None:
        found.append(frame)
        at = frame[2]
        if first_only:
            break
    return found, at


@pytest.fixture
def pair() -> tuple[WSConnection, WSConnection]:
    # NOTE: the fast path reads the sans-IO connection hero uses, ``server.connection`` here.
    client, server = WSConnection(ConnectionType.CLIENT), WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="localhost", target="/ws")))
    list(server.events())
    client.receive_data(server.send(AcceptConnection()))
    list(client.events())
    return client, server


@pytest.mark.parametrize("payload", ["", "x", "é" * 40, "a" * 125, "b" * 126, "c" * 65_535])
def test_client_frames_are_read_as_wsproto_reads_them(pair, payload):
    client, server = pair
    frame = client.send(TextMessage(data=payload))
    found, used = split_simple_frames(frame, 1 << 20)
    assert found == [(payload.encode(), True, len(frame))] and used == len(frame)
    binary = client.send(BytesMessage(data=b"\x00\xff" * 3))
    assert split_simple_frames(binary, 1 << 20)[0] == [(b"\x00\xff" * 3, False, len(binary))]


def test_several_frames_and_a_partial_one(pair):
    client, _ = pair
    one, two = client.send(TextMessage(data="one")), client.send(TextMessage(data="two"))
    data = one + two + two[:3]
    found, used = split_simple_frames(data, 1024)
    assert [payload for payload, _, _ in found] == [b"one", b"two"] and used == len(one + two)
    assert split_simple_frames(data, 1024, first_only=True) == ([(b"one", True, len(one))], len(one))


def test_everything_else_is_left_to_wsproto(pair):
    client, _ = pair
    cases = [
        client.send(Ping(b"p")),  # a control frame
        client.send(TextMessage(data="part", message_finished=False)),  # a fragment
        b"\x81\x03abc",  # unmasked
        b"\xc1\x83\x00\x00\x00\x00abc",  # RSV1
        b"\x81\x82\x00\x00\x00\x00\xc3\x28",  # invalid UTF-8
        client.send(TextMessage(data="x" * 70_000)),  # a 64-bit length
    ]
    for data in cases:
        assert split_simple_frames(data, 1 << 20) == ([], 0), data[:4]
    big = client.send(TextMessage(data="y" * 200))
    assert split_simple_frames(big, 100) == ([], 0)  # over the message cap: hero closes with 1009


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536])
def test_server_frames_read_back_by_a_client(pair, size):
    client, server = pair
    assert sender_is_clean(server.connection)
    client.receive_data(build_frame(b"z" * size, True) + build_frame(b"\x01" * size, False))
    events = list(client.events())
    assert [type(e) for e in events] == [TextMessage, BytesMessage]
    assert events[0].data == "z" * size and events[1].data == b"\x01" * size


def test_the_decoder_must_be_clean(pair):
    client, server = pair
    assert decoder_is_clean(server.connection)
    frame = client.send(TextMessage(data="hello"))
    server.receive_data(frame[:3])
    assert not decoder_is_clean(server.connection)  # a partial frame waits in wsproto
    server.receive_data(frame[3:])
    list(server.events())
    assert decoder_is_clean(server.connection)
    server.receive_data(client.send(TextMessage(data="first part", message_finished=False)))
    list(server.events())
    assert not decoder_is_clean(server.connection)  # a fragmented message is under way


def test_the_c_masking_is_the_one_in_use():
    from websockets.speedups import apply_mask

    assert unmask is apply_mask


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 125, 126, 4097, 65_535])
def test_c_and_fallback_unmasking_give_the_same_bytes(size):
    data, mask = os.urandom(size), os.urandom(4)
    expected = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
    assert unmask(data, mask) == unmask_int(data, mask) == expected


@pytest.mark.parametrize("payload", ["", "x", "é" * 40, "b" * 126, "c" * 65_535])
def test_frames_read_the_same_with_the_fallback_unmasking(pair, monkeypatch, payload):
    monkeypatch.setattr(fastframes, "unmask", unmask_int)
    client, _ = pair
    frame = client.send(TextMessage(data=payload))
    assert split_simple_frames(frame, 1 << 20) == ([(payload.encode(), True, len(frame))], len(frame))


def test_the_internals_are_found_once_and_stay_those_the_checks_read(pair):
    client, server = pair
    fast = internals(server.connection)
    assert fast is not None and fast.ws is server.connection
    assert fast.frames is server.connection._proto._frame_decoder
    whole = client.send(TextMessage(data="whole"))
    server.receive_data(whole[:3])  # a partial frame stays in wsproto
    list(server.events())
    assert fast.pending and len(fast.pending) == len(fast.frames.buffer) and not decoder_is_clean(server.connection)
    server.receive_data(whole[3:])
    assert [event.data for event in server.events()] == ["whole"] and not fast.pending
    # a fragment leaves wsproto's message decoder open: the written-out check sees it as the helper does
    server.receive_data(client.send(TextMessage(data="part", message_finished=False)))
    list(server.events())
    assert fast.messages.opcode is not None and not decoder_is_clean(server.connection)
    assert internals(object()) is None


def test_one_frame_is_read_where_it_starts(pair):
    client, _ = pair
    one, two = client.send(TextMessage(data="one")), client.send(BytesMessage(data=b"two"))
    assert read_simple_frame(one + two, 1024) == (b"one", True, len(one))
    assert read_simple_frame(one + two, 1024, len(one)) == (b"two", False, len(one + two))
    assert read_simple_frame(one + two[:4], 1024, len(one)) is None
    assert read_simple_frame(one, 2) is None  # over the cap: wsproto answers 1009
