"""The Model Context Protocol endpoint (docs/mcp.md): the streamable HTTP transport at ``mcp.path``
(``/mcp``) on the web port, on hero's own HTTP server.

    POST /mcp   one JSON-RPC 2.0 message: a request gets its response as JSON, or as an SSE stream
                (a streaming tool: its progress notifications, then the response); a notification
                or a client's response gets 202
    GET /mcp    405: hero sends nothing unasked
    DELETE /mcp ends the session

``initialize`` opens a session (``Mcp-Session-Id``); every later message names it (400 without it,
404 once it is gone) and may name its ``MCP-Protocol-Version`` (400 for one hero does not speak).
Methods: ``initialize``, ``ping``, ``tools/list``, ``tools/call`` (:mod:`hero.servers.http.mcp_tools`).
"""
from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from hero import __version__
from hero.config import Namespace
from hero.container import Api
from hero.core.connection import Connection
from hero.core.processor import ActionData
from hero.errors import error_message
from hero.runtime import json as jsonutil
from hero.servers.http import mcp_tools
from hero.servers.http.params import BodyError, ParamReader
from hero.servers.http.stream import STREAM_HEADERS
from hero.servers.streaming import TICK, StreamFailed, failure_text, read_stream
from hero.services.public import Body

log = logging.getLogger(__name__)

Answer = tuple[int, list[tuple[str, str]], Body]

#: Protocol versions hero speaks, newest first (an unknown one asked for gets the newest).
PROTOCOL_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
SESSION_HEADER = "Mcp-Session-Id"
JSON_TYPE = ("Content-Type", "application/json")
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
CONNECTION_TYPE = "mcp"


class McpHost(Protocol):
    """What the endpoint uses of the web server."""

    api: Api

    def process(self, connection: Connection, params: Mapping[str, Any], *, message_id: Any = None) -> ActionData: ...


class Sessions:
    """Open sessions by id: at most ``max_sessions`` (the least recently used goes first), each
    forgotten after ``session_timeout`` unused seconds."""

    def __init__(self, max_sessions: int, timeout: float) -> None:
        self.max_sessions = max_sessions
        self.timeout = timeout
        self._used: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def __repr__(self) -> str:
        return f"Sessions({len(self._used)} open)"

    def __len__(self) -> int:
        return len(self._used)

    def open(self, version: str) -> str:
        session_id = secrets.token_urlsafe(24)
        self._used[session_id] = (time.monotonic(), version)
        while len(self._used) > self.max_sessions:
            self._used.popitem(last=False)
        return session_id

    def use(self, session_id: str) -> str | None:
        """The session's protocol version (and it counts as used), None when there is no such session."""
        found = self._used.get(session_id)
        now = time.monotonic()
        if found is None or now - found[0] > self.timeout:
            self._used.pop(session_id, None)
            return None
        self._used[session_id] = (now, found[1])
        self._used.move_to_end(session_id)
        return found[1]

    def close(self, session_id: str) -> bool:
        return self._used.pop(session_id, None) is not None


def rpc_error(message_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}}


def rpc_result(message_id: Any, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "result": result}


def sse_message(message: Mapping[str, Any]) -> bytes:
    return b"event: message\ndata: " + jsonutil.dumps(message) + b"\n\n"


class McpEndpoint:
    """``/mcp``: HTTP in, JSON-RPC dispatch, tools through the pipeline."""

    def __init__(self, web: McpHost, config: Namespace, params: ParamReader) -> None:
        self.web = web
        self.api = web.api
        self.path: str = "/" + str(config["path"]).strip("/")
        self.params = params
        self.sessions = Sessions(config["max_sessions"], config["session_timeout"])
        self.server_name: str = self.api.config.general.server_name
        self.tick: float = self.api.config.general.stream_keepalive_interval

    def __repr__(self) -> str:
        return f"<McpEndpoint {self.path} {self.sessions!r}>"

    # --- HTTP -----------------------------------------------------------------------------------

    def respond(self, environ: dict[str, Any], method: str, headers: list[tuple[str, str]]) -> Answer:
        headers = headers + [("Cache-Control", "no-store")]
        cors = any(name == "Access-Control-Allow-Origin" for name, _ in headers)
        if cors:  # NOTE: web.cors_origins lets this page in; its script must read the session id
            headers.append(("Access-Control-Expose-Headers", SESSION_HEADER))
        elif not self.origin_allowed(environ):
            return self.answer(403, rpc_error(None, INVALID_REQUEST, "this Origin may not use the MCP endpoint"), headers)
        if method == "POST":
            return self.post(environ, headers)
        if method == "DELETE":
            session_id = environ.get("HTTP_MCP_SESSION_ID")
            if not session_id:
                return self.answer(400, rpc_error(None, INVALID_REQUEST, "Mcp-Session-Id header is required"), headers)
            if not self.sessions.close(session_id):
                return self.answer(404, rpc_error(None, INVALID_REQUEST, "the session is not found"), headers)
            return 200, headers + [("Content-Length", "0")], b""
        headers.append(("Allow", "POST, DELETE"))
        return self.answer(405, rpc_error(None, INVALID_REQUEST, f"{method} is not allowed: POST JSON-RPC messages"),
                           headers)

    @staticmethod
    def origin_allowed(environ: dict[str, Any]) -> bool:
        """A browser page may only call from this host, or from an origin ``web.cors_origins`` allows
        (DNS rebinding: the MCP specification's Origin rule)."""
        origin = environ.get("HTTP_ORIGIN")
        if not origin or origin == "null":
            return origin is None
        return urlsplit(origin).netloc == environ.get("HTTP_HOST", "")

    def answer(self, status: int, message: Mapping[str, Any] | None, headers: list[tuple[str, str]]) -> Answer:
        body = jsonutil.dumps(message) if message is not None else b""
        extra = [JSON_TYPE] if message is not None else []
        return status, headers + extra + [("Content-Length", str(len(body)))], body

    def post(self, environ: dict[str, Any], headers: list[tuple[str, str]]) -> Answer:
        try:
            raw = self.params.raw(environ)
        except BodyError as error:
            return self.answer(error.status, rpc_error(None, INVALID_REQUEST, error.message), headers)
        try:
            message = jsonutil.loads(raw)
        except jsonutil.JSONError as error:
            return self.answer(400, rpc_error(None, PARSE_ERROR, f"parse error: {error}"), headers)
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return self.answer(400, rpc_error(None, INVALID_REQUEST, "a message must be one JSON-RPC 2.0 object"),
                               headers)
        method = message.get("method")
        message_id = message.get("id")
        if method == "initialize" and "id" in message:
            return self.initialize(message_id, message.get("params"), headers)
        session_id = environ.get("HTTP_MCP_SESSION_ID")
        if not session_id:
            return self.answer(400, rpc_error(message_id, INVALID_REQUEST, "Mcp-Session-Id header is required"),
                               headers)
        version = self.sessions.use(session_id)
        if version is None:
            return self.answer(404, rpc_error(message_id, INVALID_REQUEST, "the session is not found; initialize again"),
                               headers)
        asked = environ.get("HTTP_MCP_PROTOCOL_VERSION")
        if asked is not None and asked not in PROTOCOL_VERSIONS:
            return self.answer(400, rpc_error(message_id, INVALID_REQUEST, f"unsupported protocol version {asked[:40]}"),
                               headers)
        if "id" not in message or not isinstance(method, str):
            return 202, headers + [("Content-Length", "0")], b""  # a notification, or a client's response
        params = message.get("params") or {}
        if not isinstance(params, dict):
            return self.answer(200, rpc_error(message_id, INVALID_PARAMS, "params must be an object"), headers)
        if method == "ping":
            return self.answer(200, rpc_result(message_id, {}), headers)
        if method == "tools/list":
            tools = [mcp_tools.describe(name, action) for name, action in mcp_tools.tools(self.api.actions).items()]
            return self.answer(200, rpc_result(message_id, {"tools": tools}), headers)
        if method == "tools/call":
            return self.call(environ, message_id, params, headers)
        return self.answer(200, rpc_error(message_id, METHOD_NOT_FOUND, f"method not found: {method[:100]}"), headers)

    # --- methods --------------------------------------------------------------------------------

    def initialize(self, message_id: Any, params: Any, headers: list[tuple[str, str]]) -> Answer:
        asked = params.get("protocolVersion") if isinstance(params, dict) else None
        version = asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0]
        session_id = self.sessions.open(version)
        result = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": self.server_name, "version": __version__},
        }
        return self.answer(200, rpc_result(message_id, result), headers + [(SESSION_HEADER, session_id)])

    def call(self, environ: dict[str, Any], message_id: Any, params: Mapping[str, Any],
             headers: list[tuple[str, str]]) -> Answer:
        name, arguments, token = mcp_tools.call_arguments(params)
        action = mcp_tools.tools(self.api.actions).get(name or "")
        if action is None:
            return self.answer(200, rpc_error(message_id, INVALID_PARAMS, f"unknown tool: {str(name)[:100]}"), headers)
        if arguments is None:
            return self.answer(200, rpc_error(message_id, INVALID_PARAMS, "arguments must be an object"), headers)
        connection = self.connection(environ)
        if connection is None:
            return self.answer(200, rpc_result(message_id, mcp_tools.error_result("the connection was refused")),
                               headers)
        streaming = False
        try:
            data = self.web.process(connection, {**arguments, "action": action.name}, message_id=message_id)
            if data.stream is None:
                return self.answer(200, rpc_result(message_id, mcp_tools.response_result(data)), headers)
            streaming = True
            body = McpStreamBody(self, data, message_id, token, connection)
            return 200, headers + [("Content-Type", "text/event-stream"), *STREAM_HEADERS], body
        finally:
            if not streaming:
                self.api.connections.remove(connection)

    def connection(self, environ: dict[str, Any]) -> Connection | None:
        """A connection of type ``mcp`` for one call; its middleware finds the request's headers in
        ``extra["environ"]``, as for a web request."""
        remote_ip, port = environ.get("REMOTE_ADDR", "0"), environ.get("REMOTE_PORT", "0")
        connection = Connection(type=CONNECTION_TYPE, remote_ip=remote_ip, remote_port=int(port) if port.isdigit() else 0,
                                extra={"method": environ.get("REQUEST_METHOD"), "path": self.path, "route": None,
                                       "extension": None, "environ": environ})
        try:
            return self.api.connections.add(connection)
        except Exception as error:  # a connection middleware refused it
            log.info("mcp: a connection from %s was refused: %s", remote_ip, error_message(error))
            return None


class McpStreamBody:
    """A streaming tool's answer: a progress notification per chunk (with a ``progressToken``), then
    the response holding every chunk; closing it (the client left) stops the action."""

    def __init__(self, endpoint: McpEndpoint, data: ActionData, message_id: Any, token: Any,
                 connection: Connection) -> None:
        assert data.stream is not None
        self.endpoint = endpoint
        self.message_id = message_id
        self.token = token
        self.connection = connection
        self._chunks = read_stream(data.stream, tick=endpoint.tick)
        self._closed = False

    def __repr__(self) -> str:
        return f"<McpStreamBody {self.message_id!r}>"

    def __iter__(self) -> Iterator[bytes]:
        collected: list[Any] = []
        error: str | None = None
        try:
            for chunk in self._chunks:
                if chunk is TICK:
                    yield b": keep-alive\n\n"
                    continue
                collected.append(chunk)
                if self.token is not None:
                    yield sse_message(mcp_tools.progress(self.token, len(collected), chunk))
        except StreamFailed as failed:
            error = failure_text(failed.error, self.endpoint.api.processor.expose_errors)
        yield sse_message(rpc_result(self.message_id, mcp_tools.stream_result(collected, error)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._chunks.close()
        finally:
            self.endpoint.api.connections.remove(self.connection)
