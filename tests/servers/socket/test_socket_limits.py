"""The TCP server under hostile or unlucky clients (reliability.md T1–T7, P1), and TLS."""
from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from pathlib import Path

import gevent
import pytest

from tests.support.apps import wait_for
from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(30)

TOO_BIG = "data length is too big ({} bytes max)"


def test_a_line_without_newline_over_the_limit_is_refused_and_read(hero_socket) -> None:
    api, connect = hero_socket()
    client = connect()
    client.send(b"x" * (65_536 + 1))
    assert client.read() == {"status": "error", "error": TOO_BIG.format(65_536), "context": "response"}
    assert client.closed_by_server()
    wait_for(lambda: len(api.connections) == 0)


def test_a_10_mb_flood_gets_the_error_line_not_a_reset(hero_socket) -> None:
    _, connect = hero_socket()
    client = connect()

    def flood() -> None:
        try:
            for _ in range(160):
                client.sock.sendall(b"y" * 65_536)
        except OSError:
            pass  # the server closed, as it should

    sender = gevent.spawn(flood)
    assert client.read()["error"] == TOO_BIG.format(65_536)
    sender.join(timeout=10)


def test_a_complete_line_over_a_small_limit(hero_socket) -> None:
    _, connect = hero_socket({"socket": {"max_line_bytes": 64}})
    client = connect()
    assert client.ask("randomNumber")["messageId"] == 1
    client.send(json.dumps({"action": "cacheTest", "params": {"key": "k" * 100}}) + "\n")
    assert client.read() == {"status": "error", "error": TOO_BIG.format(64), "context": "response"}
    assert client.closed_by_server()


def test_a_flood_of_lines_keeps_at_most_the_limit_in_flight(hero_socket) -> None:
    api, connect = hero_socket()
    client = connect()
    client.ask("paramAdd sleepDuration=200")
    client.send("sleepTest\n" * 2000)
    replies = [client.read() for _ in range(2000)]
    refused = [reply for reply in replies if reply.get("error") == "you have too many pending requests"]
    done = [reply for reply in replies if "sleepDelta" in reply]
    assert len(done) + len(refused) == 2000
    assert 5 <= len(done) < 200 and all(reply["messageId"] > 1 for reply in refused)
    assert client.ask("detailsView")["data"]["pendingActions"] == 0


def test_a_client_that_never_reads_is_closed_and_others_carry_on(hero_socket) -> None:
    api, connect = hero_socket({"socket": {"max_queued_messages": 4, "write_timeout": 0.5}})
    greedy = connect()
    greedy.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    polite = connect()

    greedy.ask("paramAdd key=" + "k" * 60_000)

    def ask_forever() -> None:
        try:
            for _ in range(2000):
                greedy.sock.sendall(b"paramView key\n")  # each reply is 60 kB
        except OSError:
            pass

    pusher = gevent.spawn(ask_forever)
    wait_for(lambda: len(api.connections) == 1, timeout=15)
    assert polite.ask("randomNumber")["messageId"] == 1
    pusher.kill()


def test_per_connection_room_cap(hero_socket) -> None:
    _, connect = hero_socket({"general": {"max_rooms_per_connection": 1}})
    client = connect()
    client.ask("roomAdd defaultRoom")
    assert client.ask("roomAdd otherRoom")["error"] == "too many rooms for this connection (1 max)"


def test_an_idle_client_is_closed(hero_socket) -> None:
    _, connect = hero_socket({"socket": {"idle_timeout": 0.3, "write_timeout": 0.1}})
    client = connect()
    started = time.monotonic()
    assert client.closed_by_server()
    assert 0.25 < time.monotonic() - started < 3


def test_a_disconnect_forgets_the_connection(hero_socket) -> None:
    api, connect = hero_socket()
    client = connect()
    client.ask("roomAdd defaultRoom")
    assert len(api.connections) == 1
    client.close()
    wait_for(lambda: len(api.connections) == 0)
    assert api.chat.status("defaultRoom")["membersCount"] == 0


def test_a_half_closed_client_still_gets_its_replies(hero_socket) -> None:
    _, connect = hero_socket()
    client = connect()
    client.send(json.dumps({"action": "sleepTest", "params": {"sleepDuration": 100}}) + "\n")
    client.sock.shutdown(socket.SHUT_WR)
    assert client.read()["sleepDuration"] == 100
    assert client.closed_by_server()


def test_graceful_stop_finishes_actions_then_says_goodbye(hero_socket) -> None:
    api, connect = hero_socket()
    busy, idle = connect(), connect()
    address = api.servers["socket"].address
    busy.send(json.dumps({"action": "sleepTest", "params": {"sleepDuration": 400}}) + "\n")
    gevent.sleep(0.05)
    stopper = gevent.spawn(api.process.stop)
    assert busy.read()["sleepDuration"] == 400
    assert busy.read() == {"status": "Bye!", "context": "api"}
    assert busy.closed_by_server()
    assert idle.read() == {"status": "Bye!", "context": "api"}
    stopper.join(timeout=10)
    with pytest.raises(OSError):
        socket.create_connection(address, timeout=1)


@pytest.fixture
def certificate(tmp_path: Path) -> dict[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return {"cert": str(cert), "key": str(key)}


def test_tls(hero_socket, certificate: dict[str, str]) -> None:
    api, _ = hero_socket({"socket": {"tls": certificate}})
    server = api.servers["socket"]
    assert server.url.startswith("tls://")
    context = ssl.create_default_context(cafile=certificate["cert"])
    context.check_hostname = False
    raw = socket.create_connection(server.address, timeout=5)
    client = LineClient(server.address, sock=context.wrap_socket(raw, server_hostname="localhost"))
    assert client.welcome["context"] == "api"
    assert client.ask("randomNumber")["messageId"] == 1
    assert client.ask("quit") == {"status": "Bye!", "context": "api"}
    # a plain-text client on the TLS port is dropped, and the server carries on
    plain = socket.create_connection(server.address, timeout=5)
    plain.sendall(b"randomNumber\n")
    try:
        assert plain.recv(100) == b""
    except ConnectionResetError:
        pass
    plain.close()
    again = LineClient(server.address, sock=context.wrap_socket(socket.create_connection(server.address, timeout=5),
                                                                server_hostname="localhost"))
    assert again.ask("randomNumber")["messageId"] == 1
    again.close()


def test_a_bad_certificate_fails_the_boot(hero_socket, tmp_path: Path) -> None:
    from hero.errors import BootError

    with pytest.raises(BootError, match="socket.tls"):
        hero_socket({"socket": {"tls": {"cert": str(tmp_path / "missing.pem"), "key": str(tmp_path / "k.pem")}}})


def test_a_port_in_use_fails_the_boot(hero_socket) -> None:
    from hero.errors import BootError

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        with pytest.raises(BootError, match="cannot be used"):
            hero_socket({"socket": {"port": holder.getsockname()[1]}})
    finally:
        holder.close()


def test_connections_are_bounded_by_the_pool(hero_socket) -> None:
    api, connect = hero_socket({"socket": {"max_connections": 2}})
    first, second = connect(), connect()
    waiting = socket.create_connection(api.servers["socket"].address, timeout=0.3)
    with pytest.raises(socket.timeout):
        waiting.recv(100)  # accepted by the kernel, not served: no welcome yet
    first.close()
    waiting.settimeout(5)
    assert json.loads(waiting.recv(1000).split(b"\r\n")[0])["context"] == "api"
    assert second.ask("randomNumber")["messageId"] == 1
    waiting.close()


def test_reuse_port_lets_two_processes_share_the_port(boot_hero) -> None:
    first = boot_hero({"web": {"enabled": False}, "socket": {"reuse_port": True}})
    port = first.servers["socket"].address[1]
    second = boot_hero({"web": {"enabled": False}, "socket": {"reuse_port": True, "port": port}})
    assert second.servers["socket"].address[1] == port
    client = LineClient(("127.0.0.1", port))
    assert client.ask("randomNumber")["messageId"] == 1
    client.close()


KEEPALIVE_OPTIONS = (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT, socket.TCP_USER_TIMEOUT)


@pytest.mark.parametrize("settings, expected", [
    ({"keepalive_idle": 7, "keepalive_interval": 3, "keepalive_count": 2, "unacked_timeout": 4.5}, (7, 3, 2, 4500)),
    ({"keepalive_idle": None, "keepalive_interval": 0, "keepalive_count": None, "unacked_timeout": None}, None),
])
def test_keepalive_and_unacked_timeout_reach_the_socket(settings, expected):
    """socket.keepalive_* and socket.unacked_timeout set the kernel's options; None leaves its defaults."""
    from types import SimpleNamespace

    from hero.servers.socket.server import _tune

    with socket.socket() as sock:
        defaults = [sock.getsockopt(socket.IPPROTO_TCP, option) for option in KEEPALIVE_OPTIONS]
        _tune(sock, SimpleNamespace(idle_timeout=None, **settings))
        values = tuple(sock.getsockopt(socket.IPPROTO_TCP, option) for option in KEEPALIVE_OPTIONS)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert values == (expected if expected is not None else tuple(defaults))

