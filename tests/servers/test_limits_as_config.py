"""Limits that were constants are config (issue 15): JSON depth on every transport, the TLS
handshake deadline of the TCP server; each refuses 0 at boot."""
from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import websocket

from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(30)

DEEP = {"a": [[["x"]]]}  # depth 4
SHALLOW = {"a": [["x"]]}  # depth 3


def test_json_depth_is_config_on_every_transport(boot_hero) -> None:
    api = boot_hero({"general": {"max_json_depth": 3}, "websocket": {"enabled": True}})
    host, port = api.servers["web"].address[:2]
    url = f"http://{host}:{port}/api/randomNumber"
    deep = requests.post(url, data=json.dumps(DEEP), headers={"Content-Type": "application/json"}, timeout=5)
    assert deep.status_code == 400 and deep.json()["error"] == "JSON nested deeper than 3 levels"
    shallow = requests.post(url, data=json.dumps(SHALLOW), headers={"Content-Type": "application/json"}, timeout=5)
    assert shallow.status_code == 200

    client = LineClient(api.servers["socket"].address)
    client.send(json.dumps({"action": "randomNumber", "params": DEEP}) + "\n")
    assert client.read()["error"] == "JSON nested deeper than 3 levels"
    client.send(json.dumps({"action": "randomNumber", "params": {"a": ["x"]}}) + "\n")  # depth 3
    assert "randomNumber" in client.read()
    client.close()

    ws = websocket.create_connection(f"ws://{host}:{port}/ws", timeout=5)
    ws.recv()
    ws.send(json.dumps({"event": "action", "params": {"action": "randomNumber", **DEEP}}))
    assert json.loads(ws.recv())["error"] == "JSON nested deeper than 3 levels"
    ws.close()


@pytest.fixture
def certificate(tmp_path: Path) -> dict[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return {"cert": str(cert), "key": str(key)}


def test_the_tls_handshake_deadline_is_config(hero_socket, certificate) -> None:
    api, _ = hero_socket({"socket": {"tls": certificate, "tls_handshake_timeout": 0.3}})
    silent = socket.create_connection(api.servers["socket"].address, timeout=5)
    started = time.monotonic()
    try:
        assert silent.recv(100) == b""  # never says hello: dropped at the deadline
    except ConnectionResetError:
        pass
    assert time.monotonic() - started < 3
    silent.close()


@pytest.mark.parametrize("key", ["general.max_json_depth", "socket.tls_handshake_timeout"])
def test_zero_fails_the_boot(boot_hero, key: str) -> None:
    from hero.errors import ConfigError

    namespace, _, name = key.partition(".")
    with pytest.raises(ConfigError, match=key):
        boot_hero({namespace: {name: 0}})
