"""The fast path for actions whose inputs are all plain ``Input``\\ s: the same fields, without ``Schema.load``.

marshmallow's ``Schema.load`` costs a few µs per field before any of hero's own steps run (error
stores, partial handling, hooks, ``set_value``). When every input of an action is a scalar or list
``Input`` (no nested ``schema``, no marshmallow field of the user's), :class:`FastInputs` calls the
very fields that the schema holds (:class:`hero.core.params.fields.InputField` / ``ListInputField``),
in declaration order, exactly as ``Schema._deserialize`` would (``data.get(name, missing)``, then
``field.deserialize``; a value of ``missing`` leaves the key out; every field runs even after an
error), and reads errors back with the same walk as the marshmallow path. So values, errors and their
order are the same; the schema is still built, for the OpenAPI document and for anything that asks.

Anything this module does not know falls back to marshmallow: a field class or step method other than
the ones below, an attribute on a field that a plain field does not have (a new kind of step), or a
formatter / validator that takes more than one positional argument.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing

from hero.core.params import fields as pf
from hero.core.params import schema as mm
from hero.core.params.inputs import MISSING, Sink
from hero.errors import InvalidParam, MissingParam

#: The instance attributes of a plain input field: marshmallow's own plus the steps' (see _Steps.setup).
_KNOWN_ATTRIBUTES = frozenset(vars(fields.Raw())) | frozenset(vars(fields.List(fields.Raw()))) | {
    "must_be_present", "default", "formatters", "checks", "is_missing", "parent", "name", "root"}
#: The step methods this module was written against (a subclass or a changed _Steps falls back).
_STEP_METHODS = (pf._Steps.deserialize, pf._Steps._deserialize)


def _one_argument(func: Callable[..., Any]) -> bool:
    """True when ``func`` takes exactly one positional argument (what the fast path passes)."""
    if isinstance(func, type):
        return True  # int, float, str, Decimal: types called with the one value
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters) or len(required) != 1:
        return False
    # NOTE: a built-in method (str.strip) has optional arguments of its own; Python code with more
    # positional parameters might want more than the value (a connection, the action).
    if len(positional) != 1 and not (inspect.isbuiltin(func) or inspect.ismethoddescriptor(func)):
        return False
    return all(p.default is not p.empty for p in parameters if p.kind is p.KEYWORD_ONLY)


def _plain(field: fields.Field[Any]) -> bool:
    kind = type(field)
    if kind is pf.InputField:
        pass
    elif kind is not pf.ListInputField or type(getattr(field, "inner", None)) is not fields.Raw:
        return False
    if (kind.deserialize, kind._deserialize) != _STEP_METHODS or field.data_key is not None:
        return False
    if not set(vars(field)) <= _KNOWN_ATTRIBUTES:
        return False
    steps = getattr(field, "formatters", ()) + getattr(field, "checks", ())
    return all(_one_argument(step) for step in steps)


def fast_fields(schema: Schema) -> tuple[tuple[str, fields.Field[Any]], ...] | None:
    """(wire name, field) of each input when every one can take the fast path; else None."""
    found: list[tuple[str, fields.Field[Any]]] = []
    for name, field in schema.load_fields.items():
        if not _plain(field):
            return None
        # NOTE: a dict-form input loads under its declared name, dotted or not (the marshmallow path
        # renames its placeholder attribute back to that name).
        found.append((name, field))
    # NOTE: schema-level hooks (none on a built schema) would be skipped here: refuse, to stay exact.
    if any(schema._hooks.values()):
        return None
    return tuple(found)


class FastInputs:
    """Loads one action's plain inputs (see the module doc)."""

    __slots__ = ("_fields", "_steps")

    def __init__(self, declared: Sequence[tuple[str, fields.Field[Any]]]) -> None:
        self._fields = tuple(declared)
        # NOTE: a scalar InputField's steps, unpacked once: (name, field, is_missing, default,
        # formatters, must_be_present, checks); a list input (None in the third place) calls its field.
        self._steps: tuple[tuple[str, Any, Any, Any, tuple[Any, ...], bool, tuple[Any, ...]], ...] = tuple(
            (name, field, None, None, (), False, ()) if type(field) is not pf.InputField else
            (name, field, field.is_missing, field.default, field.formatters, field.must_be_present, field.checks)
            for name, field in declared
        )

    def load(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(loaded values, None), or (partial values, marshmallow-shaped errors by wire name).

        A scalar input runs :meth:`hero.core.params.fields._Steps.deserialize` inlined (the same steps,
        raising the same errors, without four method calls per input); the tests compare both paths.
        """
        loaded: dict[str, Any] = {}
        errors: dict[str, Any] | None = None
        for name, field, is_missing, default, formatters, must_be_present, checks in self._steps:
            value = data.get(name, missing)
            try:
                if is_missing is None:  # a list input
                    value = field.deserialize(value, name, data)
                    if value is missing:
                        continue
                    loaded[name] = value
                    continue
                if value is missing or is_missing(value):
                    if default is MISSING:
                        field._validate_missing(missing)  # raises marshmallow's "required" when required
                        continue
                    value = default()
                if formatters:
                    try:
                        for formatter in formatters:
                            value = formatter(value)
                    except Exception as error:  # a formatter that raises is a validation error
                        raise ValidationError(mm.InputError(mm.exception_text(error), value)) from error
                if must_be_present and is_missing(value):
                    raise field.make_error("required")
                # NOTE: pf.check inlined (a Python call per input saved); a result other than
                # None or True is read by the same pf.judge.
                for validator in checks:
                    try:
                        result = validator(value)
                    except Exception as error:  # a validator's exception is the client's message
                        raise ValidationError(mm.InputError(mm.exception_text(error), value)) from None
                    if result is None or result is True:
                        continue
                    failure = pf.judge(validator, result, value)
                    if failure is not None:
                        raise ValidationError(failure)
            except ValidationError as error:
                if errors is None:
                    errors = {}
                errors[name] = error.messages
                continue
            loaded[name] = value
        return loaded, errors

    def first_error(self, errors: dict[str, Any], data: Mapping[str, Any]) -> MissingParam | InvalidParam:
        """The error the marshmallow path reports: the first missing input, else the first invalid one."""
        sink = Sink()
        for name, field in self._fields:
            if name in errors:
                mm.walk_field(errors[name], field, name, data.get(name, missing), sink)
        if sink.first_missing is not None:
            return MissingParam(sink.first_missing)
        if sink.first_invalid is not None:
            return sink.first_invalid
        return InvalidParam(mm.first_message(errors) or "Invalid value.")
