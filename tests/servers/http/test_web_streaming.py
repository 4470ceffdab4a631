"""Streaming actions over HTTP (docs/http.md, Streaming): Server-Sent Events read as `curl -N`
reads them, chunked bytes for other clients, keep-alive comments, and a client that leaves."""
from __future__ import annotations

import socket
import time

import gevent
import requests

from tests.support.apps import wait_for
from tests.support.streams import Ticker, add_stream_actions, live_greenlets
from tests.support.web import boot_web, web_url


def boot(boot_hero, **general):
    api = boot_web(boot_hero, general={"shutdown_timeout": 2.0, **general})
    add_stream_actions(api)
    return api


def read_events(response: requests.Response) -> list[dict[str, str]]:
    """The events of an SSE body, each as its fields (comments are kept under ``:``)."""
    events, current = [], {}
    for line in response.iter_lines(decode_unicode=True):
        if line == "":
            if current:
                events.append(current)
            current = {}
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        current[field or ":"] = current[field] + "\n" + value if field in current else value
    return events


def test_the_countdown_as_server_sent_events(boot_hero) -> None:
    api = boot(boot_hero)
    with requests.get(f"{web_url(api)}/api/countdown?interval=10", headers={"Accept": "text/event-stream"},
                      stream=True, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Encoding" not in response.headers and "Content-Length" not in response.headers
        events = read_events(response)
    assert [event["data"] for event in events] == [f'{{"left":{left}}}' for left in range(10, 0, -1)]
    assert {event["event"] for event in events} == {"tick"}
    assert [event["id"] for event in events] == [str(left) for left in range(10, 0, -1)]


def test_raw_socket_reads_each_event_as_it_is_sent(boot_hero) -> None:
    # what `curl -N` does: the first event arrives while the action is still sleeping
    api = boot(boot_hero)
    address = api.servers["web"].address[:2]
    with socket.create_connection(address, timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /api/quiet?pause=1500 HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n")
        received = b""
        while b"data: first" not in received:
            received += sock.recv(65536)
        assert time.monotonic() - started < 1.0
        assert b"HTTP/1.1 200 OK" in received and b"event: note\nid: 1\ndata: first\n\n" in received
        while not received.endswith(b"0\r\n\r\n"):
            received += sock.recv(65536)
    assert b"data: second\ndata: line\n\n" in received  # a line of text per data: line


def test_chunked_bytes_without_accept_event_stream(boot_hero) -> None:
    api = boot(boot_hero)
    response = requests.get(f"{web_url(api)}/api/countdown?interval=0", timeout=5)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.text.splitlines() == [f'{{"left":{left}}}' for left in range(10, 0, -1)]
    assert requests.get(f"{web_url(api)}/api/raw", timeout=5).text == "abc"


def test_keep_alive_comments_while_the_action_is_quiet(boot_hero) -> None:
    api = boot(boot_hero, stream_keepalive_interval=0.05)
    with requests.get(f"{web_url(api)}/api/quiet?pause=300", headers={"Accept": "text/event-stream"},
                      stream=True, timeout=5) as response:
        events = read_events(response)
    assert events[0]["data"] == "first" and events[-1]["data"] == "second\nline"
    assert {":": "keep-alive"} in events[1:-1]


def test_an_error_mid_stream_is_the_last_event(boot_hero) -> None:
    api = boot(boot_hero)
    with requests.get(f"{web_url(api)}/api/broken", headers={"Accept": "text/event-stream"}, stream=True,
                      timeout=5) as response:
        events = read_events(response)
    assert [event["data"] for event in events[:2]] == ["one", "two"]
    assert events[2] == {"event": "error", "data": '{"error":"the stream ran out of patience"}'}


def test_input_errors_are_answered_before_any_stream(boot_hero) -> None:
    api = boot(boot_hero)
    response = requests.get(f"{web_url(api)}/api/countdown?interval=-1", headers={"Accept": "text/event-stream"},
                            timeout=5)
    assert response.status_code == 422
    assert response.json()["error"] == "interval must be 0 to 10000"


def test_a_client_that_leaves_stops_the_generator(boot_hero) -> None:
    api = boot(boot_hero)
    with requests.get(f"{web_url(api)}/api/ticker", headers={"Accept": "text/event-stream"}, stream=True,
                      timeout=5) as response:
        assert next(response.iter_lines()).startswith(b"data:")
    wait_for(lambda: Ticker.exited == 1 and Ticker.running == 0)
    wait_for(lambda: not api.servers["web"].handlers)


def test_a_thousand_clients_leaving_mid_stream_leak_nothing(boot_hero) -> None:
    api = boot(boot_hero)
    address = api.servers["web"].address[:2]
    connections = len(api.connections)
    wait_for(lambda: not api.servers["web"].handlers)
    before = live_greenlets()

    def leave_mid_stream() -> None:
        with socket.create_connection(address, timeout=5) as sock:
            sock.sendall(b"GET /api/ticker?interval=2 HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n")
            received = b""
            while b"data:" not in received:
                received += sock.recv(4096)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST

    started = time.monotonic()
    for _ in range(20):
        gevent.joinall([gevent.spawn(leave_mid_stream) for _ in range(50)], raise_error=True)
    assert time.monotonic() - started < 60
    wait_for(lambda: Ticker.running == 0 and not api.servers["web"].handlers, timeout=10)
    assert Ticker.exited == 1000
    assert len(api.connections) == connections
    wait_for(lambda: live_greenlets() <= before + 2, timeout=10)


def test_the_connection_serves_its_next_request_after_a_stream(boot_hero) -> None:
    api = boot(boot_hero)
    with requests.Session() as session:
        streamed = session.get(f"{web_url(api)}/api/countdown?interval=0", timeout=5)
        assert len(streamed.text.splitlines()) == 10
        assert "randomNumber" in session.get(f"{web_url(api)}/api/randomNumber", timeout=5).json()
        assert len(api.servers["web"].handlers) == 1  # one keep-alive connection served both
