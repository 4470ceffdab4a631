"""hero's WSGI application (docs/http.md): health checks, hosts, CORS, static files, and the API.

    status, headers, body = app.respond(environ)

It works on any WSGI server (pywsgi with :mod:`hero.servers.http.handler`, or gunicorn); with
hero's handler ``environ["hero.path"]`` already holds the decoded path. A simple GET builds no
werkzeug ``Request`` and reads no body: the path is split by hand, the query parsed only when
there is one, and everything fixed is computed in ``__init__``.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from hero.config import Namespace
from hero.container import Api
from hero.core.connection import Connection
from hero.core.processor import ActionData
from hero.core.routes import Route, RouteMatch, RouteTable
from hero.errors import error_message, error_status
from hero.servers.http.answers import (MessageIds, cookie_attributes, gzip_answer, own_response_answer,
                                       with_action_headers)
from hero.servers.http.request import HeroInput
from hero.servers.http.params import BodyError, ParamReader, Uploads, merge
from hero.servers.http.raw import RawRequest
from hero.servers.http.render import JSON_TYPE, Renderer, status_line
from hero.services.public import Body, PublicFiles, StaticFiles

if TYPE_CHECKING:
    from hero.servers.http.mcp import McpEndpoint

log = logging.getLogger(__name__)

#: What answering a request gives: the status, the headers and the body.
Answer = tuple[int, list[tuple[str, str]], Body]

#: Methods whose body is never read for params.
_NO_BODY = frozenset({"GET", "HEAD"})
#: The methods hero answers; any other is a 405 with this ``Allow`` (docs/http.md).
ALLOWED_METHODS = frozenset({"HEAD", "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ALLOW = "HEAD, GET, POST, PUT, PATCH, DELETE, OPTIONS"
#: The verbs of config routes.
ROUTE_VERBS = ("get", "post", "put", "patch", "delete")
_FINGERPRINT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _decoded_path(environ: dict[str, Any]) -> str:
    path = environ.get("hero.path")
    if path is None:  # NOTE: another WSGI server (gunicorn): PATH_INFO is latin-1 of the raw bytes
        try:
            path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
        except UnicodeError:
            path = ""
        environ["hero.path"] = path
    return path or "/"


def _valid_fingerprint(value: str) -> bool:
    return 0 < len(value) <= 128 and all(char in _FINGERPRINT_CHARS for char in value)


class AppHost(Protocol):
    """What the app uses of the web server (:class:`~hero.servers.http.server.WebServer`, which
    builds the app: this module does not import it)."""

    api: Api
    config: Namespace
    routes: RouteTable
    stopping: bool
    public_files: PublicFiles
    #: The static engine of each ``dir`` route, by the route's index.
    mounts: dict[int, StaticFiles]

    def count_request(self) -> None: ...

    def count_file(self) -> None: ...

    def build_connection(self, **attributes: Any) -> Connection: ...

    def destroy_connection(self, connection: Connection) -> None: ...

    def process(self, connection: Connection, params: Mapping[str, Any], *, message_id: Any = None) -> ActionData: ...


class HttpApp:
    """The WSGI callable of a :class:`~hero.servers.http.server.WebServer`."""

    def __init__(self, web: AppHost) -> None:
        self.web = web
        api = web.api
        self.api = api
        config = web.config
        self.routes: RouteTable = web.routes
        self.has_routes = len(web.routes) > 0
        self.renderer = Renderer(api.config.general, config)
        self.params = ParamReader(config, max_json_depth=api.config.general.max_json_depth)
        actions = config["url_path_for_actions"]
        #: None: ``web.url_path_for_actions = None`` switches the action path off (seed 001).
        self.api_prefix: str | None = "/" + str(actions).strip("/") if actions is not None else None
        files = config["url_path_for_files"]
        self.files_prefix = "/" + str(files).strip("/") if files else None
        alias = config["file_alias"]  # seed 001's /file/<path>; None: off (and off with the file server)
        self.file_alias = f"/{str(alias).strip('/')}/" if alias and self.files_prefix is not None else None
        self.compress_json: bool = bool(config["compress"])
        self.compress_min: int = config["compress_min_bytes"]
        self.set_cookie: bool = config["fingerprint_set_cookie"]
        self.cookie_attributes = cookie_attributes(config["fingerprint_cookie_expiry"])
        self.root_is_api = config["root_endpoint_type"] == "api"
        self.simple_routing: bool = config["simple_routing"]
        self.query_routing: bool = config["query_routing"]
        self.cookie_name: str = config["fingerprint_cookie"]
        self.allowed_hosts = tuple(config["allowed_hosts"])
        self.trusted_proxies = frozenset(config["forwarded_allow_ips"])
        self.message_ids = MessageIds()
        # NOTE: connection.raw is built on first use (a sixth key in `extra` cost every request: callgrind)
        Connection.raw_factories["web"] = RawRequest.from_extra
        self.metrics_path: str = api.config.metrics.path
        mcp = api.config.mcp
        #: The path of the Model Context Protocol endpoint (docs/mcp.md), None unless ``mcp.enabled``.
        self.mcp_path: str | None = "/" + str(mcp["path"]).strip("/") if mcp.enabled else None
        #: The endpoint, built on its first request (:meth:`open_mcp`).
        self.mcp: McpEndpoint | None = None

    def __repr__(self) -> str:
        return f"<HttpApp api={self.api_prefix} files={self.files_prefix}>"

    def open_mcp(self) -> McpEndpoint:
        """The Model Context Protocol endpoint (docs/mcp.md), built on its first request."""
        # NOTE: lazy: an idle server never needs the MCP endpoint, its tools and their JSON schemas
        # (hero.core.schemas, hero.core.params.openapi) (issue 17: idle memory)
        from hero.servers.http.mcp import McpEndpoint

        if self.mcp is None:
            self.mcp = McpEndpoint(self.web, self.api.config.mcp, self.params)
        return self.mcp

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            status, headers, body = self.respond(environ)
        except Exception:
            log.exception("web: unexpected error answering %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            body = b'{"error":"internal server error"}'
            status, headers = 500, [JSON_TYPE, ("Content-Length", str(len(body))), ("Connection", "close")]
        body_input = environ.get("wsgi.input")
        # NOTE: say so when the connection will close: stopping, the connection's last keep-alive
        # request, or a request body left unread that is too large to drain (HeroInput._discard
        # closes instead).
        if self.web.stopping or environ.get("hero.closes") or (
                isinstance(body_input, HeroInput) and body_input.abandons_body()):
            headers.append(("Connection", "close"))
        start_response(status_line(status), headers)
        if environ["REQUEST_METHOD"] == "HEAD" or status in (204, 304):
            close = getattr(body, "close", None)
            if close is not None:
                close()
            return []
        return [body] if isinstance(body, bytes) else body

    # --- dispatch -----------------------------------------------------------------------------

    def respond(self, environ: dict[str, Any]) -> Answer:
        path = _decoded_path(environ)
        if path == "/healthz":
            return self.renderer.json_answer(200, {"status": "ok"}, [])
        if path == "/readyz":
            return self.ready()
        if path == self.metrics_path and self.api.metrics is not None:
            content_type, body = self.api.metrics.render()
            return 200, [("Content-Type", content_type), ("Content-Length", str(len(body)))], body
        self.web.count_request()
        method = environ["REQUEST_METHOD"]
        headers = list(self.renderer.base_headers)
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None:
            headers += self.renderer.cors(origin)
        if self.allowed_hosts:
            redirect = self.host_redirect(environ)
            if redirect is not None:
                body = f"You are being redirected to {redirect}\r\n".encode()
                headers += [("Location", redirect), ("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))]
                return 302, headers, body
        if method == "OPTIONS":
            headers += self.renderer.preflight_headers
            headers.append(("Content-Length", "0"))
            return 204, headers, b""
        if method not in ALLOWED_METHODS:  # TRACE, and any method hero does not know (QUERY, PROPFIND...)
            headers.append(("Allow", ALLOW))
            return self.renderer.json_answer(405, {"error": f"{method} is not allowed"}, headers)
        if path == self.mcp_path:
            return (self.mcp or self.open_mcp()).respond(environ, method, headers)
        prefix = self.api_prefix
        if prefix is not None and path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return self.api_request(environ, method, path[len(prefix):] or "/", headers)
        files = self.files_prefix
        if files is not None and path.startswith(files) and (len(path) == len(files) or path[len(files)] == "/"):
            return self.file_request(environ, self.web.public_files, path[len(files) + 1:], headers)
        if self.file_alias is not None and path.startswith(self.file_alias):
            return self.file_request(environ, self.web.public_files, path[len(self.file_alias):], headers)
        if self.root_is_api:
            return self.api_request(environ, method, path, headers)
        return self.file_request(environ, self.web.public_files, path[1:], headers)

    def ready(self) -> Answer:
        problems = []
        if self.api.processor.stopping or self.web.stopping:
            problems.append("the server is shutting down")
        elif not self.api.redis.ping():
            problems.append(f"{self.api.redis.describe()} is not answering")
        if problems:
            return self.renderer.json_answer(503, {"status": "unavailable", "problems": problems}, [])
        return self.renderer.json_answer(200, {"status": "ready"}, [])

    def scheme(self, environ: dict[str, Any]) -> str:
        """``http`` or ``https`` as the client sees it (``X-Forwarded-Proto`` from a trusted proxy)."""
        scheme = environ.get("wsgi.url_scheme", "http")
        if environ.get("REMOTE_ADDR") in self.trusted_proxies:
            scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip().lower()
        return scheme

    def host_redirect(self, environ: dict[str, Any]) -> str | None:
        if f"{self.scheme(environ)}://{environ.get('HTTP_HOST', '')}" in self.allowed_hosts:
            return None
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        return self.allowed_hosts[0].rstrip("/") + target

    def file_request(self, environ: dict[str, Any], files: PublicFiles, relative: str,
                     headers: list[tuple[str, str]]) -> Answer:
        self.web.count_file()
        status, file_headers, body = files.respond(environ, relative)
        return status, headers + list(file_headers), body

    # --- the API ------------------------------------------------------------------------------

    def api_request(self, environ: dict[str, Any], method: str, rest: str, headers: list[tuple[str, str]]) -> Answer:
        match: RouteMatch | None = self.routes.match(method.lower(), rest) if self.has_routes else None
        route = match.route if match is not None else None
        if route is not None and route.dir is not None:
            return self.file_request(environ, self.web.mounts[route.index], match.file or "", headers)  # type: ignore[union-attr]
        if route is not None:
            action_name: str | None = route.action
        elif self.simple_routing and len(rest) > 1 and (rest.count("/") == 1 or rest[1:] in self.api.actions.versions):
            action_name = rest[1:]  # `/api/<name>`, or a Sails identity with slashes (`/api/user/create`)
        elif self.simple_routing and len(rest) > 2 and rest[-1] == "/" and rest.count("/") == 2:
            action_name = rest[1:-1]  # NOTE: seed 001: /api/<action>/ is /api/<action>
        else:
            action_name = None
        if route is None and self.has_routes and (action_name is None or action_name not in self.api.actions.latest):
            allowed = [verb.upper() for verb in ROUTE_VERBS if self.routes.match(verb, rest) is not None]
            if allowed:  # a configured route has this path, for other verbs
                headers.append(("Allow", ", ".join(["HEAD", *allowed] if "GET" in allowed else allowed)))
                return self.renderer.json_answer(405, {"error": f"{method} is not allowed here"}, headers)
        uploads: Uploads | None = None
        try:
            params: dict[str, Any] = {}
            query = environ.get("QUERY_STRING")
            pairs = self.params.query(query) if query else []
            name = action_name
            if name is None and self.query_routing and rest == "/":
                name = next((value for key, value in reversed(pairs) if key == "action"), None)
            list_inputs = self._list_inputs(name)
            if pairs:
                merge(params, pairs, list_inputs)
            if method not in _NO_BODY:
                uploads = Uploads(self.params.upload_dir, keep_extensions=self.params.keep_extensions)
                body: dict[str, Any] = {}
                merge(body, self.params.body(environ, uploads), list_inputs)
                params.update(body)
                environ["hero.body"] = body  # NOTE: for connection.raw.body (unfiltered)
            if match is not None:
                params.update(match.params)
            if action_name is not None:
                params["action"] = action_name
            elif not (self.query_routing and rest == "/"):
                params.pop("action", None)
            if name == "file" and self.file_alias is not None and "file" not in self.api.actions.latest:
                # NOTE: seed 000/001's file action: ?action=file&fileName=<path> (or /api/file?fileName=).
                return self.file_request(environ, self.web.public_files, str(params.get("fileName") or ""), headers)
            if route is not None and route.api_version is not None:
                params.setdefault("apiVersion", route.api_version)
            return self.run_action(environ, method, rest, params, route, headers)
        except BodyError as error:
            if error.close:
                headers.append(("Connection", "close"))
            return self.renderer.json_answer(error.status, {"error": error.message}, headers)
        finally:
            if uploads is not None:
                uploads.cleanup()

    def _list_inputs(self, name: Any) -> frozenset[str]:
        action = self.api.actions.latest.get(name) if isinstance(name, str) else None
        return action.params.list_inputs if action is not None else frozenset()

    def remote(self, environ: dict[str, Any]) -> tuple[str, int]:
        """The client's IP and port: when the peer is a trusted proxy, the right-most
        ``X-Forwarded-For`` hop that is not a trusted proxy (the hops to its left are the client's
        own words, which anyone can write); all hops trusted, the left-most."""
        ip, port = environ.get("REMOTE_ADDR", "0"), environ.get("REMOTE_PORT", "0")
        if ip in self.trusted_proxies:
            forwarded = environ.get("HTTP_X_FORWARDED_FOR")
            if forwarded:
                hops = [hop.strip().removeprefix("::ffff:") for hop in forwarded.split(",")]
                hops = [hop for hop in hops if hop]
                for hop in reversed(hops):
                    ip = hop
                    if hop not in self.trusted_proxies:
                        break
        return ip, int(port) if port.isdigit() else 0

    def fingerprint(self, environ: dict[str, Any], headers: list[tuple[str, str]]) -> str:
        cookie = environ.get("HTTP_COOKIE")
        if cookie and self.cookie_name in cookie:
            for part in cookie.split(";"):
                name, _, value = part.strip().partition("=")
                if name == self.cookie_name and _valid_fingerprint(value := value.strip('"')):
                    return value
        for key in ("HTTP_SESSIONID", "HTTP_X_SESSIONID"):
            value = environ.get(key)
            if value and _valid_fingerprint(value):
                return value
        fingerprint = os.urandom(20).hex()
        if self.set_cookie:
            secure = "; Secure" if self.scheme(environ) == "https" else ""
            headers.append(("Set-Cookie", f"{self.cookie_name}={fingerprint}{self.cookie_attributes}{secure}"))
        return fingerprint

    def run_action(self, environ: dict[str, Any], method: str, rest: str, params: dict[str, Any],
                   route: Route | None, headers: list[tuple[str, str]]) -> Answer:
        fingerprint = self.fingerprint(environ, headers)
        message_id = self.message_ids()
        remote_ip, remote_port = self.remote(environ)
        last = rest.rpartition("/")[2]
        extension = last.rpartition(".")[2] if "." in last else None
        try:
            connection = self.web.build_connection(
                id=f"{fingerprint}-{message_id}", fingerprint=fingerprint, remote_ip=remote_ip,
                remote_port=remote_port, extra={"method": method, "route": route, "extension": extension,
                                                "path": rest, "environ": environ},
            )
        except Exception as error:  # a connection middleware refused it
            return self.renderer.json_answer(error_status(error), {"error": error_message(error)}, headers)
        streaming = False
        try:
            data = self.web.process(connection, params, message_id=message_id)
            if not data.to_render and data.error is None:
                return self.own_answer(environ, connection, headers)
            if data.stream is not None:
                streaming = True
                return self.stream_answer(environ, data, connection, headers)
            if connection.file_to_send is not None and data.error is None:
                status, headers, body = self.file_request(environ, self.web.public_files,
                                                          connection.file_to_send, headers)
                if connection.status is not None:
                    status = connection.status
            else:
                status, headers, body = self.renderer.action_answer(
                    data, message_id=message_id, remote_ip=remote_ip, callback=params.get("callback"),
                    extension=extension, headers=headers)
                if self.compress_json and len(body) >= self.compress_min:
                    body = gzip_answer(environ, headers, body)
            if connection.headers:
                headers = with_action_headers(headers, connection.headers)
            return status, headers, body
        finally:
            if not streaming:
                self.web.destroy_connection(connection)

    def stream_answer(self, environ: dict[str, Any], data: ActionData, connection: Connection,
                      headers: list[tuple[str, str]]) -> Answer:
        """A streaming action's answer (:mod:`hero.servers.http.stream`); its connection lives
        until the body is closed."""
        # NOTE: lazy: an idle server never streams; its first stream loads this (issue 17: idle memory)
        from hero.servers.http.stream import StreamBody, stream_headers

        assert data.stream is not None
        headers, sse = stream_headers(environ, headers)
        if connection.headers:
            headers = with_action_headers(headers, connection.headers)
        body = StreamBody(data.stream, sse=sse, tick=self.api.config.general.stream_keepalive_interval,
                          expose_errors=self.api.processor.expose_errors,
                          on_close=lambda: self.web.destroy_connection(connection))
        return self.renderer.status_of(data), headers, body

    def own_answer(self, environ: dict[str, Any], connection: Connection, headers: list[tuple[str, str]]) -> Answer:
        """An action that set ``data.to_render = False``: its ``connection.respond(...)``, or its
        ``send_file``; one that did neither gets a 500 saying so (never a hung request)."""
        if (own := own_response_answer(connection, headers)) is not None:
            return own
        if connection.file_to_send is not None:
            status, headers, body = self.file_request(environ, self.web.public_files, connection.file_to_send, headers)
            return connection.status or status, with_action_headers(headers, connection.headers), body
        log.error("web: an action set to_render = False without connection.respond() or send_file()")
        return self.renderer.json_answer(500, {"error": "the action set to_render = False but did not respond"}, headers)
