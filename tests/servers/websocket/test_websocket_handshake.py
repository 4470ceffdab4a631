"""The WebSocket opening handshake on the web port (reliability.md row W3): bad upgrades are
answered with a clear HTTP error, and an Origin that is not allowed gets 403 (cross-site
WebSocket hijacking)."""
from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest

from hero.servers.websocket.handshake import origin_allowed
from tests.support.ws import RawClient, WsHero, ask

pytestmark = pytest.mark.timeout(20)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GOOD = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": KEY, "Sec-WebSocket-Version": "13"}


def raw_request(hero: WsHero, headers: dict[str, str | None], *, method: str = "GET", path: str = "/ws",
                body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send one request by hand; return the status, headers and whatever body arrives."""
    merged = {"Host": f"{hero.host}:{hero.port}", **GOOD, **headers}
    lines = [f"{method} {path} HTTP/1.1", *(f"{name}: {value}" for name, value in merged.items() if value is not None)]
    with socket.create_connection((hero.host, hero.port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        found = {name.strip().lower(): value.strip()
                 for name, _, value in (line.partition(":") for line in header_lines)}
        length = int(found.get("content-length", "0") or 0)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(status_line.split()[1]), found, rest


@pytest.fixture
def hero(ws_hero: Callable[..., WsHero]) -> WsHero:
    return ws_hero()


def test_a_good_upgrade_gets_101_with_the_accept_token(hero: WsHero) -> None:
    status, headers, _ = raw_request(hero, {})
    assert status == 101
    assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3's example
    assert headers["upgrade"].lower() == "websocket" and headers["connection"].lower() == "upgrade"
    assert "sec-websocket-extensions" not in headers  # permessage-deflate stays off


@pytest.mark.parametrize(("headers", "status", "text"), [
    ({"Sec-WebSocket-Key": None}, 400, "Sec-WebSocket-Key"),
    ({"Sec-WebSocket-Key": "c2hvcnQ="}, 400, "Sec-WebSocket-Key"),
    ({"Sec-WebSocket-Key": "not base64 at all!!"}, 400, "Sec-WebSocket-Key"),
    ({"Sec-WebSocket-Version": "8"}, 426, "version"),
    ({"Sec-WebSocket-Version": None}, 426, "version"),
    ({"Upgrade": "h2c"}, 426, "WebSocket"),
    ({"Connection": "keep-alive"}, 400, "Connection: Upgrade"),
])
def test_bad_upgrades_are_refused(hero: WsHero, headers: dict[str, str | None], status: int, text: str) -> None:
    got, found, body = raw_request(hero, headers)
    assert got == status
    assert text in json.loads(body)["error"]
    if status == 426 and "Sec-WebSocket-Version" in headers:
        assert found["sec-websocket-version"] == "13"
    assert hero.endpoint.stats()["refused"] >= 1
    assert hero.websocket_connections() == 0


def test_an_upgrade_with_a_body_or_another_method_is_refused(hero: WsHero) -> None:
    status, _, body = raw_request(hero, {"Content-Length": "4"}, body=b"abcd")
    assert status == 400 and "body" in json.loads(body)["error"]
    status, _, _ = raw_request(hero, {}, method="POST")
    assert status in (400, 405)


def test_an_origin_from_another_site_is_refused(hero: WsHero) -> None:
    status, _, body = raw_request(hero, {"Origin": "https://evil.example"})
    assert status == 403 and json.loads(body)["error"] == "origin not allowed (https://evil.example)"
    assert raw_request(hero, {"Origin": "null"})[0] == 403
    assert raw_request(hero, {"Origin": f"http://{hero.host}:{hero.port + 1}"})[0] == 403


def test_the_same_host_and_no_origin_are_allowed(hero: WsHero) -> None:
    assert raw_request(hero, {"Origin": f"http://{hero.host}:{hero.port}"})[0] == 101
    assert raw_request(hero, {"Origin": f"HTTP://{hero.host.upper()}:{hero.port}/"})[0] == 101
    assert raw_request(hero, {})[0] == 101  # non-browser clients send none
    ws = hero.connect(origin=f"http://{hero.host}:{hero.port}")
    assert ask(ws, {"event": "detailsView"})["status"] == "OK"
    ws.close()


def test_allowed_origins_replace_the_same_host_rule(ws_hero: Callable[..., WsHero]) -> None:
    hero = ws_hero({"allowed_origins": ["https://app.example"]})
    assert raw_request(hero, {"Origin": "https://app.example"})[0] == 101
    assert raw_request(hero, {"Origin": f"http://{hero.host}:{hero.port}"})[0] == 403
    assert raw_request(hero, {"Origin": "https://app.example.evil"})[0] == 403


def test_origin_rules() -> None:
    environ = {"HTTP_HOST": "api.example.com", "wsgi.url_scheme": "http"}
    assert origin_allowed("https://api.example.com", environ, [])  # TLS ended at a proxy
    assert origin_allowed("http://api.example.com:80", environ, [])
    assert not origin_allowed("https://api.example.com:8443", environ, [])
    assert not origin_allowed("https://other.example.com", environ, [])
    assert not origin_allowed("file://", environ, [])
    assert origin_allowed("https://anything.example", environ, ["*"])
    assert origin_allowed("https://b.example", environ, ["https://a.example", "https://b.example/"])


def test_a_connection_middleware_that_refuses_gives_403(ws_hero: Callable[..., WsHero]) -> None:
    from hero.core.middleware import ConnectionMiddleware

    hero = ws_hero()

    def refuse(connection: object) -> None:
        raise ValueError("no sockets today")

    hero.api.connections.add_middleware(ConnectionMiddleware("refuser", create=refuse))
    status, _, body = raw_request(hero, {})
    assert status == 403 and json.loads(body)["error"] == "no sockets today"
    assert hero.websocket_connections() == 0


def test_another_path_is_not_a_websocket(hero: WsHero) -> None:
    raw = RawClient(hero.host, hero.port, path="/api/randomNumber")
    assert raw.status != 101
    raw.close()
