"""Pieces of HTTP answers beside the action's rendered JSON: ``web.compress`` (gzip), an action's own
headers, the answer of an action that set ``to_render = False`` and called ``connection.respond``, and
the message ids answers carry."""
from __future__ import annotations

import gzip
import itertools
import uuid
from random import getrandbits
from typing import Any

from werkzeug.http import parse_accept_header

from hero.core.connection import Connection
from hero.services.public import Body

Answer = tuple[int, list[tuple[str, str]], Body]


class MessageIds:
    """UUID-shaped message ids: a random prefix per process and a counter.

    NOTE: not uuid.uuid4() per request, which costs several times more; a message id must be
    unique, not unguessable (fingerprints, which must be, come from os.urandom).
    """

    def __init__(self) -> None:
        self.prefix = str(uuid.uuid4())[:24]
        self.counter = itertools.count(getrandbits(40))

    def __repr__(self) -> str:
        return f"MessageIds({self.prefix}...)"

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFF:012x}"


def gzip_answer(environ: dict[str, Any], headers: list[tuple[str, str]], body: bytes) -> bytes:
    """``web.compress`` for JSON answers: gzip ``body`` when the client accepts it (headers updated)."""
    accepted = environ.get("HTTP_ACCEPT_ENCODING", "")
    if "gzip" not in accepted or parse_accept_header(accepted).quality("gzip") <= 0:
        return body
    compressed = gzip.compress(body, compresslevel=5, mtime=0)
    for index, (name, _) in enumerate(headers):
        if name == "Content-Length":
            headers[index] = ("Content-Length", str(len(compressed)))
    headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
    return compressed


def cookie_attributes(expiry: float | None) -> str:
    """The fingerprint cookie's attributes (``web.fingerprint_cookie_expiry``: Max-Age, or a session cookie)."""
    return "; Path=/; HttpOnly; SameSite=Lax" + (f"; Max-Age={int(expiry)}" if expiry is not None else "")


def own_response_answer(connection: Connection, headers: list[tuple[str, str]]) -> Answer | None:
    """The answer ``connection.respond(...)`` set (None when the action did not call it)."""
    own = connection.own_response
    if own is None:
        return None
    status, own_headers, body = own
    length = next((value for name, value in own_headers if name.lower() == "content-length"), None)
    headers = with_action_headers(headers, [*connection.headers, *own_headers])
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/octet-stream"))
    if isinstance(body, bytes):
        headers.append(("Content-Length", str(len(body))))
    elif length is not None:
        headers.append(("Content-Length", length))
    return status, headers, body


def with_action_headers(headers: list[tuple[str, str]], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Apply an action's headers: a name it sets replaces ours (Set-Cookie adds; Content-Length stays)."""
    for name, value in extra:
        lower = name.lower()
        if lower == "content-length":
            continue
        if lower != "set-cookie":
            headers = [(key, val) for key, val in headers if key.lower() != lower]
        headers.append((name, value))
    return headers
