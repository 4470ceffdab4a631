"""Slow and idle clients by the hundred (reliability.md L1, L4): the deadlines reap them all, and a
fresh client is served meanwhile."""
from __future__ import annotations

import resource
import socket
import time

import gevent
import pytest
import requests

from tests.support.web import boot_web, web_url

pytestmark = pytest.mark.timeout(60)

SLOW_CLIENTS = 300
IDLE_CLIENTS = 500


@pytest.fixture(autouse=True)
def enough_file_descriptors():
    """Both ends of every connection live in this process: make room for them (within the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * max(SLOW_CLIENTS, IDLE_CLIENTS)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"needs {wanted} file descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def api(boot_hero):
    return boot_web(boot_hero, web={"header_timeout": 0.5, "keepalive_timeout": 0.5, "body_timeout": 1.0})


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes ``sock`` (EOF or reset) within ``seconds``, reading what it says."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except OSError:
        return False


def test_hundreds_of_slowloris_clients_are_cut_and_a_fresh_client_is_served(api):
    address = api.servers["web"].address

    def slowloris() -> bool:
        sock = socket.create_connection(address, timeout=5)
        try:
            sock.sendall(b"GET /api/randomNumber HTTP/1.1\r\nHost: x\r\n")
            for _ in range(15):  # one header every 0.2 s: only the total header deadline stops it
                try:
                    sock.sendall(b"X-Drip: 1\r\n")
                except OSError:
                    break
                gevent.sleep(0.2)
            return closed_within(sock, 3)
        finally:
            sock.close()

    started = time.monotonic()
    attackers = [gevent.spawn(slowloris) for _ in range(SLOW_CLIENTS)]
    gevent.sleep(0.2)
    fresh = time.monotonic()
    assert requests.get(f"{web_url(api)}/api/randomNumber", timeout=5).status_code == 200
    assert time.monotonic() - fresh < 1.0
    gevent.joinall(attackers, timeout=20)
    assert all(attacker.value is True for attacker in attackers)
    assert time.monotonic() - started < 10
    assert api.servers["web"].stats()["openSockets"] <= 1


def test_hundreds_of_idle_keep_alive_connections_are_reaped(api):
    address = api.servers["web"].address
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    def idle_client() -> bool:
        sock = socket.create_connection(address, timeout=5)
        try:
            sock.sendall(request)
            if not sock.recv(4096).startswith(b"HTTP/1.1 200"):
                return False
            return closed_within(sock, 3)  # then it idles: the keep-alive timeout must close it
        finally:
            sock.close()

    idlers = [gevent.spawn(idle_client) for _ in range(IDLE_CLIENTS)]
    gevent.sleep(0.3)
    assert requests.get(f"{web_url(api)}/api/randomNumber", timeout=5).status_code == 200
    gevent.joinall(idlers, timeout=20)
    assert sum(1 for idler in idlers if idler.value is True) == IDLE_CLIENTS
