"""The route table (docs/http.md, Routes), built once at boot from config ``routes``.

    routes = RouteTable.from_config(config.routes)
    match = routes.match("get", "/users/42")      # RouteMatch(route, {"userID": "42"}) or None

Routes are tried in the order they are declared, per verb, and the first that matches wins.
werkzeug matches the routes with captures (:mod:`hero.core.route_captures`, imported only when
there is one): each pattern becomes a ``Rule`` whose every part is a converter. Each such route has
its own ``Map``, bound once, so werkzeug's own precedence (static before dynamic, by weight) never
reorders the table; routes made only of literals skip werkzeug altogether through a dict.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hero.errors import BootError

if TYPE_CHECKING:
    from hero.core.route_captures import Captures

#: The verbs a route may name; ``all`` means every one of them.
VERBS: tuple[str, ...] = ("get", "post", "put", "patch", "delete", "head")


@dataclass(frozen=True)
class Route:
    """One entry of config ``routes``."""

    verb: str
    path: str
    action: str | None = None
    api_version: Any = None
    match_trailing_path_parts: bool = False
    #: A folder (relative to the app root, or absolute) mounted for static files.
    dir: str | None = None
    #: Its position in the table (the first matching route wins).
    index: int = 0
    #: The Sails-form key it was written as (``"GET /users/:id"``), if it was.
    address: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"verb": self.verb, "path": self.path, "action": self.action, "apiVersion": self.api_version,
                "matchTrailingPathParts": self.match_trailing_path_parts, "dir": self.dir}


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    #: The captures, decoded (``+`` is a space), by name.
    params: dict[str, str] = field(default_factory=dict)
    #: For a ``dir`` route: the file path below the mount.
    file: str | None = None


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def _parse(entry: Any, verb: str, index: int, where: str) -> Route:
    if not isinstance(entry, Mapping):
        raise BootError(f"{where}: a route must be a dict with `path` and `action` (or `dir`), got {entry!r}")
    path, action, directory = entry.get("path"), entry.get("action"), entry.get("dir")
    if not isinstance(path, str) or not path.startswith("/"):
        raise BootError(f"{where}: `path` must be a string starting with /, got {path!r}")
    if directory is None and not (isinstance(action, str) and action):
        raise BootError(f"{where}: a route needs an `action` (or a `dir` to serve files)")
    if directory is not None and not isinstance(directory, str):
        raise BootError(f"{where}: `dir` must be a folder path, got {directory!r}")
    unknown = set(entry) - {"path", "action", "apiVersion", "matchTrailingPathParts", "dir"}
    if unknown:
        raise BootError(f"{where}: unknown route keys {sorted(unknown)}")
    return Route(verb=verb, path=path, action=action, api_version=entry.get("apiVersion"),
                 match_trailing_path_parts=bool(entry.get("matchTrailingPathParts", False)),
                 dir=directory, index=index)


_SAILS_ADDRESS = re.compile(r"^\s*(?:(?P<verb>[A-Za-z]+)\s+)?(?P<path>/\S*)\s*$")


def _parse_sails(address: str, target: Any, index: int) -> Route:
    """One route in Sails' form: ``"VERB /path": "identity"`` or ``{"action": "identity", ...}``; no verb: every verb."""
    where = f"config routes[{address!r}]"
    found = _SAILS_ADDRESS.match(address)
    if found is None:
        raise BootError(f"{where}: a route address is `VERB /path` or `/path`")
    verb = (found["verb"] or "all").lower()
    if verb not in VERBS and verb != "all":
        raise BootError(f"{where}: unknown verb `{found['verb']}` (use {', '.join(v.upper() for v in VERBS)} or none)")
    if isinstance(target, str):
        entry: dict[str, Any] = {"action": target}
    elif isinstance(target, Mapping):
        entry = {{"target": "action"}.get(str(key), str(key)): value for key, value in target.items()}
    else:
        raise BootError(f"{where}: the target must be an action identity or a dict with `action`, got {target!r}")
    if "path" in entry:
        raise BootError(f"{where}: the path is in the address; the target has no `path`")
    route = _parse({**entry, "path": found["path"]}, verb, index, where)
    return Route(**{**route.__dict__, "address": address})


class _DynamicRoute:
    """A route with captures: werkzeug matches it (:class:`~hero.core.route_captures.Captures`)."""

    __slots__ = ("route", "captures")

    def __init__(self, route: Route, where: str) -> None:
        # NOTE: lazy: werkzeug's routing (~0.5 MiB) loads only for a route with captures; an idle server
        # whose routes are literals (or that has none) never needs it (issue 17: idle memory)
        from hero.core.route_captures import Captures

        self.route = route
        self.captures: Captures = Captures(_split(route.path), trailing=route.match_trailing_path_parts,
                                           endpoint=route.index, where=where)

    def match(self, path: str) -> RouteMatch | None:
        values = self.captures.match(path)
        return None if values is None else RouteMatch(self.route, values)


class _DirRoute:
    """A ``dir`` mount: the route's parts as a prefix; the rest of the path is the file."""

    __slots__ = ("route", "parts")

    def __init__(self, route: Route) -> None:
        self.route = route
        self.parts = [part.lower() for part in _split(route.path)]

    def match(self, path: str) -> RouteMatch | None:
        parts = _split(path)
        if len(parts) < len(self.parts) or [part.lower() for part in parts[:len(self.parts)]] != self.parts:
            return None
        rest = "/".join(parts[len(self.parts):])
        return RouteMatch(self.route, {}, file=rest + ("/" if path.endswith("/") and rest else ""))


class RouteTable:
    """Every configured route, per verb, in order; ``match`` finds the first hit."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = list(routes)
        #: verb → {lowercased literal parts → the first literal route}
        self._literal: dict[str, dict[tuple[str, ...], Route]] = {verb: {} for verb in VERBS}
        #: verb → [(index, matcher)] for routes werkzeug (or the dir prefix) must match, in order.
        self._dynamic: dict[str, list[tuple[int, _DynamicRoute | _DirRoute]]] = {verb: [] for verb in VERBS}
        for route in self.routes:
            verbs = VERBS if route.verb == "all" else (route.verb,) + (("head",) if route.verb == "get" else ())
            where = f"config routes[{route.address!r}]" if route.address else f"config routes.{route.verb}[{route.path}]"
            matcher: _DynamicRoute | _DirRoute | None
            if route.dir is not None:
                matcher = _DirRoute(route)
            elif route.match_trailing_path_parts or any(":" in part for part in _split(route.path)):
                matcher = _DynamicRoute(route, where)
            else:
                matcher = None
            for verb in verbs:
                if matcher is None:
                    key = tuple(part.lower() for part in _split(route.path))
                    self._literal[verb].setdefault(key, route)
                else:
                    self._dynamic[verb].append((route.index, matcher))

    def __repr__(self) -> str:
        return f"RouteTable({len(self.routes)} routes)"

    def __len__(self) -> int:
        return len(self.routes)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RouteTable:
        """Build from config ``routes``: ``{verb: [{path, action, apiVersion?, ...}]}`` and Sails' form
        (``{"POST /users": "user/create", "/login": {"action": "auth/login"}}``), in the order given;
        BootError names a bad entry."""
        routes: list[Route] = []
        for verb, entries in config.items():
            if isinstance(verb, str) and "/" in verb:
                routes.append(_parse_sails(verb, entries, len(routes)))
                continue
            if verb not in VERBS and verb != "all":
                raise BootError(f"config routes: unknown verb `{verb}` (use {', '.join(VERBS)} or all)")
            if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
                raise BootError(f"config routes.{verb} must be a list of routes")
            for position, entry in enumerate(entries):
                routes.append(_parse(entry, verb, len(routes), f"config routes.{verb}[{position}]"))
        return cls(routes)

    def match(self, verb: str, path: str) -> RouteMatch | None:
        """The first route for ``verb`` (lowercase) that matches ``path`` (below the api prefix)."""
        literal_map = self._literal.get(verb)
        if literal_map is None:
            return None
        literal = None
        if literal_map:
            literal = literal_map.get(tuple(part for part in path.lower().split("/") if part))
        for index, matcher in self._dynamic[verb]:
            if literal is not None and index > literal.index:
                break
            found = matcher.match(path)
            if found is not None:
                return found
        return RouteMatch(literal) if literal is not None else None

    def describe(self) -> list[dict[str, Any]]:
        return [route.describe() for route in self.routes]


def action_prefix(web: Any) -> str | None:
    """Where actions are reachable over HTTP (docs/http.md): ``/<web.url_path_for_actions>``; ``""``
    when that is None and ``/`` is an action endpoint (``root_endpoint_type = "api"``); None when
    there is no way in (the action path off, ``/`` serving files)."""
    path = web["url_path_for_actions"]
    if path is not None:
        return "/" + "/".join(part for part in str(path).split("/") if part)
    return "" if web["root_endpoint_type"] == "api" else None


class Routes:
    """The app's route table as the API sees it (``api.routes``), with Sails' look-ups:

        api.routes.route_for("user/create")   # {"url": "/api/users", "method": "post"}
        api.routes.url_for("user/find-one")   # "/api/users/:id"

    ``prefix`` is where routes are mounted (``/api`` while ``web.root_endpoint_type`` is ``file``,
    nothing when it is ``api``).
    """

    def __init__(self, table: RouteTable, prefix: str = "") -> None:
        self.table = table
        self.prefix = prefix.rstrip("/")

    def __repr__(self) -> str:
        return f"Routes({len(self.table)} routes at {self.prefix or '/'})"

    @classmethod
    def from_config(cls, config: Mapping[str, Any], web: Mapping[str, Any]) -> Routes:
        prefix = "" if web.get("root_endpoint_type") == "api" else action_prefix(web) or ""
        return cls(RouteTable.from_config(config), prefix)

    def route_for(self, target: Any) -> dict[str, str]:
        """``{"url", "method"}`` of the first explicit route to ``target`` (an identity, Sails'
        ``UserController.find``, or ``{"target": ...}``): E_NOT_FOUND when none, E_USAGE for a bad query."""
        from hero.errors import CodedError

        query = target.get("target") if isinstance(target, Mapping) else target
        if not isinstance(query, str) or not query.strip():
            raise CodedError("E_USAGE", f"a route query is an action identity or {{'target': identity}}, got {target!r}",
                             identity=target)
        wanted, fold = query.strip(), False
        controller = re.fullmatch(r"(?P<name>\w+)Controller\.(?P<action>[\w$-]+)", wanted)
        if controller is not None:  # Sails' controller form: UserController.find → user/find
            name = controller["name"]
            wanted, fold = f"{name[:1].lower()}{name[1:]}/{controller['action']}", True
        for route in self.table.routes:
            action = route.action
            if action is not None and (action == wanted or (fold and action.lower() == wanted.lower())):
                return {"url": self.prefix + route.path, "method": route.verb}
        raise CodedError("E_NOT_FOUND", f"no route goes to {query!r}", identity=query, status=404)

    get_route_for = route_for

    def url_for(self, target: Any) -> str:
        """The URL pattern of the first explicit route to ``target`` (``/api/users/:id``)."""
        return self.route_for(target)["url"]

    get_url_for = url_for
