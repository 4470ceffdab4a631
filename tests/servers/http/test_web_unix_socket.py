"""``web.port`` as a Unix socket path (seed 001: "Port or Socket Path"; docs/http.md): for a proxy
on the same machine."""
from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from hero.errors import BootError, ConfigError

pytestmark = pytest.mark.timeout(30)


def ask(path: str, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_the_web_server_listens_on_a_unix_socket(boot_hero, tmp_path: Path) -> None:
    path = str(tmp_path / "web.sock")
    api = boot_hero({"web": {"port": path}, "socket": {"enabled": False}})
    server = api.servers["web"]
    assert server.url == "http+unix://" + path.replace("/", "%2F") and server.address is None
    assert stat.S_ISSOCK(os.stat(path).st_mode) and stat.S_IMODE(os.stat(path).st_mode) == 0o660
    answer = ask(path, b"GET /api/randomNumber HTTP/1.1\r\nHost: hero\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and 0 <= json.loads(body)["randomNumber"] <= 1
    server.stop(1)
    assert not os.path.exists(path)  # removed on stop


def test_a_stale_socket_file_is_replaced_and_a_live_one_refused(boot_hero, tmp_path: Path) -> None:
    path = tmp_path / "web.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    boot_hero({"web": {"port": str(path)}, "socket": {"enabled": False}})
    with pytest.raises(BootError, match="another process listens on"):
        boot_hero({"web": {"port": str(path)}, "socket": {"enabled": False}})


def test_a_regular_file_at_the_path_stops_the_boot(boot_hero, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    with pytest.raises(BootError, match="exists and is not a socket"):
        boot_hero({"web": {"port": str(path)}, "socket": {"enabled": False}})
    assert path.read_text() == "keep me"


def test_the_port_env_may_be_a_path_and_bad_paths_are_refused(tmp_path: Path) -> None:
    from hero.config import load_config

    root = Path(__file__).resolve().parents[3]
    path = str(tmp_path / "env.sock")
    assert load_config(root, env="test", environ={"PORT": path}).web.port == path
    with pytest.raises(ConfigError, match="a Unix socket path must be at most 107 bytes"):
        load_config(root, env="test", environ={"PORT": "/" + "x" * 200})
    with pytest.raises(ConfigError, match="socket.port must be a number"):
        load_config(root, env="test", overrides={"socket": {"port": path}})  # only the web port takes a path
