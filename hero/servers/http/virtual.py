"""Virtual requests (``api.request``): a WSGI environ built in memory and answered by the web app
(:class:`~hero.servers.http.app.HttpApp`), so routing, params, middleware, inputs and exits are
exactly those of HTTP, without a socket (docs/actions.md, Virtual requests).

    response = api.request("POST /api/users", params={"email": "ann@example.com"})
    response.status, response.headers["Content-Type"], response.body   # 201, ..., {"user": ...}
"""
from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from hero.errors import CodedError
from hero.runtime.json import dumps

if TYPE_CHECKING:
    from hero.container import Api
    from hero.servers.http.server import WebServer

#: Methods whose params go in the query string (the others send them as a JSON body).
QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Headers(dict[str, str]):
    """Response headers by name, read whatever the case (``headers["content-type"]``)."""

    def __getitem__(self, name: str) -> str:
        for key, value in self.items():
            if key.lower() == name.lower():
                return str(value)
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(key.lower() == name.lower() for key in self)


@dataclass
class VirtualResponse:
    """What a virtual request got: ``status``, ``headers`` and ``body`` (parsed JSON, else the text)."""

    status: int
    headers: Headers
    body: Any
    #: The body's bytes as the web app sent them.
    raw: bytes = b""
    #: Every header in order, repeated names included (``Set-Cookie``).
    header_list: list[tuple[str, str]] = field(default_factory=list)

    @property
    def status_code(self) -> int:
        return self.status

    statusCode = status_code  # noqa: N815 (Sails' spelling)

    def __iter__(self) -> Any:
        """``status, headers, body = api.request(...)``."""
        return iter((self.status, self.headers, self.body))


class VirtualRequests:
    """``api.request``: answers with the running web server's app, or with one built for it (a web
    server that never listens) when the process serves no HTTP (the spec helper)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._own: WebServer | None = None

    def __repr__(self) -> str:
        return f"VirtualRequests({self.api!r})"

    @property
    def web(self) -> WebServer:
        from hero.servers.http.server import WebServer

        running = self.api.servers.get("web")
        if isinstance(running, WebServer):
            return running
        if self._own is None:
            self._own = WebServer(self.api, self.api.config.web)
        return self._own

    def __call__(self, address: Any, params: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None, *, method: str | None = None,
                 body: Any = None) -> VirtualResponse:
        method, url, params, headers, body = _request_of(address, params, headers, method, body)
        environ = self.environ(method, url, params, headers, body)
        status, header_list, answer = self.web.app.respond(environ)
        raw = _read(answer)
        found = Headers(header_list)
        content_type = found.get("Content-Type", "")
        parsed: Any = raw.decode("utf-8", "replace")
        if "json" in content_type and raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                pass
        return VirtualResponse(status, found, parsed, raw, list(header_list))

    def environ(self, method: str, url: str, params: Mapping[str, Any], headers: Mapping[str, str],
                body: Any) -> dict[str, Any]:
        path, _, query = url.partition("?")
        data = b""
        content_type = None
        if params and method in QUERY_METHODS:
            extra = urlencode([(key, _text(value)) for key, value in params.items()])
            query = f"{query}&{extra}" if query else extra
        elif params:
            data, content_type = dumps(dict(params)), "application/json"
        if body is not None:
            data = body if isinstance(body, bytes) else str(body).encode() if isinstance(body, str) else dumps(body)
            content_type = content_type or "application/json"
        allowed = self.api.config.web.allowed_hosts
        host = str(allowed[0]).partition("://")[2].rstrip("/") if allowed else "localhost"
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": query,
            "REQUEST_URI": quote(path, safe="/:@!$&'()*+,;=-._~") + (f"?{query}" if query else ""),
            "SERVER_NAME": "hero.virtual",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "0",
            "HTTP_HOST": host,
            "wsgi.url_scheme": str(allowed[0]).partition("://")[0] if allowed else "http",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": io.StringIO(),
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "hero.virtual": True,
        }
        if data:
            environ["CONTENT_LENGTH"] = str(len(data))
            environ["CONTENT_TYPE"] = content_type or "application/json"
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = str(value)
            else:
                environ[f"HTTP_{key}"] = str(value)
        return environ


def _request_of(address: Any, params: Any, headers: Any, method: str | None,
                body: Any) -> tuple[str, str, dict[str, Any], dict[str, str], Any]:
    """(method, url, params, headers, body) from Sails' two forms of ``request``."""
    if isinstance(address, Mapping):
        options = dict(address)
        url = options.get("url")
        method = options.get("method", method)
        params = {**(options.get("params") or options.get("data") or {}), **(params or {})}
        headers = {**(options.get("headers") or {}), **(headers or {})}
        body = options.get("body", body)
    else:
        url = address
    if not isinstance(url, str) or not url.strip():
        raise CodedError("E_USAGE", f"a virtual request needs a URL (`/api/users`, `POST /api/users`), got {address!r}")
    url = url.strip()
    verb, space, rest = url.partition(" ")
    if space and verb.upper() in METHODS:
        method, url = method or verb, rest.strip()
    if not url.startswith("/"):
        raise CodedError("E_USAGE", f"a virtual request's URL starts with / (got {url!r})")
    method = (method or "GET").upper()
    if method not in METHODS:
        raise CodedError("E_USAGE", f"unknown method {method!r} (use {', '.join(sorted(METHODS))})")
    if params is not None and not isinstance(params, Mapping):
        raise CodedError("E_USAGE", "a virtual request's params must be a dict")
    return method, url, dict(params or {}), dict(headers or {}), body


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return dumps(value).decode()


def _read(answer: Any) -> bytes:
    if isinstance(answer, bytes):
        return answer
    try:
        return b"".join(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
