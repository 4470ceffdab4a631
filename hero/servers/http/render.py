"""Turning a finished action into HTTP bytes: the response, its headers, JSONP (docs/http.md).

Everything that does not change per request (the fixed headers, the metadata switches, the
padding) is worked out once at boot; per request this adds the metadata blocks, encodes with
orjson and picks the status.
"""
from __future__ import annotations

import functools
import logging
import mimetypes
import re
import time
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from hero.core.action import ActionData, RequestBudget
from hero.runtime.json import dumps

log = logging.getLogger(__name__)

JSON_TYPE = ("Content-Type", "application/json; charset=utf-8")
#: A JSONP callback: a dotted JavaScript identifier of at most 4 parts of 64 characters (docs/limits.md).
CALLBACK = re.compile(r"[A-Za-z_$][\w$]{0,63}(?:\.[A-Za-z_$][\w$]{0,63}){0,3}", re.ASCII)


@functools.lru_cache(maxsize=None)
def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


@functools.lru_cache(maxsize=256)
def extension_type(extension: str) -> str | None:
    """The mime type for a file extension (``png`` → ``image/png``), None when unknown."""
    mime = mimetypes.guess_type(f"x.{extension}", strict=False)[0]
    if mime is None:
        return None
    return f"{mime}; charset=utf-8" if mime.startswith("text/") or mime.endswith(("json", "javascript")) else mime


def now_ms() -> int:
    return int(time.time() * 1000)


def budget_headers(budget: RequestBudget, headers: list[tuple[str, str]]) -> None:
    """The request limit as headers (docs/http.md, Request limits): ``RateLimit-*``, and
    ``Retry-After`` once the budget is spent."""
    headers += [("RateLimit-Limit", str(budget.limit)), ("RateLimit-Remaining", str(budget.remaining)),
                ("RateLimit-Reset", str(budget.reset))]
    if budget.exceeded:
        headers.append(("Retry-After", str(budget.reset)))


class Renderer:
    """Builds the status, headers and body of API answers for one web server's config."""

    def __init__(self, general: Mapping[str, Any], web: Mapping[str, Any]) -> None:
        self.server_name: str = general["server_name"]
        self.api_version: str = general["api_version"]
        self.padding: int | None = web["padding"]
        metadata = web["metadata"]
        self.server_information: bool = bool(metadata["server_information"])
        self.requester_information: bool = bool(metadata["requester_information"])
        self.return_error_codes: bool = web["return_error_codes"]
        self.jsonp: bool = web["jsonp"]
        #: Sent on every answer (files and errors too).
        self.base_headers: tuple[tuple[str, str], ...] = (
            ("X-Powered-By", self.server_name),
            ("X-Content-Type-Options", "nosniff"),
            *((str(name), str(value)) for name, value in web["http_headers"].items()),
        )
        origins = tuple(web["cors_origins"])
        self.cors_any = "*" in origins and not web["cors_credentials"]
        self.cors_origins = frozenset(origin for origin in origins if origin != "*")
        self.cors_credentials: bool = web["cors_credentials"]
        self.preflight_headers: tuple[tuple[str, str], ...] = (
            ("Access-Control-Allow-Methods", web["cors_methods"]),
            ("Access-Control-Allow-Headers", web["cors_headers"]),
            ("Access-Control-Max-Age", str(web["cors_max_age"])),
        )

    def __repr__(self) -> str:
        return f"Renderer(padding={self.padding}, jsonp={self.jsonp})"

    def cors(self, origin: str | None) -> list[tuple[str, str]]:
        """The CORS headers for a request's ``Origin`` (none unless it is allowed)."""
        if origin is None:
            return []
        if origin in self.cors_origins:
            headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
            if self.cors_credentials:
                headers.append(("Access-Control-Allow-Credentials", "true"))
            return headers
        if self.cors_any:
            return [("Access-Control-Allow-Origin", "*")]
        return []

    def json_answer(self, status: int, payload: Any, headers: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]], bytes]:
        """A plain JSON answer (errors before the pipeline, health checks)."""
        body = dumps(payload, padding=self.padding)
        headers.append(JSON_TYPE)
        headers.append(("Content-Length", str(len(body))))
        return status, headers, body

    def status_of(self, data: ActionData) -> int:
        if data.connection.status is not None:
            return data.connection.status
        status = data.status
        if status >= 400 and not self.return_error_codes:
            return 200
        return status

    def action_answer(self, data: ActionData, *, message_id: str, remote_ip: str, callback: Any,
                      extension: str | None, headers: list[tuple[str, str]]) -> tuple[int, list[tuple[str, str]], bytes]:
        """The answer to a finished action: the response plus metadata, as JSON (or JSONP)."""
        response = data.response
        metadata = data.action is None or data.action.metadata
        if self.server_information and metadata:
            response["serverInformation"] = {
                "serverName": self.server_name, "apiVersion": self.api_version,
                "requestDuration": round(data.duration_ms), "currentTime": now_ms(),
            }
        if self.requester_information and metadata:
            connection = data.connection
            received = data.received_params or {"action": data.params.get("action")}
            response["requesterInformation"] = {
                "id": connection.id, "fingerprint": connection.fingerprint, "messageId": message_id,
                "remoteIP": remote_ip, "receivedParams": received,
            }
            if data.budget is not None:
                response["requesterInformation"]["RequestsRemaining"] = data.budget.remaining
        if data.budget is not None:
            budget_headers(data.budget, headers)
        status = self.status_of(data)
        if callback is not None and self.jsonp:
            if not isinstance(callback, str) or not CALLBACK.fullmatch(callback):
                return self.json_answer(422, {"error": "callback must be a JavaScript identifier "
                                              "(dotted, at most 4 parts of 64 characters)"}, headers)
        try:
            body = dumps(response, padding=self.padding)
        except (TypeError, ValueError) as error:
            log.error("action %s returned a response that cannot be JSON-encoded: %s", data.action_name, error)
            return self.json_answer(500, {"error": f"the response could not be encoded as JSON: {error}"}, headers)
        if callback is not None and self.jsonp:
            # NOTE: U+2028/2029 are legal in JSON but end a line in older JavaScript parsers.
            body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
            cb = callback.encode("ascii")
            body = b"/**/ typeof " + cb + b" === 'function' && " + cb + b"(" + body + b");"
            headers.append(("Content-Type", "application/javascript; charset=utf-8"))
        else:
            content_type = None
            if extension and "error" not in response and data.action is not None \
                    and data.action.matches_extension_mime_type:
                content_type = extension_type(extension)
            headers.append(("Content-Type", content_type) if content_type else JSON_TYPE)
        headers.append(("Content-Length", str(len(body))))
        return status, headers, body
