"""``connection.raw`` for an HTTP request (docs/http.md, "The connection"): seed 001's
``rawConnection``, read lazily from the WSGI environ so a request that never looks costs nothing more
than this object.

    data.connection.raw.method      # "POST"
    data.connection.raw.headers     # {"content-type": "application/json", ...} (lowercase names)
    data.connection.raw.cookies     # {"sessionID": "..."}
    data.connection.raw.body        # the body's params, unfiltered (no scrubbing, no formatting)
    data.connection.raw.files       # the uploaded files among them: {name: {filename, content_type, size, path}}
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl


class RawRequest:
    """The request as it arrived: method, headers, cookies, and the unfiltered body params and files."""

    __slots__ = ("environ", "method", "body", "query")

    def __init__(self, environ: dict[str, Any], method: str, body: dict[str, Any], query: list[tuple[str, str]]) -> None:
        self.environ = environ
        self.method = method
        #: The body's params (JSON keys, form fields, uploads), before any scrubbing.
        self.body = body
        #: The query string's (name, value) pairs, in order, repeats included.
        self.query = query

    def __repr__(self) -> str:
        return f"RawRequest({self.method} {self.environ.get('PATH_INFO', '/')})"

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> RawRequest:
        """Built from a web connection's ``extra`` when an action first reads ``connection.raw``.

        NOTE: nothing of it is made per request (measured with callgrind, building this object on
        every request cost about 1.5% of a ``randomNumber``)."""
        environ = extra["environ"]
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True, errors="replace")
        return cls(environ, extra["method"], environ.get("hero.body") or {}, query)

    @property
    def headers(self) -> dict[str, str]:
        """The request headers by lowercase name (``content-type``, ``host``, ``x-custom``...)."""
        environ = self.environ
        headers = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items()
                   if key.startswith("HTTP_")}
        for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
            if environ.get(key):
                headers[name] = str(environ[key])
        return headers

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies by name (a malformed Cookie header gives what parsed before it)."""
        # NOTE: lazy: an idle server never parses a Cookie header with the standard library's
        # http.cookies (~85 KiB traced); the first action that reads raw.cookies loads it (issue 17: idle memory)
        from http.cookies import CookieError, SimpleCookie

        cookie = SimpleCookie()
        try:
            cookie.load(self.environ.get("HTTP_COOKIE", ""))
        except CookieError:
            pass
        return {name: morsel.value for name, morsel in cookie.items()}

    @property
    def files(self) -> dict[str, Any]:
        """The uploads among the body params: ``{name: {filename, content_type, size, path}}``."""
        return {name: value for name, value in self.body.items()
                if isinstance(value, dict) and {"filename", "path", "size"} <= value.keys()}

    @property
    def params(self) -> dict[str, Any]:
        """seed 001's ``rawConnection.params``: ``{"query": {...}, "body": {...}, "files": {...}}``."""
        return {"query": dict(self.query), "body": dict(self.body), "files": self.files}
