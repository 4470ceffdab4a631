"""Sails' ``req`` and ``res`` over one run of one action (:class:`~hero.core.action.ActionData`).

A classic action ``fn(req, res)`` and an action middleware ``fn(req, res, proceed)`` get these; they
work on every transport. What ``res`` answers becomes the action's response (a dict: any other
JSON value is sent as ``{"data": value}``) and its status; a status of 400 or more always carries an
``error`` text, so WebSocket and TCP clients, which get no status, see the failure as they see any
hero error.
"""
from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from hero.errors import HeroError, error_message


def reason(status: int) -> str:
    """The HTTP reason phrase of a status (``Not Found``), or ``Error <status>``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


def answer(data: Any, value: Any, status: int, default_error: str | None = None) -> None:
    """Make ``value`` the run's answer with ``status``. An unexpected exception (not hero's) answered
    with 500 or more becomes the run's error, so that hero words it as for any action (its message,
    or ``internal error`` and an ``errorId`` in production) and logs it."""
    data.reply_status = status
    data.response.clear()
    if isinstance(value, BaseException) and not isinstance(value, HeroError) and status >= 500:
        data.error = value
        return
    data.response.update(body_of(value, status, default_error))


def body_of(value: Any, status: int, default_error: str | None = None) -> dict[str, Any]:
    """The response dict for a value sent with ``status`` (see the module's docstring)."""
    if isinstance(value, BaseException):
        body: dict[str, Any] = {"error": error_message(value)}
    elif isinstance(value, Mapping):
        body = dict(value)
    elif value is None:
        body = {}
    elif isinstance(value, str) and status >= 400:
        body = {"error": value}
    else:
        body = {"data": value}
    if status >= 400 and "error" not in body:
        body = {"error": default_error or reason(status), **body}
    return body


class Request:
    """Sails' ``req``: ``params`` (every param, also ``all_params()``), ``headers`` (lowercase names),
    ``method``, ``path``, ``connection``, ``session``, and ``api``."""

    def __init__(self, data: Any, params: Mapping[str, Any] | None = None) -> None:
        self._data = data
        connection = data.connection
        self.connection = connection
        self.session: dict[str, Any] = connection.session
        self.api = data.api
        source = data.params if params is None else params
        #: Every param the action was called with (query, body and route captures on HTTP).
        self.params: dict[str, Any] = {key: value for key, value in source.items() if key != "action"}
        environ = connection.extra.get("environ") or {}
        #: Request headers by lowercase name (HTTP and virtual requests; empty on WebSocket and TCP).
        self.headers: dict[str, str] = _headers(environ)
        #: The HTTP method (``GET`` on WebSocket and TCP, which have none).
        self.method: str = str(connection.extra.get("method") or "GET").upper()
        #: The path as the client requested it (HTTP, virtual requests), else ``/<identity>``.
        self.path: str = str(environ.get("hero.path") or environ.get("PATH_INFO") or f"/{data.action_name}")
        self.ip = connection.remote_ip

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path} params={sorted(self.params)}>"

    def all_params(self) -> dict[str, Any]:
        """Every param (Sails' ``req.allParams()``)."""
        return dict(self.params)

    allParams = all_params  # noqa: N815 (Sails' own spelling)

    def param(self, name: str, default: Any = None) -> Any:
        """One param, or ``default``."""
        return self.params.get(name, default)

    def get(self, header: str) -> str | None:
        """A request header, whatever the case of its name (Sails' ``req.get``)."""
        return self.headers.get(header.lower())

    header = get

    @property
    def identity(self) -> Any:
        """The identity of the action being run."""
        return self._data.action_name


class Response:
    """Sails' ``res``: ``status(code)`` and ``set(header, value)`` chain; ``json``/``send`` answer;
    ``ok``, ``created``, ``bad_request``, ``forbidden``, ``not_found`` and ``server_error`` answer
    with their status."""

    def __init__(self, data: Any) -> None:
        self._data = data
        self._status: int | None = None
        #: True once something answered (``json``, ``send``, a shortcut, ``redirect``).
        self.sent = False

    def __repr__(self) -> str:
        return f"<Response status={self.status_code} sent={self.sent}>"

    @property
    def status_code(self) -> int:
        return self._status if self._status is not None else (self._data.reply_status or 200)

    def status(self, code: int) -> Response:
        """Answer with this status; chainable (``res.status(409).json({...})``)."""
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            raise ValueError(f"an HTTP status must be an int in 100..599, got {code!r}")
        self._status = code
        self._data.reply_status = code
        return self

    def set(self, header: str | Mapping[str, str], value: Any = None) -> Response:
        """Set a response header (or several, from a dict); chainable. Sent on HTTP only."""
        pairs = header.items() if isinstance(header, Mapping) else [(header, value)]
        for name, each in pairs:
            self._data.connection.set_header(str(name), str(each))
        return self

    header = set

    def json(self, value: Any = None) -> None:
        """Answer with ``value`` (a dict; any other JSON value is sent as ``{"data": value}``)."""
        answer(self._data, value, self.status_code)
        self.sent = True

    send = json

    def send_status(self, code: int) -> None:
        """Answer with this status and no body of its own (``sendStatus``)."""
        self.status(code).json(None)

    sendStatus = send_status  # noqa: N815

    def redirect(self, location: str, status: int = 302) -> None:
        """Answer 302 (or ``status``) with a ``Location`` header."""
        self.set("Location", location).status(status).json({"location": location})

    def _shortcut(self, status: int, value: Any) -> None:
        self.status(status).json(value)

    def ok(self, value: Any = None) -> None:
        self._shortcut(200, value)

    def created(self, value: Any = None) -> None:
        self._shortcut(201, value)

    def bad_request(self, value: Any = None) -> None:
        self._shortcut(400, value)

    def forbidden(self, value: Any = None) -> None:
        self._shortcut(403, value)

    def not_found(self, value: Any = None) -> None:
        self._shortcut(404, value)

    def server_error(self, value: Any = None) -> None:
        self._shortcut(500, value)

    # NOTE: Sails' own camelCase spellings, so code carried over from JavaScript runs as it is.
    badRequest = bad_request  # noqa: N815
    notFound = not_found  # noqa: N815
    serverError = server_error  # noqa: N815


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers
