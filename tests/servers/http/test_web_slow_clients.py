"""Slow bodies and slow readers (reliability.md L2, L3; issue 15): a body dripped within the per-read
timeout is cut at the body's total deadline, and a client that takes a large response a trickle at a
time is dropped at the response's total deadline."""
from __future__ import annotations

import socket
import time

import gevent
import pytest
from tests.support.web import boot_web, status_of

from hero import Action
from tests.support.apps import wait_for

pytestmark = pytest.mark.timeout(30)


class Big(Action):
    name = "bigResponse"
    description = "20 MB of JSON"

    def run(self, data):
        return {"blob": "b" * 20_000_000}


def test_a_dripped_body_is_cut_at_the_total_deadline(boot_hero) -> None:
    api = boot_web(boot_hero, web={"body_timeout": 1.0, "body_total_timeout": 1.5})
    started = time.monotonic()
    with socket.create_connection(api.servers["web"].address, timeout=5) as sock:
        sock.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n")
        answer = b""
        for _ in range(20):  # a byte every 0.4 s: each read is in time, the whole never is
            try:
                sock.sendall(b" ")
            except OSError:
                break
            gevent.sleep(0.4)
            sock.setblocking(False)
            try:
                answer += sock.recv(4096)
            except BlockingIOError:
                pass
            except OSError:
                break
            finally:
                sock.setblocking(True)
            if answer:
                break
    assert status_of(answer) == 408, answer[:200]
    assert time.monotonic() - started < 4


def test_a_client_that_reads_a_large_response_a_trickle_at_a_time_is_dropped(boot_hero) -> None:
    api = boot_web(boot_hero, web={"send_total_timeout": 1.0})
    api.actions.add(Big)
    web = api.servers["web"]
    sock = socket.create_connection(web.address, timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)
    sock.sendall(b"GET /api/bigResponse HTTP/1.1\r\nHost: x\r\n\r\n")

    def trickle() -> None:
        try:
            while sock.recv(16_384):  # 16 kB every 0.1 s: within any per-write timeout
                gevent.sleep(0.1)
        except OSError:
            pass

    reader = gevent.spawn(trickle)
    assert wait_for(lambda: len(web.handlers) == 1)
    started = time.monotonic()
    assert wait_for(lambda: len(web.handlers) == 0, timeout=8)  # the server gave up on it
    assert time.monotonic() - started < 4
    reader.kill()
    sock.close()


@pytest.mark.parametrize("key", ["body_total_timeout", "send_total_timeout"])
def test_zero_fails_the_boot(boot_hero, key: str) -> None:
    from hero.errors import ConfigError

    with pytest.raises(ConfigError, match=f"web.{key}"):
        boot_web(boot_hero, web={key: 0})
