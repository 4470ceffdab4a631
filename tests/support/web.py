"""Shared by the web server tests: extra actions registered on a booted app, and a raw HTTP client."""
from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import gevent

from hero import Action, Input
from hero.errors import HeroError


class Echo(Action):
    """Returns its params (and uploads) as the action saw them."""

    name = "echo"
    inputs = {
        "key": Input(),
        "value": Input(),
        "tags": Input(many=True),
        "userID": Input(),
        "path": Input(),
        "upload": Input(),
        "payload": Input(),
        "my.id": Input(),
    }

    def run(self, data):
        return {"params": {key: value for key, value in data.params.items() if key not in ("action", "apiVersion")}}


class Versioned1(Action):
    name = "versioned"
    version = 1

    def run(self, data):
        return {"version": 1}


class Versioned2(Action):
    name = "versioned"
    version = 2

    def run(self, data):
        return {"version": 2}


class Teapot(HeroError):
    status = 418
    message = "I am a teapot"


class Fail(Action):
    """Fails the way its ``how`` param says."""

    name = "fail"
    inputs = {"how": Input(required=True)}

    def run(self, data):
        how = data.params["how"]
        connection = data.connection
        if how == "raise":
            raise RuntimeError("broken")
        if how == "code":
            error = RuntimeError("custom code")
            error.code = 402  # type: ignore[attr-defined]
            raise error
        if how == "teapot":
            raise Teapot()
        if how == "status_then_raise":
            connection.set_status(402)
            raise RuntimeError("payment required")
        if how == "error_key":
            return {"error": {"reason": "structured"}}
        if how == "unencodable":
            return {"value": object()}
        if how == "sleep":
            gevent.sleep(5)
        return {"ok": True}


class Headers(Action):
    name = "headers"

    def run(self, data):
        connection = data.connection
        connection.set_status(201)
        connection.set_header("X-Custom", "one")
        connection.set_header("X-Custom", "two")
        connection.set_header("Set-Cookie", "a=1")
        connection.set_header("Set-Cookie", "b=2")
        connection.set_header("X-Powered-By", "custom")
        return {"ok": True}


class SendFile(Action):
    name = "sendFile"

    def run(self, data):
        data.connection.send_file(data.params.get("file") or "simple.html")


class UploadThenFail(Action):
    """Records where its upload was, then fails (the file must still be removed)."""

    name = "uploadThenFail"
    inputs = {"upload": Input(required=True)}
    seen: list[str] = []

    def run(self, data):
        UploadThenFail.seen.append(data.params["upload"]["path"])
        raise RuntimeError("after the upload")


class WebOnly(Action):
    name = "webBlocked"
    blocked_connection_types = ["web"]

    def run(self, data):
        return {}


class Slow(Action):
    name = "slow"
    inputs = {"ms": Input(default=300, formatter=int)}
    timeout = 0.2

    def run(self, data):
        gevent.sleep(data.params["ms"] / 1000)
        return {"slept": data.params["ms"]}


class MimeTest(Action):
    name = "mimeTest"
    inputs = {"key": Input()}

    def run(self, data):
        return {"key": data.params.get("key")}


TEST_ACTIONS = (Echo, Versioned1, Versioned2, Fail, Headers, SendFile, UploadThenFail, WebOnly, Slow, MimeTest)

TEST_ROUTES = {
    "get": [
        {"path": "/status", "action": "status"},
        {"path": "/random", "action": "randomNumber"},
        {"path": "/users/:userID(^(\\d{3}|admin)$)", "action": "echo"},
        {"path": "/users/:key", "action": "echo"},
        {"path": "/v:apiVersion/versioned", "action": "versioned"},
        {"path": "/old/versioned", "action": "versioned", "apiVersion": 1},
        {"path": "/Mixed/Case", "action": "echo"},
        {"path": "/wild/:key/:path", "action": "echo", "matchTrailingPathParts": True},
        {"path": "/dotted/:my.id", "action": "echo"},
        {"path": "/first/:key", "action": "randomNumber"},
        {"path": "/first/literal", "action": "echo"},
        {"path": "/mime/:key", "action": "mimeTest"},
        {"path": "/files", "dir": "public"},
    ],
    "post": [{"path": "/things/:key", "action": "echo"}],
    "all": [{"path": "/everywhere", "action": "echo"}],
}


def boot_web(boot_hero: Callable[..., Any], web: dict | None = None, *, redis: bool = False,
             **overrides: Any) -> Any:
    """Boot the example app with the test routes and actions; returns the api."""
    layers = {"routes": TEST_ROUTES, "web": {"padding": None, **(web or {})}, "socket": {"enabled": False}}
    layers.update(overrides)
    api = boot_hero(layers, redis=redis)
    for action in TEST_ACTIONS:
        if action.name not in api.actions or action.version not in api.actions.versions[action.name]:
            api.actions.add(action)
    return api


def web_url(api: Any) -> str:
    return api.servers["web"].url


def raw_exchange(address: tuple[str, int], payload: bytes, *, timeout: float = 3.0, read_all: bool = True) -> bytes:
    """Send raw bytes and return what the server answers until it closes (or ``timeout``)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_all:
                break
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    """The status code of the first response in ``answer`` (0 when there is none)."""
    if not answer.startswith(b"HTTP/1.1 "):
        return 0
    return int(answer[9:12])
