"""The matching of a route with captures (:mod:`hero.core.routes`): werkzeug does it, with a ``Map``
of one ``Rule`` per route, bound once, whose every part is a converter (literal parts compare
case-insensitively, ``:name`` captures, ``prefix:name`` strips its prefix, ``:name(regex)`` captures
only when the regex finds a match, and with ``matchTrailingPathParts`` the last part takes the rest
of the path).

    captures = Captures(["users", ":id"], trailing=False, endpoint=0, where="config routes.get[0]")
    captures.match("/Users/42")    # {"id": "42"}, or None

NOTE: a module of its own so that werkzeug's routing (~0.5 MiB) is imported only by an app whose
config routes capture: routes made only of literals (and an app without routes) never need it
(issue 17: idle memory).
"""
from __future__ import annotations

import re
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map, MapAdapter, Rule, ValidationError

from hero.errors import BootError

_PART = re.compile(r"^(?P<prefix>[^:]*):(?P<name>[A-Za-z_$][\w$.-]*)(?:\((?P<regex>.*)\))?$")
_LITERAL = object()


class _PartConverter(BaseConverter):
    """One part of a route pattern; subclasses built per part carry what it must check."""

    regex = "[^/]+"
    literal: str | None = None
    prefix: str = ""
    pattern: re.Pattern[str] | None = None

    def to_python(self, value: str) -> Any:
        if self.literal is not None:
            if value.lower() != self.literal:
                raise ValidationError()
            return _LITERAL
        if self.prefix:
            if not value.lower().startswith(self.prefix):
                raise ValidationError()
            value = value[len(self.prefix):]
        value = value.replace("+", " ")
        if self.pattern is not None and self.pattern.search(value) is None:
            raise ValidationError()
        return value


class Captures:
    """A route pattern's parts as a werkzeug ``Map`` of one ``Rule``, bound once; BootError (naming
    ``where``) for a bad part or regex."""

    __slots__ = ("adapter", "names")

    def __init__(self, parts: list[str], *, trailing: bool, endpoint: int, where: str) -> None:
        converters: dict[str, type[BaseConverter]] = {}
        pieces: list[str] = []
        #: werkzeug's argument name → the route's param name (which may hold `$`, `.` or `-`).
        self.names: dict[str, str] = {}
        for position, part in enumerate(parts):
            attributes: dict[str, Any] = {}
            found = _PART.match(part)
            if found is None and ":" in part:
                raise BootError(f"{where}: bad route part `{part}` (use :name, prefix:name or :name(regex))")
            if found is None:
                attributes["literal"] = part.lower()
                name = f"_literal{position}"
            else:
                name = found["name"]
                attributes["prefix"] = found["prefix"].lower()
                if found["regex"] is not None:
                    try:
                        attributes["pattern"] = re.compile(found["regex"])
                    except re.error as error:
                        raise BootError(f"{where}: bad regex in `{part}`: {error}") from None
            if trailing and position == len(parts) - 1:
                attributes.update(regex=".+", part_isolating=False)
            converter = f"part{position}"
            converters[converter] = type(f"RoutePart{position}", (_PartConverter,), attributes)
            argument = name if name.isidentifier() else f"_param{position}"
            self.names[argument] = name
            pieces.append(f"<{converter}:{argument}>")
        rule = Rule("/" + "/".join(pieces), endpoint=endpoint)
        # NOTE: strict_slashes off: `/api/status/` must not answer a 308 redirect.
        url_map = Map([rule], converters=converters, strict_slashes=False, merge_slashes=False)
        self.adapter: MapAdapter = url_map.bind("hero")

    def match(self, path: str) -> dict[str, str] | None:
        """The captures of ``path`` by param name, None when it does not match."""
        try:
            _, values = self.adapter.match(path, method="GET")
        except (HTTPException, ValidationError):
            return None
        return {self.names[key]: value for key, value in values.items() if value is not _LITERAL}
