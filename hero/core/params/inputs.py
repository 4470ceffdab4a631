"""What an action or a task declares about its inputs, and what reading them reports: plain data,
shared by the compiler (:mod:`hero.core.params.spec`) and the fields it builds (:mod:`hero.core.params.fields`).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from hero.errors import InvalidParam

#: Params every action accepts whatever its inputs; never scrubbed, never declarable (``locale``:
#: the connection's language, docs/actions.md, Localization).
GLOBAL_SAFE_PARAMS = ("file", "apiVersion", "callback", "action", "messageId", "locale")

#: ``(connection, action)`` of the action whose inputs are loading, for validators, formatters and
#: defaults written as actionhero's ``(param, connection, action_template)`` (see :func:`adapt`).
CALLING: ContextVar[tuple[Any, Any]] = ContextVar("hero_inputs_calling", default=(None, None))


class _Context:
    """Whether any compiled input asked for the connection (then the processor sets :data:`CALLING`)."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        # NOTE: a slot, not a class attribute: the processor reads it per action, and a slot read is
        # the cheapest attribute load there is.
        self.used = False


CONTEXT = _Context()


def adapt(func: Any, *, arity_floor: int) -> Any:
    """``func`` as hero calls it: unchanged when it takes ``arity_floor`` arguments (1 for a validator
    or formatter, 0 for a default) or is not a plain function (``int``, ``str.strip``); else a wrapper
    that passes as many of ``(value, connection, action_template)`` as it accepts (actionhero's
    form; a default gets None for the value)."""
    if not (inspect.isfunction(func) or inspect.ismethod(func)):
        return func
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return func
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        count = 3
    else:
        count = min(3, sum(1 for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)))
    if count <= arity_floor:
        return func
    CONTEXT.used = True
    if arity_floor == 0:
        def default_with_context() -> Any:
            connection, action = CALLING.get()
            return func(*(None, connection, action)[:count])
        return default_with_context

    def with_context(value: Any) -> Any:
        connection, action = CALLING.get()
        return func(*(value, connection, action)[:count])
    with_context.__name__ = getattr(func, "__name__", "with_context")
    return with_context


def from_required_optional(inputs: Any) -> Any:
    """The v3/v8 form ``{"required": ["a"], "optional": ["b"]}`` as inputs (``a`` required, ``b``
    not); anything else unchanged."""
    if not isinstance(inputs, dict) or not inputs or not set(inputs) <= {"required", "optional"}:
        return inputs
    if not all(isinstance(names, (list, tuple)) and all(isinstance(name, str) for name in names)
               for names in inputs.values()):
        return inputs
    converted: dict[str, Input] = {name: Input(required=True) for name in inputs.get("required", ())}
    for name in inputs.get("optional", ()):
        converted.setdefault(name, Input())
    return converted


class _Missing:
    """The sentinel for "no value": not declared as a default, or absent from the params."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Input:
    """One declared input of an action (actionhero's ``inputs`` entry)."""

    #: Missing (absent or in ``missing_param_checks``) after the default → MissingParam.
    required: bool = False
    #: Used when the value is missing: a value (copied per request), or a zero-argument callable.
    default: Any = MISSING
    #: Turns the value into what the action sees; one that raises is a validation error.
    #: A list of callables is applied left to right.
    formatter: Callable[[Any], Any] | Sequence[Callable[[Any], Any]] | None = None
    #: None/True (or any other truthy value) passes; False or another falsy value fails with
    #: 'Input for parameter "<name>" failed validation!'; a string is the error; a raise gives
    #: the exception's message. A list of callables runs in order; the first error wins.
    validator: Callable[[Any], Any] | Sequence[Callable[[Any], Any]] | None = None
    #: Nested inputs: a dict of inputs (dotted names, scrubbed recursively) or a marshmallow Schema.
    schema: Any = None
    #: The value is a list (a scalar is wrapped); formatter, validator and schema apply per element.
    many: bool = False
    #: Shown by showDocumentation and in the OpenAPI document.
    description: str = ""


class Sink:
    """The first missing input and the first invalid one, in declaration order."""

    __slots__ = ("first_missing", "first_invalid")

    def __init__(self) -> None:
        self.first_missing: str | None = None
        self.first_invalid: InvalidParam | None = None

    def missing(self, path: str) -> None:
        if self.first_missing is None:
            self.first_missing = path

    def invalid(self, path: str | None, message: str, value: Any, returned_false: bool) -> None:
        if self.first_invalid is None:
            self.first_invalid = InvalidParam(message, param=path, value=value, returned_false=returned_false)
