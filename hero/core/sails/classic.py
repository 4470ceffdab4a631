"""Sails' classic actions ``fn(req, res)`` and action middleware ``fn(req, res, proceed)``, as hero's
own :class:`~hero.core.action.Action` and :class:`~hero.core.middleware.ActionMiddleware`, so that
the processor, the params and every transport treat them like any other.

    HelloWorld = classic_action(lambda req, res: res.json({"message": "hi"}), "hello/world")
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, cast

from hero.core.action import Action, ActionData
from hero.core.middleware import ActionMiddleware
from hero.core.sails.http import Request, Response
from hero.core.sails.identity import IdentityPattern
from hero.errors import CodedError


def positional_count(function: Callable[..., Any]) -> int | None:
    """How many positional arguments ``function`` takes (None: any number, or not knowable)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def check_function(function: Any, identity: Any, what: str, arguments: range) -> None:
    """E_INVALID unless ``function`` is a plain callable taking ``arguments`` positional arguments."""
    if not callable(function):
        raise CodedError("E_INVALID", f"{what} `{identity}`: fn must be a function, not {type(function).__name__}",
                         identity=identity)
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise CodedError("E_INVALID", f"{what} `{identity}`: fn is `async def`; hero runs blocking-style code "
                         "on gevent, so define it with plain `def`", identity=identity)
    count = positional_count(function)
    if count is not None and count not in arguments:
        wanted = " or ".join(str(number) for number in arguments)
        raise CodedError("E_INVALID", f"{what} `{identity}`: fn takes {count} arguments, it must take {wanted}",
                         identity=identity)


def classic_action(function: Callable[..., Any], identity: str, *, description: str = "") -> type[Action]:
    """An Action class named ``identity`` that runs ``function(req, res)`` (it gets every param)."""
    check_function(function, identity, "action", range(2, 3))

    def run(self: Action, data: ActionData) -> None:
        res = Response(data)
        result = function(Request(data), res)
        if not res.sent and result is not None:
            res.json(result)

    body = {
        "name": identity,
        "description": description or inspect.getdoc(function) or "",
        "scrub_params": False,
        "matches_extension_mime_type": False,  # JSON, whatever the last path part ends with
        "sails": "classic",
        "handler": staticmethod(function),
        "run": run,
        "__module__": getattr(function, "__module__", __name__),
        "__doc__": function.__doc__,
    }
    return cast(type[Action], type(f"{getattr(function, '__name__', 'classic')}_action", (Action,), body))


class SailsMiddleware(ActionMiddleware):
    """``fn(req, res, proceed)`` before the actions its pattern matches; not calling ``proceed`` ends
    the action with what ``res`` answered (nothing: an empty response)."""

    def __init__(self, function: Callable[..., Any], pattern: IdentityPattern, name: str) -> None:
        self.function = function
        self.pattern = pattern
        super().__init__(name)

    def pre_process(self, data: Any) -> None:
        if not data.to_process:
            return  # an earlier middleware answered already
        proceeded: list[Any] = []

        def proceed(error: Any = None) -> None:
            if isinstance(error, BaseException):
                raise error
            proceeded.append(True)

        res = Response(data)
        self.function(Request(data), res, proceed)
        if not proceeded:
            data.to_process = False
            if not res.sent:
                res.json(None)


def as_middleware(middleware: Any, pattern: IdentityPattern, number: int) -> ActionMiddleware:
    """An ActionMiddleware for what ``register_middleware`` was given: an ActionMiddleware (kept as it
    is), a function ``fn(req, res, proceed)``, or a dict (or module) holding such an ``fn``."""
    if isinstance(middleware, ActionMiddleware):
        return middleware
    function = middleware
    if isinstance(middleware, Mapping):
        function = middleware.get("fn")
    elif inspect.ismodule(middleware):
        function = getattr(middleware, "fn", None)
    check_function(function, pattern.text, "action middleware for", range(3, 4))
    label = getattr(function, "__name__", "middleware")
    return SailsMiddleware(function, pattern, f"{label}@{pattern.text}#{number}")
