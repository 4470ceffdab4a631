"""What an action or a task declares about its inputs, and what reading them reports: plain data,
shared by the compiler (:mod:`hero.core.params.spec`) and the fields it builds (:mod:`hero.core.params.fields`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hero.errors import InvalidParam

#: Params every action accepts whatever its inputs; never scrubbed, never declarable (``locale``:
#: the connection's language, docs/actions.md, Localization).
GLOBAL_SAFE_PARAMS = ("file", "apiVersion", "callback", "action", "messageId", "locale")


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
