"""HTTPS and wss:// on hero's own web server (``web.tls``) and under gunicorn (``--certfile``,
``--keyfile``), with real TLS clients (requests, websocket-client, Python's ssl) against a
self-signed certificate made here with ``openssl`` (docs/http.md, "HTTPS")."""
from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import websocket

from hero.errors import BootError
from tests.support.apps import free_port
from tests.support.apps import APP_ROOT
from tests.support.needs import require_tool

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 / localhost: (cert path, key path)."""
    openssl = require_tool("openssl", "the TLS tests make their certificate with openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=30)
    return str(cert), str(key)


def test_https_and_wss_on_the_builtin_server(boot_hero, certificate) -> None:
    cert, key = certificate
    api = boot_hero({"web": {"tls": {"cert": cert, "key": key}}, "socket": {"enabled": False}})
    server = api.servers["web"]
    host, port = server.address
    assert server.url == f"https://{host}:{port}"
    with requests.Session() as session:
        for _ in range(3):  # keep-alive over one TLS connection
            response = session.get(f"https://127.0.0.1:{port}/api/randomNumber", verify=cert, timeout=5)
            assert response.status_code == 200 and 0 <= response.json()["randomNumber"] <= 1
        assert "; Secure" in response.headers.get("Set-Cookie", "; Secure")  # cookie only on the first
        page = session.get(f"https://127.0.0.1:{port}/public/simple.html", verify=cert, timeout=5)
        assert page.status_code == 200 and page.text
        posted = session.post(f"https://127.0.0.1:{port}/api/cacheTest", json={"key": "tls", "value": "x" * 200_000},
                              verify=cert, timeout=5)
        assert posted.json()["cacheTestResults"]["loadResp"]["value"] == "x" * 200_000
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api/randomNumber", timeout=5)  # plain HTTP is not spoken

    ws = websocket.create_connection(f"wss://127.0.0.1:{port}/ws", sslopt={"ca_certs": cert}, timeout=5)
    try:
        assert json.loads(ws.recv())["context"] == "api"
        for message_id in range(1, 4):
            ws.send(json.dumps({"event": "action", "params": {"action": "randomNumber"}, "messageId": message_id}))
            assert json.loads(ws.recv())["messageId"] == message_id
        ws.send(json.dumps({"event": "file", "file": "simple.html", "messageId": 9}))
        assert json.loads(ws.recv())["content"] == page.text
        for message_id in range(100, 150):  # a burst: replies queue behind the TLS writer
            ws.send(json.dumps({"event": "action", "params": {"action": "randomNumber"}, "messageId": message_id}))
        assert sorted(json.loads(ws.recv())["messageId"] for _ in range(50)) == list(range(100, 150))
    finally:
        ws.close()


def test_a_client_that_never_finishes_the_handshake_does_not_block_others(boot_hero, certificate) -> None:
    cert, key = certificate
    api = boot_hero({"web": {"tls": {"cert": cert, "key": key}}, "socket": {"enabled": False}})
    port = api.servers["web"].address[1]
    with socket.create_connection(("127.0.0.1", port)):  # connects, says nothing
        response = requests.get(f"https://127.0.0.1:{port}/api/randomNumber", verify=cert, timeout=5)
        assert response.status_code == 200
    context = ssl.create_default_context(cafile=cert)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_a_missing_certificate_stops_the_boot(boot_hero, tmp_path: Path) -> None:
    with pytest.raises(BootError, match="web.tls: cannot load the certificate and key"):
        boot_hero({"web": {"tls": {"cert": str(tmp_path / "nope.pem"), "key": str(tmp_path / "nope.key")}}})


def test_https_and_wss_under_gunicorn(certificate, tmp_path: Path) -> None:
    cert, key = certificate
    port, socket_port = free_port(), free_port()
    environment = {key_: value for key_, value in os.environ.items() if not key_.startswith("HERO_")}
    environment.pop("REDIS_URL", None)
    environment.update({"HERO_ENV": "test", "HOME": str(tmp_path), "HERO_SOCKET_PORT": str(socket_port)})
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "hero.gunicorn.Worker", "-w", "1", "-b", f"127.0.0.1:{port}",
         "--certfile", cert, "--keyfile", key, "--no-control-socket", "--graceful-timeout", "3", "hero.gunicorn:app"],
        cwd=APP_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if requests.get(f"https://127.0.0.1:{port}/healthz", verify=cert, timeout=1).ok:
                    break
            except requests.RequestException:
                assert time.monotonic() < deadline, "gunicorn did not come up"
                time.sleep(0.2)
        response = requests.get(f"https://127.0.0.1:{port}/api/randomNumber", verify=cert, timeout=5)
        assert response.status_code == 200 and "; Secure" in response.headers["Set-Cookie"]
        ws = websocket.create_connection(f"wss://127.0.0.1:{port}/ws", sslopt={"ca_certs": cert}, timeout=5)
        try:
            assert json.loads(ws.recv())["context"] == "api"
            ws.send(json.dumps({"event": "action", "params": {"action": "randomNumber"}, "messageId": 7}))
            assert json.loads(ws.recv())["messageId"] == 7
        finally:
            ws.close()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
