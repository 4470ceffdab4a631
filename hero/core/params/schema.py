"""The marshmallow side of inputs: safe copies of the user's fields and schemas, and errors read back.

Every action's inputs load through one marshmallow schema (see :mod:`hero.core.params.spec`): the user's
fields and schemas through the copies made here, actionhero-style inputs through the fields of
:mod:`hero.core.params.fields`. marshmallow's error dicts are then walked back into hero's two outcomes
(a missing input, or an invalid one) by dotted name, in declaration order.
"""
from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, cast

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing
from marshmallow.decorators import VALIDATES, VALIDATES_SCHEMA
from marshmallow.schema import SchemaMeta
from marshmallow.validate import Validator

from hero.core.params.inputs import Sink
from hero.errors import BootError, HeroError

#: The generic text for a validator that returned False (docs/actions.md, Inputs).
FAILED_VALIDATION = 'Input for parameter "{name}" failed validation!'
#: The text for a nested (``schema``) input whose value is not an object.
NOT_AN_OBJECT = "{name} must be an object"
_SCHEMA_KEY = "_schema"


class ReturnedFalse(str):
    """A marshmallow error message that stands for "a validator returned False"."""

    __slots__ = ()


_RETURNED_FALSE = ReturnedFalse("Invalid value.")


class InputError(str):
    """A message raised by an actionhero-style input, carrying the value that failed.

    NOTE: marshmallow keeps message objects as they are in its error dicts, so the value (after
    formatting, as actionhero reports it) survives to :func:`walk_field`.
    """

    value: Any
    returned_false: bool
    template: str | None

    def __new__(cls, text: str, value: Any, *, returned_false: bool = False,
                template: str | None = None) -> InputError:
        error = super().__new__(cls, text)
        error.value = value
        error.returned_false = returned_false
        error.template = template
        return error

    @classmethod
    def failed_validation(cls, value: Any) -> InputError:
        return cls("", value, returned_false=True, template=FAILED_VALIDATION)

    @classmethod
    def not_an_object(cls, value: Any) -> InputError:
        return cls("", value, template=NOT_AN_OBJECT)

    def render(self, path: str) -> str:
        """The client's text for this error at ``path`` (the dotted input name)."""
        return self.template.format(name=path) if self.template else str(self)


class ObjectErrors(dict[Any, Any]):
    """A nested input's error dict, with the (formatted) value its children were loaded from."""

    def __init__(self, messages: Mapping[Any, Any], raw: Any) -> None:
        super().__init__(messages)
        self.raw = raw


def exception_text(error: BaseException) -> str:
    """The client-facing text of an exception raised by a validator or a formatter."""
    if isinstance(error, ValidationError):
        return first_message(error.messages) or "Invalid value."
    if isinstance(error, HeroError):
        return error.message
    text = str(error)
    return text if text else type(error).__name__


def first_message(messages: Any) -> str | None:
    if isinstance(messages, str):
        return messages
    if isinstance(messages, Mapping):
        for value in messages.values():
            found = first_message(value)
            if found is not None:
                return found
        return None
    if isinstance(messages, (list, tuple)):
        for value in messages:
            found = first_message(value)
            if found is not None:
                return found
    return None


def first_value(messages: Mapping[Any, Any]) -> Any:
    return next(iter(messages.values()), [])


def is_schema(value: Any) -> bool:
    """True for a marshmallow ``Schema`` class or instance."""
    return isinstance(value, Schema) or (isinstance(value, SchemaMeta) and issubclass(value, Schema))


# --- safe copies ----------------------------------------------------------------------------


def _strict(validator: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap a field validator so that returning False, or raising anything, fails validation."""
    if isinstance(validator, Validator):
        # NOTE: marshmallow's own validators already raise; left as they are so apispec still
        # reads Range/Length/OneOf from field.validators for the OpenAPI document.
        return validator

    @functools.wraps(validator)
    def strict(value: Any) -> Any:
        try:
            result = validator(value)
        except ValidationError:
            raise
        except Exception as error:  # a validator's own error is the client's message
            raise ValidationError(exception_text(error)) from error
        if result is False:
            raise ValidationError(_RETURNED_FALSE)
        return result

    return strict


def _strict_hook(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def strict(*args: Any, **kwargs: Any) -> Any:
        try:
            result = method(*args, **kwargs)
        except ValidationError:
            raise
        except Exception as error:  # as for field validators: the exception's message
            raise ValidationError(exception_text(error)) from error
        if result is False:
            raise ValidationError(_RETURNED_FALSE)
        return result

    return strict


_Memo = dict[tuple[Any, ...], Schema]


def prepare_field(field: fields.Field[Any], memo: _Memo | None = None) -> fields.Field[Any]:
    """A copy of ``field`` that never shares mutable state with the user's object.

    Validators are wrapped (:func:`_strict`), every ``Nested`` excludes unknown keys, and
    containers are prepared recursively. The copy is unbound: binding it to a schema names it.
    """
    memo = {} if memo is None else memo
    # NOTE: Field.__deepcopy__ is a shallow copy in marshmallow 4, so every attribute that is
    # changed below is *reassigned* on the copy, never mutated in place.
    prepared = copy.copy(field)
    prepared.parent = None
    prepared.name = None
    prepared.root = None
    prepared.validators = [_strict(v) for v in field.validators]
    # NOTE: copy.copy keeps the class, so ``prepared`` is the same subclass as ``field``; the casts
    # only tell mypy what the isinstance check on ``field`` already proved.
    if isinstance(field, fields.Nested):
        nested = cast(fields.Nested, prepared)
        # NOTE: .schema is resolved on the copy, so the user's field keeps its own cache.
        nested._schema = None
        nested._schema = prepare_schema(nested.schema, memo)
        nested.unknown = EXCLUDE
    elif isinstance(field, fields.List):
        cast(fields.List[Any], prepared).inner = prepare_field(field.inner, memo)
    elif isinstance(field, fields.Tuple):
        cast(fields.Tuple, prepared).tuple_fields = [prepare_field(f, memo) for f in field.tuple_fields]
    elif isinstance(field, fields.Mapping):
        mapping = cast(fields.Mapping[Any], prepared)
        if field.key_field is not None:
            mapping.key_field = prepare_field(field.key_field, memo)
        if field.value_field is not None:
            mapping.value_field = prepare_field(field.value_field, memo)
    return prepared


def prepare_schema(schema: Schema | type[Schema], memo: _Memo | None = None) -> Schema:
    """A new schema instance equivalent to ``schema``: unknown keys excluded at every level."""
    memo = {} if memo is None else memo
    source = schema() if isinstance(schema, type) else schema
    key = (type(source), _sorted(source.only), _sorted(source.exclude), source.many)
    if key in memo:  # a recursive schema (a tree of comments) refers to itself
        return memo[key]
    prepared = copy.copy(source)
    memo[key] = prepared
    prepared.declared_fields = {name: prepare_field(f, memo) for name, f in source.declared_fields.items()}
    prepared.unknown = EXCLUDE
    prepared._init_fields()
    # NOTE: @validates / @validates_schema methods are looked up with getattr() on the instance,
    # so instance attributes shadow them without touching the user's class.
    for tag in (VALIDATES, VALIDATES_SCHEMA):
        for attr_name, _many, _kwargs in prepared._hooks[tag]:
            setattr(prepared, attr_name, _strict_hook(getattr(prepared, attr_name)))
    return prepared


def _sorted(names: Any) -> tuple[str, ...] | None:
    return None if names is None else tuple(sorted(names))


def compile_schema(inputs: Schema | type[Schema], owner: str, prefix: str) -> Schema:
    """The prepared copy of a whole-Schema declaration (top level, or an input's ``schema``)."""
    if isinstance(inputs, Schema) and inputs.many:
        raise BootError(f"inputs `{prefix[:-1] or 'schema'}` in {owner}: use a Schema without many=True")
    try:
        return prepare_schema(inputs)
    except Exception as error:  # marshmallow's own complaint, attributed to the action
        raise BootError(f"inputs of {owner} could not be built: {error}") from error


def wire_name(name: str, field: fields.Field[Any]) -> str:
    return field.data_key if field.data_key is not None else name


def class_name(owner: str, prefix: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", f"{owner} {prefix}")
    return "".join(word[:1].upper() + word[1:] for word in words) + "Params"


# --- errors read back -------------------------------------------------------------------------


def _dig(raw: Any, key: Any) -> Any:
    if isinstance(raw, Mapping):
        return raw.get(key, missing)
    if isinstance(raw, (list, tuple)) and isinstance(key, int) and 0 <= key < len(raw):
        return raw[key]
    return missing


def _record(message: str, field: fields.Field[Any] | None, path: str, raw: Any, sink: Sink) -> None:
    if isinstance(message, InputError):
        sink.invalid(path, message.render(path), message.value, message.returned_false)
        return
    messages = field.error_messages if field is not None else fields.Field.default_error_messages
    if message == messages.get("required") or (
        message == messages.get("null") and field is not None and field.required
    ):
        sink.missing(path)
    elif isinstance(message, ReturnedFalse):
        sink.invalid(path, FAILED_VALIDATION.format(name=path), None if raw is missing else raw, True)
    else:
        sink.invalid(path, str(message), None if raw is missing else raw, False)


def walk_field(messages: Any, field: fields.Field[Any] | None, path: str, raw: Any, sink: Sink) -> None:
    """Turn one field's marshmallow messages into the sink's first missing / first invalid."""
    if isinstance(messages, (list, tuple)):
        for message in messages:
            if isinstance(message, Mapping):
                walk_field(message, field, path, raw, sink)
            else:
                _record(message, field, path, raw, sink)
            return  # the first message of a field is the one a client sees
        return
    if not isinstance(messages, Mapping):
        _record(str(messages), field, path, raw, sink)
        return
    if isinstance(messages, ObjectErrors):
        raw = messages.raw
    if isinstance(field, fields.Pluck) and not field.many:
        # NOTE: Pluck loads {field_name: value}; its errors belong to the plucked value itself.
        walk_field(first_value(messages), field.schema.fields[field.field_name], path, raw, sink)
        return
    if isinstance(field, fields.Nested):
        walk_schema(messages, field.schema, path + ".", raw, sink)
        return
    for key, child_messages in messages.items():
        child: fields.Field[Any] | None = None
        if isinstance(field, fields.List):
            child = field.inner
        elif isinstance(field, fields.Tuple) and isinstance(key, int) and key < len(field.tuple_fields):
            child = field.tuple_fields[key]
        elif isinstance(field, fields.Mapping) and isinstance(child_messages, Mapping):
            # NOTE: Dict errors read {key: {"key": [...], "value": [...]}}.
            for part in ("key", "value"):
                if part in child_messages:
                    walk_field(child_messages[part], getattr(field, f"{part}_field"),
                               f"{path}.{key}", key if part == "key" else _dig(raw, key), sink)
            continue
        walk_field(child_messages, child, f"{path}.{key}", _dig(raw, key), sink)


def walk_schema(messages: Mapping[Any, Any], schema: Schema, prefix: str, raw: Any, sink: Sink) -> None:
    """Walk a schema's error dict in declaration order; nested children at their parent's place."""
    if schema.many and messages and all(isinstance(key, int) for key in messages):
        for index in sorted(messages):
            _walk_object(messages[index], schema, f"{prefix}{index}.", _dig(raw, index), sink)
        return
    _walk_object(messages, schema, prefix, raw, sink)


def _walk_object(messages: Mapping[Any, Any], schema: Schema, prefix: str, raw: Any, sink: Sink) -> None:
    if not isinstance(messages, Mapping):
        walk_field(messages, None, prefix[:-1], raw, sink)
        return
    seen = set()
    for name, field in schema.load_fields.items():
        key = wire_name(name, field)
        if key in messages:
            seen.add(key)
            walk_field(messages[key], field, prefix + key, _dig(raw, key), sink)
    for key, extra in messages.items():
        if key in seen:
            continue
        if key == _SCHEMA_KEY:
            path = prefix[:-1]
            message = first_message(extra) or "Invalid value."
            value = None if raw is missing else raw
            if isinstance(message, ReturnedFalse) and path:
                sink.invalid(path, FAILED_VALIDATION.format(name=path), value, True)
            else:
                sink.invalid(path or None, str(message), value, False)
        else:
            walk_field(extra, None, f"{prefix}{key}", _dig(raw, key), sink)


# --- documentation ------------------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """A JSON-safe rendering of a declared default: callables and marshmallow's missing are None."""
    if value is missing or callable(value):
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    return repr(value)


def describe_field(field: fields.Field[Any], _seen: frozenset[int] = frozenset()) -> dict[str, Any]:
    nested: dict[str, Any] | None = None
    target = field.inner if isinstance(field, fields.List) else field
    if isinstance(target, fields.Nested):
        nested = describe_schema(target.schema, _seen)
    return {
        "required": bool(field.required),
        "default": json_safe(field.load_default),
        "description": str(field.metadata.get("description", "")),
        "many": isinstance(field, fields.List) or bool(getattr(field, "many", False)),
        "schema": nested,
    }


def describe_schema(schema: Schema, _seen: frozenset[int] = frozenset()) -> dict[str, Any]:
    if id(schema) in _seen:  # a recursive schema is described once
        return {}
    seen = _seen | {id(schema)}
    return {wire_name(name, f): describe_field(f, seen) for name, f in schema.load_fields.items()}
