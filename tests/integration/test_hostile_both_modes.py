"""The hostile corpus against both ways hero runs in production (issue 15): ``python -m hero start``
and ``gunicorn -k hero.gunicorn.Worker``. One server per mode serves every test of the module:
HTTP smuggling shapes, slowloris and slow bodies, size limits, WebSocket abuse, TCP floods; then
a graceful stop with actions in flight on every transport, within gunicorn's ``graceful_timeout``.

The in-process suites (tests/servers/) cover each row in depth; this one checks that the same
answers come out of a real process in each mode. ``test_rss_stays_flat`` drives each hostile input
of reliability.md §2 that a client can send 1,000 times (or for its time budget) and samples the
server's RSS with psutil.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psutil
import pytest

from tests.support.apps import free_port
from tests.conftest import APP_ROOT

pytestmark = pytest.mark.timeout(90)

#: Short deadlines, so that the slow-client rows take a second or two.
LIMITS = {"HERO_WEB__HEADER_TIMEOUT": "1.0", "HERO_WEB__BODY_TIMEOUT": "1.0", "HERO_WEB__BODY_TOTAL_TIMEOUT": "1.5",
          "HERO_WEB__KEEPALIVE_TIMEOUT": "1.0", "HERO_WEB__SEND_TOTAL_TIMEOUT": "2.0",
          "HERO_SOCKET__WRITE_TIMEOUT": "1.0", "HERO_WEBSOCKET__CLOSE_TIMEOUT": "1.0",
          "HERO_GENERAL__SHUTDOWN_TIMEOUT": "30"}
#: gunicorn's graceful_timeout: the worker's whole drain must fit in it.
GRACEFUL = 4


@dataclass
class Live:
    mode: str
    process: subprocess.Popen
    web: tuple[str, int]
    tcp: tuple[str, int]

    @property
    def server_pid(self) -> int:
        """The process that serves (gunicorn: its one worker)."""
        if self.mode == "hero":
            return self.process.pid
        children = psutil.Process(self.process.pid).children()
        assert len(children) == 1, children
        return children[0].pid

    def rss(self) -> int:
        return psutil.Process(self.server_pid).memory_info().rss


def _environment(web_port: int, tcp_port: int, tmp: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HERO_")}
    environment.pop("REDIS_URL", None)
    environment.update({"PORT": str(web_port), "HERO_SOCKET_PORT": str(tcp_port), "HERO_ENV": "test", "HOME": tmp,
                        **LIMITS})
    return environment


def _start(mode: str, tmp: str) -> Live:
    web_port, tcp_port = free_port(), free_port()
    if mode == "hero":
        command = [sys.executable, "-m", "hero", "start"]
    else:
        command = [sys.executable, "-m", "gunicorn", "-k", "hero.gunicorn.Worker", "-w", "1",
                   "-b", f"127.0.0.1:{web_port}", "--no-control-socket", "--graceful-timeout", str(GRACEFUL),
                   "hero.gunicorn:app"]
    process = subprocess.Popen(command, cwd=APP_ROOT, env=_environment(web_port, tcp_port, tmp),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    live = Live(mode, process, ("127.0.0.1", web_port), ("127.0.0.1", tcp_port))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            for address in (live.web, live.tcp):
                socket.create_connection(address, timeout=1).close()
            return live
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"{mode} did not come up")


@pytest.fixture(scope="module", params=["hero", "gunicorn"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    server = _start(request.param, str(tmp_path_factory.mktemp(request.param)))
    yield server
    if server.process.poll() is None:
        server.process.kill()
    server.process.wait(10)


# --- clients --------------------------------------------------------------------------------------

def exchange(address: tuple[str, int], payload: bytes, *, timeout: float = 5.0) -> bytes:
    """Send ``payload``, read until the server closes (or ``timeout``)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        try:
            sock.sendall(payload)
        except OSError:
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
        return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def ws_connect(address: tuple[str, int], extra: bytes = b"") -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(address, timeout=5)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n" % (address[0].encode(), address[1], key, extra))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


def frame(opcode: int, payload: bytes, *, mask: bool = True) -> bytes:
    head = bytes([0x80 | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if length < 4096 else \
        (int.from_bytes(payload, "big") ^ int.from_bytes((key * (length // 4 + 1))[:length], "big")).to_bytes(length, "big")
    return head + key + masked


def ws_close_code(sock: socket.socket) -> int | None:
    """Read frames until the close frame; its code (None if the connection just ended)."""
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
            while len(data) >= 2:
                length = data[1] & 0x7F
                offset = 2
                if length == 126:
                    length, offset = struct.unpack("!H", data[2:4])[0], 4
                elif length == 127:
                    length, offset = struct.unpack("!Q", data[2:10])[0], 10
                if len(data) < offset + length:
                    break
                opcode, payload, data = data[0] & 0x0F, data[offset:offset + length], data[offset + length:]
                if opcode == 8:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
    except OSError:
        return None


# --- the corpus -----------------------------------------------------------------------------------

OK = b"GET /api/randomNumber HTTP/1.1\r\nHost: x\r\n\r\n"
SMUGGLING = {
    "CL+TE": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    "two CL": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    "signed CL": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\nab", 400),
    "space before colon": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nContent-Length : 2\r\n\r\nab", 400),
    "obs-fold": (b"GET /api/randomNumber HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", 400),
    "bare LF": (b"GET /api/randomNumber HTTP/1.1\nHost: x\n\n", 400),
    "chunk 0x": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Type: application/json\r\n\r\n0x2\r\nab\r\n0\r\n\r\n", 400),
    "chunk bad extension": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                            b"Content-Type: application/json\r\n\r\n2;\r\nab\r\n0\r\n\r\n", 400),
    "TE identity": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
    "no Host": (b"GET /api/randomNumber HTTP/1.1\r\n\r\n", 400),
    "NUL in path": (b"GET /api/random%00Number HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "HTTP/2.0": (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    "gzip coding": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    "request line 9000 B": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "150 headers": (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(150)) + b"\r\n", 431),
    "one 70 kB header": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    "body over 1 MiB": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 2000000\r\n\r\n{}", 413),
    "JSON 100k deep": (b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 100000\r\nConnection: close\r\n\r\n" + b"[" * 100_000, 400),
}


@pytest.mark.parametrize("name", list(SMUGGLING))
def test_smuggling_shapes_and_limits(live: Live, name: str) -> None:
    payload, status = SMUGGLING[name]
    answer = exchange(live.web, payload + OK)
    assert status_of(answer) == status, answer[:200]
    assert b"HTTP/1.1 200" not in answer  # closed: the request behind it never ran


def test_an_upgrade_to_something_else_is_ordinary_and_pipelined(live: Live) -> None:
    body = b"key=abcdef&value=ghijkl"
    answer = exchange(live.web, b"POST /api/cacheTest HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n"
                                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                                % (len(body), body) + OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert answer.count(b"HTTP/1.1 200") == 2, answer[:300]


def _drip(address: tuple[str, int], head: bytes, drip: bytes, every: float, seconds: float) -> tuple[bytes, float]:
    started = time.monotonic()
    answer = b""
    with socket.create_connection(address, timeout=seconds) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        while time.monotonic() - started < seconds and not answer:
            try:
                sock.send(drip)
            except BlockingIOError:
                pass
            except OSError:
                break
            time.sleep(every)
            try:
                answer += sock.recv(4096)
            except BlockingIOError:
                pass
            except OSError:
                break
    return answer, time.monotonic() - started


def test_slowloris_and_slow_bodies_are_cut(live: Live) -> None:
    answer, took = _drip(live.web, b"GET /api/randomNumber HTTP/1.1\r\nHost: x\r\n", b"X-Drip: 1\r\n", 0.2, 6)
    assert status_of(answer) == 408 and took < 4
    answer, took = _drip(live.web, b"POST /api/randomNumber HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 1000\r\n\r\n", b" ", 0.3, 6)
    assert status_of(answer) == 408 and took < 4
    assert status_of(exchange(live.web, OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))) == 200


def test_websocket_abuse(live: Live) -> None:
    sock, head = ws_connect(live.web, b"Origin: http://[::1\r\n")
    assert head.startswith(b"HTTP/1.1 403"), head
    sock.close()
    sock, head = ws_connect(live.web, b"Origin: http://evil.example\r\n")
    assert head.startswith(b"HTTP/1.1 403")
    sock.close()
    sock, head = ws_connect(live.web)
    assert head.startswith(b"HTTP/1.1 101")
    sock.sendall(frame(1, b"x" * (2 * 1024 * 1024)))
    assert ws_close_code(sock) == 1009
    sock.close()
    sock, head = ws_connect(live.web)
    sock.sendall(frame(1, b'{"event":"detailsView"}', mask=False))
    assert ws_close_code(sock) == 1002
    sock.close()
    # a packet of small messages whose replies (15 kB each) far pass websocket.max_queued_bytes
    ask = frame(1, json.dumps({"event": "file", "file": "docs.html"}).encode())
    before = live.rss()
    sock, head = ws_connect(live.web)
    sock.sendall(ask * 2000)
    # the client reads nothing: the server stops at half the cap, closes with 1013 after
    # close_timeout, then drops the connection (a reset, since the client's input is unread)
    time.sleep(2.5)
    assert ws_close_code(sock) in (1013, None)
    grown = (live.rss() - before) / 1e6
    assert grown < 30, f"the server grew {grown:.0f} MB"
    sock.close()


def _tcp(address: tuple[str, int]) -> tuple[socket.socket, Callable[[], bytes]]:
    sock = socket.create_connection(address, timeout=5)
    reader = sock.makefile("rb")
    assert json.loads(reader.readline())["context"] == "api"
    return sock, reader.readline


def test_tcp_floods(live: Live) -> None:
    sock, readline = _tcp(live.tcp)
    sock.sendall(b"x" * 65_537)
    assert b"data length is too big" in readline()
    assert readline() == b""
    sock.close()
    before = live.rss()
    sock, readline = _tcp(live.tcp)
    sock.sendall(b"paramAdd key=" + b"k" * 60_000 + b"\n")
    readline()
    try:
        sock.sendall(b"paramView key\n" * 4300)  # 258 MB of replies, for a client that reads nothing
    except OSError:
        pass
    time.sleep(2.5)  # write_timeout 1 s: the server gives up on it
    grown = (live.rss() - before) / 1e6
    sock.close()
    assert grown < 30, f"the server grew {grown:.0f} MB"
    sock, readline = _tcp(live.tcp)
    sock.sendall(b"randomNumber\n")
    assert b"randomNumber" in readline()
    sock.close()


# --- RSS under every hostile input (reliability.md §2) ---------------------------------------------

def _hostile_inputs(live: Live) -> dict[str, Callable[[], None]]:
    inputs: dict[str, Callable[[], None]] = {
        f"http {name}": (lambda payload=payload: exchange(live.web, payload, timeout=2))
        for name, (payload, _) in SMUGGLING.items()
    }

    def ws_too_big() -> None:
        sock, _ = ws_connect(live.web)
        sock.sendall(frame(1, b"x" * (1024 * 1024 + 10)))
        ws_close_code(sock)
        sock.close()

    def ws_bad_origin() -> None:
        sock, _ = ws_connect(live.web, b"Origin: http://[::1\r\n")
        sock.close()

    def ws_unmasked() -> None:
        sock, _ = ws_connect(live.web)
        sock.sendall(frame(1, b"{}", mask=False))
        ws_close_code(sock)
        sock.close()

    def tcp_flood() -> None:
        sock, readline = _tcp(live.tcp)
        sock.sendall(b"y" * 65_537)
        readline()
        sock.close()

    def tcp_bad_lines() -> None:
        sock, readline = _tcp(live.tcp)
        sock.sendall(b"\xff\xfe\n{\"params\": 1}\n" + b"[" * 1000 + b"\n")
        for _ in range(3):
            readline()
        sock.close()

    inputs.update({"ws message too big": ws_too_big, "ws bad origin": ws_bad_origin, "ws unmasked": ws_unmasked,
                   "tcp flood": tcp_flood, "tcp bad lines": tcp_bad_lines})
    return inputs


#: Each input runs 1,000 times or for this many seconds, whichever ends first.
BUDGET_SECONDS = 1.0
#: RSS growth allowed over the whole corpus (allocator slack, caches warming up), in MB.
RSS_BOUND_MB = 20


def test_rss_stays_flat(live: Live) -> None:
    if live.mode != "hero":
        pytest.skip("the same code serves both modes; RSS is sampled once, on python -m hero start")
    inputs = _hostile_inputs(live)
    for drive in inputs.values():  # warm up: first-use allocations are not growth
        drive()
    baseline = live.rss()
    report = {}
    for name, drive in inputs.items():
        started = time.monotonic()
        count = 0
        while count < 1000 and time.monotonic() - started < BUDGET_SECONDS:
            drive()
            count += 1
        report[name] = (count, (live.rss() - baseline) / 1e6)
    time.sleep(1.0)
    after = (live.rss() - baseline) / 1e6
    print("\n".join(f"{name}: {count} times, RSS {grown:+.1f} MB" for name, (count, grown) in report.items()))
    print(f"baseline {baseline / 1e6:.1f} MB, after the corpus {after:+.1f} MB")
    worst = max(grown for _, grown in report.values())
    assert worst < RSS_BOUND_MB, report
    assert after < RSS_BOUND_MB


# --- graceful stop, last (it ends the server) -----------------------------------------------------

def test_zz_graceful_stop_with_actions_in_flight(live: Live) -> None:
    results: dict[str, object] = {}

    def http() -> None:
        answer = exchange(live.web, b"GET /api/sleepTest?sleepDuration=1000 HTTP/1.1\r\nHost: x\r\n\r\n", timeout=10)
        results["http"] = status_of(answer)

    def tcp() -> None:
        sock, readline = _tcp(live.tcp)
        sock.sendall(b'{"action": "sleepTest", "params": {"sleepDuration": 1000}}\n')
        results["tcp"] = [json.loads(readline() or b"null"), json.loads(readline() or b"null")]
        sock.close()

    def ws() -> None:
        sock, _ = ws_connect(live.web)
        sock.sendall(frame(1, json.dumps({"event": "action", "params": {"action": "sleepTest",
                                                                        "sleepDuration": 1000}}).encode()))
        results["ws"] = ws_close_code(sock)
        sock.close()

    threads = [threading.Thread(target=target) for target in (http, tcp, ws)]
    for thread in threads:
        thread.start()
    time.sleep(0.4)
    stopped_at = time.monotonic()
    live.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(15)
    assert live.process.wait(15) == 0
    took = time.monotonic() - stopped_at
    assert results["http"] == 200
    reply, goodbye = results["tcp"]  # type: ignore[misc]
    assert reply["sleepDuration"] == 1000 and goodbye == {"status": "Bye!", "context": "api"}
    assert results["ws"] == 1001
    assert took < GRACEFUL, f"{live.mode} took {took:.1f}s to stop"
