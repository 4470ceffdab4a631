"""A connection: one client on one transport, and the registry of this process's live ones."""
from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hero.core.middleware import ConnectionMiddleware, MiddlewareChain
from hero.errors import HeroError

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


#: A place in a message: ``{{name}}`` (actionhero's form) or ``{name}``.
PLACE = re.compile(r"\{\{\s*(\w+)\s*\}\}|\{(\w+)\}")


def fill(message: str, values: Mapping[str, Any]) -> str:
    """Put ``values`` in ``message``'s places; a place with no value stays as it is (never ``format``,
    so a message cannot reach into a value's attributes)."""
    if not values or "{" not in message:
        return message
    parts = _TEMPLATES.get(message)
    if parts is None:
        parts = _parse_template(message)
    if len(parts) == 2:
        # NOTE: one place (an action's usual sentence): two concatenations instead of a list and a join.
        (literal, name, place), (tail, _, _) = parts
        if name is not None:
            return literal + (str(values[name]) if name in values else place) + tail
    filled = []
    for literal, name, place in parts:
        filled.append(literal)
        if name is not None:
            filled.append(str(values[name]) if name in values else place)
    return "".join(filled)


#: Messages already split into (text before, place name, the place as written): an action's sentence is
#: parsed once, not matched by the regex on every request. Bounded: messages may come from clients.
_TEMPLATES: dict[str, list[tuple[str, str | None, str]]] = {}
_MAX_TEMPLATES = 1024


def _parse_template(message: str) -> list[tuple[str, str | None, str]]:
    parts: list[tuple[str, str | None, str]] = []
    at = 0
    for match in PLACE.finditer(message):
        parts.append((message[at:match.start()], match.group(1) or match.group(2), match.group(0)))
        at = match.end()
    parts.append((message[at:], None, ""))
    if len(_TEMPLATES) < _MAX_TEMPLATES:
        _TEMPLATES[message] = parts
    return parts


@dataclass(eq=False)
class Connection:
    """One client. Transports build it; actions may read it (``data.connection``).

    ``send`` is the transport's way to push a message (a dict) to this client: chat, RPC
    replies to remote callers. Persistent transports set it; per-request HTTP connections don't.
    """

    type: str
    remote_ip: str = "0"
    remote_port: int | str = 0
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    fingerprint: str = ""
    connected_at: int = field(default_factory=now_ms)
    #: Sticky params (the TCP ``paramAdd`` verb).
    params: dict[str, Any] = field(default_factory=dict)
    #: Free for actions and middleware (e.g. a user id after authentication).
    session: dict[str, Any] = field(default_factory=dict)
    rooms: list[str] = field(default_factory=list)
    pending_actions: int = 0
    total_actions: int = 0
    can_chat: bool = False
    send: Callable[[dict[str, Any]], None] | None = None
    #: Transport-specific facts (web: matched route, extension, method; ws: origin ...).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Set by actions: the HTTP status to answer with (wins over error statuses).
    status: int | None = None
    #: Set by actions: extra response headers, in order (``set_header``).
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: Set by actions: a file to answer with instead of JSON (``send_file``).
    file_to_send: str | None = None
    destroyed: bool = False
    #: How each transport builds ``connection.raw`` from ``extra`` (registered once, by type).
    raw_factories: ClassVar[dict[str, Callable[[dict[str, Any]], Any]]] = {}
    #: Messages the transport has sent this client (seed 001's ``messageCount``; TCP and WebSocket).
    message_count: int = 0
    #: The connection's language (docs/actions.md, Localization): set by a ``locale`` param, else
    #: negotiated from ``Accept-Language`` on first use; None until then.
    locale: str | None = None
    #: How :meth:`localize` translates (set by ``Connections.add`` from the process's catalogs);
    #: None: messages are only filled in.
    localizer: Callable[[Connection, str, Mapping[str, Any]], str] | None = None
    _message_counter: int = 0

    def __post_init__(self) -> None:
        if not self.fingerprint:
            self.fingerprint = self.id

    def __repr__(self) -> str:
        return f"Connection(type={self.type!r}, id={self.id!r}, remote={self.remote_ip}:{self.remote_port})"

    def next_message_id(self) -> int:
        """A per-connection counter 1, 2, 3 for replies that carry no client messageId."""
        self._message_counter += 1
        return self._message_counter

    def send_message(self, message: dict[str, Any]) -> bool:
        """Push a message to the client; False when this transport cannot push (plain HTTP)."""
        if self.send is None or self.destroyed:
            return False
        self.send(message)
        return True

    def localize(self, message: str | Sequence[Any], /, **values: Any) -> str:
        """``message`` in this connection's language, its ``{name}`` (or ``{{name}}``) places filled
        from ``values``: ``localize("Your random number is {number}", number=n)``, or actionhero's
        list form ``localize(["Your random number is {{number}}", {"number": n}])``."""
        if not isinstance(message, str):
            parts = list(message)
            if not parts or not isinstance(parts[0], str) or (len(parts) > 1 and not isinstance(parts[1], Mapping)):
                raise TypeError("localize takes a string, or a list of a string and a dict of values")
            values = {**(parts[1] if len(parts) > 1 else {}), **values}
            message = parts[0]
        if self.localizer is not None:
            return self.localizer(self, message, values)
        return fill(message, values)

    def set_status(self, status: int) -> None:
        """Answer with this HTTP status, whatever else happens (web only)."""
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"an HTTP status must be an int in 100..599, got {status!r}")
        self.status = status

    def set_header(self, name: str, value: str) -> None:
        """Add a response header (web only); for a repeated name the last wins, except Set-Cookie."""
        if any(char in f"{name}{value}" for char in "\r\n\0"):
            raise ValueError("a header name or value may not contain CR, LF or NUL")
        if name.lower() != "set-cookie":
            self.headers = [(key, val) for key, val in self.headers if key.lower() != name.lower()]
        self.headers.append((name, str(value)))

    def send_file(self, path: str) -> None:
        """Answer with this file (relative to the public folder) instead of the JSON response."""
        self.file_to_send = path

    def respond(self, status: int, headers: Any, body: Any) -> None:
        """Answer the HTTP request yourself (docs/http.md, "An action's own response"): with
        ``data.to_render = False`` this status, these headers (a dict or (name, value) pairs) and
        body (bytes, str as UTF-8, or an iterable of bytes, streamed) go out instead of the JSON."""
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"an HTTP status must be an int in 100..599, got {status!r}")
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or ())
        checked: list[tuple[str, str]] = []
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"a header must be a (name, value) pair, got {pair!r}")
            name, value = str(pair[0]), str(pair[1])
            if any(char in f"{name}{value}" for char in "\r\n\0"):
                raise ValueError("a header name or value may not contain CR, LF or NUL")
            checked.append((name, value))
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif body is None:
            body = b""
        elif not isinstance(body, bytes) and not hasattr(body, "__iter__"):
            raise ValueError(f"a body must be bytes, str or an iterable of bytes, got {type(body).__name__}")
        self.status = status
        self.extra["own_response"] = (status, checked, body)

    @property
    def own_response(self) -> tuple[int, list[tuple[str, str]], Any] | None:
        """What :meth:`respond` was given, or None."""
        own: tuple[int, list[tuple[str, str]], Any] | None = self.extra.get("own_response")
        return own

    @property
    def extension(self) -> str | None:
        """Web: the extension of the request path's last segment (``/api/report.csv`` → ``csv``)."""
        extension: str | None = self.extra.get("extension")
        return extension

    @property
    def matched_route(self) -> dict[str, Any] | None:
        """Web: the route that matched (``{"path", "action", "verb"}``), None for ``/api/<action>``."""
        route = self.extra.get("route")
        if route is None:
            return None
        return {"path": route.path, "action": route.action, "verb": route.verb}

    @property
    def raw(self) -> Any:
        """The transport's own view of the request (web: method, headers, cookies, unfiltered body
        params and files; seed 001's ``rawConnection``), or None. Built on first use: the transport
        registers a factory in ``Connection.raw_factories``."""
        extra = self.extra
        built = extra.get("raw")
        if built is None:
            make = self.raw_factories.get(self.type)
            if make is None:
                return None
            built = extra["raw"] = make(extra)
        return built

    def details(self) -> dict[str, Any]:
        """The ``detailsView`` payload (docs/tcp.md, Verbs)."""
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "type": self.type,
            "remoteIP": self.remote_ip,
            "remotePort": self.remote_port,
            "params": dict(self.params),
            "connectedAt": self.connected_at,
            "rooms": list(self.rooms),
            "totalActions": self.total_actions,
            "pendingActions": self.pending_actions,
        }


class Connections:
    """The live connections of this process, with connection middleware and destroy hooks."""

    def __init__(self) -> None:
        self._by_id: dict[str, Connection] = {}
        self.middleware: MiddlewareChain[ConnectionMiddleware] = MiddlewareChain("connection")
        #: Called with each connection as it goes (chat uses it to leave rooms), after middleware.
        self.destroy_hooks: list[Callable[[Connection], None]] = []
        #: How :meth:`apply` reaches a connection wherever it lives (the cluster's RPC, set by the
        #: wiring); without one, only this process's connections are reached.
        self.reach: Callable[[str, str | None, Any], dict[str, Any]] | None = None
        #: Handed to every connection added (its ``localize``): the process's catalogs, set by the wiring.
        self.localizer: Callable[[Connection, str, Mapping[str, Any]], str] | None = None

    def __repr__(self) -> str:
        return f"Connections({len(self._by_id)} live)"

    def add_middleware(self, middleware: ConnectionMiddleware) -> ConnectionMiddleware:
        return self.middleware.add(middleware)

    def add(self, connection: Connection) -> Connection:
        """Register a new connection; a ``create`` middleware that raises refuses it."""
        connection.localizer = self.localizer
        self._by_id[connection.id] = connection
        try:
            for middleware in self.middleware:
                middleware.create(connection)
        except BaseException:
            self._by_id.pop(connection.id, None)
            connection.destroyed = True
            raise
        return connection

    def remove(self, connection: Connection) -> None:
        """Forget a connection: ``destroy`` middleware, then destroy hooks. Never raises."""
        if connection.destroyed:
            return
        connection.destroyed = True
        for middleware in self.middleware:
            try:
                middleware.destroy(connection)
            except Exception:
                log.exception("connection middleware %s failed in destroy", middleware.name)
        for hook in self.destroy_hooks:
            try:
                hook(connection)
            except Exception:
                log.exception("a connection destroy hook failed for %s", connection.id)
        self._by_id.pop(connection.id, None)

    def get(self, connection_id: str) -> Connection | None:
        return self._by_id.get(connection_id)

    def __contains__(self, connection_id: object) -> bool:
        return connection_id in self._by_id

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def count_by_type(self) -> dict[str, int]:
        return dict(Counter(connection.type for connection in self._by_id.values()))

    def apply(self, connection_id: str, method: str | None = None, args: Any = None) -> dict[str, Any]:
        """actionhero's ``connections.apply``: act on a connection wherever it lives; its details back."""
        if self.reach is None:
            return self.apply_here(connection_id, method, args)
        return self.reach(connection_id, method, args)

    def apply_here(self, connection_id: str, method: str | None = None, args: Any = None) -> dict[str, Any]:
        """Act on a connection of this process: ``None`` (read), ``set``, ``send_message``, ``send_file``."""
        connection = self.get(connection_id)
        if connection is None:
            raise HeroError(f"connection {connection_id} is not here", status=404)
        if method == "set":
            name, value = list(args or [None, None])[:2]
            if name not in SETTABLE:
                raise HeroError(f"connection attribute {name} cannot be set (settable: {', '.join(sorted(SETTABLE))})",
                                status=422)
            setattr(connection, name, value)
        elif method in ("send_message", "sendMessage"):
            connection.send_message(args)
        elif method in ("send_file", "sendFile"):
            connection.send_file(str(args))
        elif method is not None:
            raise HeroError(f"cannot apply {method} to a connection", status=422)
        return connection_summary(connection)


#: Connection attributes ``apply(id, "set", [name, value])`` may change.
SETTABLE = frozenset({"params", "session", "fingerprint", "extra"})


def connection_summary(connection: Connection) -> dict[str, Any]:
    """A JSON-safe copy of a connection (what ``apply`` returns)."""
    return {**connection.details(), "canChat": connection.can_chat}
