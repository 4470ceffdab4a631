"""The verbs of persistent connections: the same meaning on every transport.

What each verb does and answers is in docs/tcp.md and docs/websocket.md; the chat verbs in docs/chat.md.

A transport parses its own framing (a TCP line, a WebSocket event) into a verb name and a list
of arguments, and calls :func:`run_verb`, which returns the data of an ``OK`` reply or raises a
:class:`~hero.errors.HeroError` whose message is the reply's ``error`` text.

    run_verb(api, connection, "roomAdd", ["lobby"], allowed=server.verbs)        # → True
    run_verb(api, connection, "say", ["lobby", {"any": "json"}], allowed=...)    # → None
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from hero.container import Api
from hero.core.connection import Connection
from hero.errors import ChatError, HeroError, InvalidParam, VerbNotAllowed
from hero.services.chat import Chat

log = logging.getLogger(__name__)

ALL_VERBS = ("quit", "exit", "paramAdd", "paramView", "paramDelete", "paramsView", "paramsDelete", "roomAdd",
             "roomLeave", "roomView", "roomChange", "say", "detailsView", "documentation", "file",
             "addParam", "viewParam", "deleteParam")

#: Verbs that change or read sticky params (not offered where params are not sticky: WebSockets).
#: ``addParam``, ``viewParam`` and ``deleteParam`` are seed 000's (actionhero v3's) spellings.
PARAM_VERBS = ("paramAdd", "paramView", "paramDelete", "paramsView", "paramsDelete", "addParam", "viewParam",
               "deleteParam")

#: Verbs that end the connection; :func:`run_verb` returns None and the transport says goodbye and closes.
QUIT_VERBS = ("quit", "exit")


def run_verb(api: Api, connection: Connection, verb: str, args: list[Any], *, allowed: Sequence[str]) -> Any:
    """Run one verb for ``connection``; returns its data, raises a HeroError with the client's text."""
    if verb not in allowed or verb not in _VERBS:
        raise VerbNotAllowed(str(verb))
    return _VERBS[verb](api, connection, list(args))


# --- params (sticky, TCP) ----------------------------------------------------------------------


def _known_param(api: Api, key: str) -> bool:
    """A key some action declares, or a global safe param (any key when scrubbing is off)."""
    if api.config.general.disable_param_scrubbing or api.params.is_global_safe(key):
        return True
    return any(key in action.params.names for action in api.actions)


def _param_add(api: Api, connection: Connection, args: list[Any]) -> None:
    if not args or args[0] in (None, ""):
        raise InvalidParam("paramAdd needs a key: `paramAdd key=value` or `paramAdd key value`")
    first = str(args[0])
    if "=" in first:
        key, _, value = first.partition("=")
        rest = [value, *args[1:]]
    else:
        key, rest = first, list(args[1:])
    value_text: Any = " ".join(str(word) for word in rest) if len(rest) != 1 else rest[0]
    if not key:
        raise InvalidParam("paramAdd needs a key: `paramAdd key=value` or `paramAdd key value`")
    limit = api.config.general.max_sticky_params
    if key not in connection.params and len(connection.params) >= limit:
        raise InvalidParam(f"too many params on this connection ({limit} max)")
    if not _known_param(api, key):
        raise InvalidParam(f"{key} is not an input of any action")
    connection.params[key] = value_text
    return None


def _param_view(api: Api, connection: Connection, args: list[Any]) -> Any:
    return connection.params.get(str(args[0])) if args else None


def _param_delete(api: Api, connection: Connection, args: list[Any]) -> None:
    if args:
        connection.params.pop(str(args[0]), None)


def _params_view(api: Api, connection: Connection, args: list[Any]) -> dict[str, Any]:
    return dict(connection.params)


def _params_delete(api: Api, connection: Connection, args: list[Any]) -> None:
    connection.params.clear()


# --- chat ----------------------------------------------------------------------------------------


def _room(args: list[Any]) -> str:
    if not args or not isinstance(args[0], str) or not args[0]:
        raise ChatError("a room is required")
    return args[0]


def _chat(api: Api, connection: Connection) -> Chat:
    if not connection.can_chat:
        raise HeroError(f"{connection.type} connections cannot chat", status=403)
    return api.chat


def _room_add(api: Api, connection: Connection, args: list[Any]) -> bool:
    return bool(_chat(api, connection).add_member(connection.id, _room(args)))


def _room_leave(api: Api, connection: Connection, args: list[Any]) -> bool:
    return bool(_chat(api, connection).remove_member(connection.id, _room(args)))


def _room_change(api: Api, connection: Connection, args: list[Any]) -> bool:
    """actionhero v3's ``roomChange``: leave every room this connection is in, join ``room``."""
    chat = _chat(api, connection)
    room = _room(args)
    if not chat.exists(room):
        raise ChatError("room does not exist")
    for joined in list(connection.rooms):
        if joined != room:
            chat.remove_member(connection.id, joined)
    if room in connection.rooms:
        return True
    return bool(chat.add_member(connection.id, room))


def _room_view(api: Api, connection: Connection, args: list[Any]) -> Any:
    chat = _chat(api, connection)
    if not args or args[0] in (None, ""):
        # NOTE: actionhero v3's bare ``roomView``: the rooms this connection is in.
        return [dict(chat.status(room)) for room in list(connection.rooms)]
    room = _room(args)
    if room not in connection.rooms:
        raise ChatError(f"connection not in this room ({room})")
    return dict(chat.status(room))


def _say(api: Api, connection: Connection, args: list[Any]) -> None:
    chat = _chat(api, connection)
    if len(args) < 2 or not args[0] or args[1] is None or args[1] == "":
        raise ChatError("both room and message are required")
    chat.broadcast(connection, str(args[0]), args[1])


# --- the rest ------------------------------------------------------------------------------------


def _details_view(api: Api, connection: Connection, args: list[Any]) -> dict[str, Any]:
    return connection.details()


def _documentation(api: Api, connection: Connection, args: list[Any]) -> dict[str, Any]:
    documentation: dict[str, Any] = {}
    for action in api.actions:
        if action.to_document:
            documentation.setdefault(action.name, {})[str(action.version)] = action.describe()
    return documentation


def _file(api: Api, connection: Connection, args: list[Any]) -> Any:
    path = args[0] if args else connection.params.get("file")
    if not isinstance(path, str) or not path:
        raise InvalidParam("file needs a path")
    return api.public.read(path)


def _quit(api: Api, connection: Connection, args: list[Any]) -> None:
    return None


_VERBS: dict[str, Callable[[Api, Connection, list[Any]], Any]] = {
    "quit": _quit,
    "exit": _quit,
    "paramAdd": _param_add,
    "paramView": _param_view,
    "paramDelete": _param_delete,
    "paramsView": _params_view,
    "paramsDelete": _params_delete,
    "addParam": _param_add,
    "viewParam": _param_view,
    "deleteParam": _param_delete,
    "roomAdd": _room_add,
    "roomLeave": _room_leave,
    "roomView": _room_view,
    "roomChange": _room_change,
    "say": _say,
    "detailsView": _details_view,
    "documentation": _documentation,
    "file": _file,
}
