"""The WebSocket opening handshake (RFC 6455 §4.2), checked against a parsed WSGI environ.

pywsgi has already read the request head; this module decides whether it is an acceptable upgrade
and writes the raw HTTP answer: ``101`` with the accept token, or a short JSON refusal (400, 403,
426, 503). Nothing here reads from the socket.
"""
from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hero.runtime import json as jsonutil

log = logging.getLogger(__name__)

#: A ``?sessionID=`` longer than this, or with other characters, is ignored (the id is used).
MAX_FINGERPRINT_LENGTH = 128
_FINGERPRINT_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")

_REASONS = {400: "Bad Request", 403: "Forbidden", 426: "Upgrade Required", 503: "Service Unavailable"}


@dataclass
class Refusal(Exception):
    """An upgrade that is answered with an HTTP error instead of ``101``."""

    status: int
    message: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.message}"

    def to_bytes(self) -> bytes:
        body = jsonutil.dumps({"error": self.message})
        lines = [f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Error')}",
                 "Content-Type: application/json; charset=utf-8",
                 f"Content-Length: {len(body)}",
                 "Connection: close",
                 *(f"{name}: {value}" for name, value in self.headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Upgrade:
    """An accepted upgrade: what the session needs from the request."""

    accept_token: str
    origin: str | None
    #: The ``?sessionID=`` fingerprint, when one was given and is well formed.
    fingerprint: str | None

    def response(self) -> bytes:
        return ("HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {self.accept_token}\r\n\r\n").encode("latin-1")


def _tokens(value: str | None) -> set[str]:
    return {token.strip().lower() for token in (value or "").split(",") if token.strip()}


def check_upgrade(environ: Mapping[str, Any], allowed_origins: Sequence[str]) -> Upgrade:
    """Accept the upgrade request in ``environ``, or raise :class:`Refusal` naming what is wrong."""
    if environ.get("REQUEST_METHOD") != "GET":
        raise Refusal(400, "a WebSocket upgrade must be a GET request")
    if "websocket" not in _tokens(environ.get("HTTP_UPGRADE")):
        raise Refusal(426, "this endpoint only speaks WebSocket (Upgrade: websocket)",
                      [("Upgrade", "websocket"), ("Connection", "Upgrade")])
    if "upgrade" not in _tokens(environ.get("HTTP_CONNECTION")):
        raise Refusal(400, "a WebSocket upgrade needs the header Connection: Upgrade")
    if environ.get("HTTP_SEC_WEBSOCKET_VERSION", "").strip() != "13":
        raise Refusal(426, "unsupported WebSocket version (only 13 is spoken)", [("Sec-WebSocket-Version", "13")])
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()
    if not _valid_key(key):
        raise Refusal(400, "a WebSocket upgrade needs a Sec-WebSocket-Key of 16 base64-encoded bytes")
    if environ.get("HTTP_TRANSFER_ENCODING") or _content_length(environ) != 0:
        raise Refusal(400, "a WebSocket upgrade may not carry a body")
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and not origin_allowed(origin, environ, allowed_origins):
        raise Refusal(403, f"origin not allowed ({origin[:200]})")
    # NOTE: lazy: wsproto loads with the first WebSocket, not at boot (hero.servers.websocket.protocol).
    from wsproto.utilities import generate_accept_token

    return Upgrade(accept_token=generate_accept_token(key.encode("ascii")).decode("ascii"), origin=origin,
                   fingerprint=_fingerprint(environ.get("QUERY_STRING", "")))


def _valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False


def _content_length(environ: Mapping[str, Any]) -> int:
    raw = str(environ.get("CONTENT_LENGTH") or "0").strip()
    return int(raw) if raw.isdigit() else -1


def _fingerprint(query_string: str) -> str | None:
    values = parse_qs(query_string, keep_blank_values=False).get("sessionID")
    if not values:
        return None
    value = values[-1]
    if len(value) > MAX_FINGERPRINT_LENGTH or not set(value) <= _FINGERPRINT_CHARACTERS:
        return None
    return value


def _host_port(netloc: str, default_ports: tuple[int, ...]) -> tuple[str, int | None]:
    """Host and port of ``netloc``; a default port counts as no port (``a.com:443`` is ``a.com``)."""
    parts = urlsplit(f"//{netloc}")
    try:
        port = parts.port
    except ValueError:
        return "", None
    return (parts.hostname or "").lower(), None if port in default_ports else port


def origin_allowed(origin: str, environ: Mapping[str, Any], allowed_origins: Sequence[str]) -> bool:
    """True when ``origin`` may open a socket (a guard against cross-site WebSocket hijacking).

    With ``allowed_origins`` empty only the request's own host is allowed: an Origin whose host and
    port equal those of the ``Host`` header. ``"*"`` in the list allows every origin.
    """
    try:
        return _origin_allowed(origin, environ, allowed_origins)
    except ValueError:  # NOTE: urlsplit refuses a malformed IPv6 host ("http://[::1"): not an origin
        return False


def _origin_allowed(origin: str, environ: Mapping[str, Any], allowed_origins: Sequence[str]) -> bool:
    normalised = origin.strip().rstrip("/").lower()
    allowed = {entry.strip().rstrip("/").lower() for entry in allowed_origins}
    if "*" in allowed or normalised in allowed:
        return True
    if allowed or normalised == "null":
        return False
    parsed = urlsplit(normalised)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False
    # NOTE: the scheme is not compared: behind a TLS-terminating proxy the request arrives as
    # http while the page's origin is https (as gorilla/websocket's same-origin check does).
    origin_host, origin_port = _host_port(parsed.netloc, (80,) if parsed.scheme == "http" else (443,))
    request_host, request_port = _host_port(str(environ.get("HTTP_HOST") or ""), (80, 443))
    return bool(origin_host) and origin_host == request_host and origin_port == request_port
