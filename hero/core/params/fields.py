"""actionhero-style inputs as marshmallow fields: default → formatter → required → validator → nested.

:meth:`hero.core.params.spec.ParamSpec.compile` turns each dict-form input (``Input(...)`` or a plain dict)
into one of the fields here and binds them, with any marshmallow fields declared beside them, to one
schema. Each field runs actionhero's steps in :meth:`deserialize` (so a default is formatted and
validated like a sent value) and raises marshmallow's ``ValidationError``; the messages it raises
are :class:`~hero.core.params.schema.InputError` strings, which carry the failing value so that
:mod:`hero.core.params.schema` can read them back into MissingParam / InvalidParam.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing
from marshmallow.types import StrSequenceOrSet
from marshmallow.validate import Validator

from hero.core.params import schema as mm
from hero.core.params.inputs import MISSING, Input, adapt
from hero.errors import BootError


class NestedSpec(Protocol):
    """What a nested input needs of its child :class:`~hero.core.params.spec.ParamSpec`."""

    def marshmallow_schema(self) -> Schema | None: ...

    def load_object(self, params: Mapping[str, Any]) -> Any: ...




def default_factory(default: Any) -> Any:
    """MISSING, or a zero-argument callable giving a fresh default per request."""
    if default is MISSING:
        return default
    if callable(default):
        return adapt(default, arity_floor=0)
    if isinstance(default, (list, dict, set, bytearray)):
        # NOTE: a mutable default is copied per request, so one action cannot change it for the next.
        return lambda: copy.deepcopy(default)
    return lambda: default


def chain(name: str, funcs: Any, what: str, where: str) -> tuple[Callable[[Any], Any], ...]:
    """A formatter or validator option as a tuple of callables (BootError for anything else)."""
    if funcs is None:
        return ()
    found = tuple(funcs) if isinstance(funcs, (list, tuple)) else (funcs,)
    for func in found:
        if not callable(func):
            raise BootError(f"input `{name}` in {where}: {what} must be callable, not {func!r}")
    return tuple(adapt(func, arity_floor=1) for func in found)


def check(validators: tuple[Callable[[Any], Any], ...], value: Any) -> mm.InputError | None:
    """None when ``value`` passes every validator; else the first failure, as actionhero reads it.

    None/True (or another truthy value) passes; False or another falsy value gives the generic
    text; a non-empty string is the error; a raised or returned exception gives its message.
    """
    for validator in validators:
        try:
            result = validator(value)
        except Exception as error:  # a validator's exception is the client's message
            return mm.InputError(mm.exception_text(error), value)
        # NOTE: the common passes first: isinstance against marshmallow's Validator (an ABC) costs
        # more than the rest of a plain validator's check.
        if result is None or result is True:
            continue
        failure = judge(validator, result, value)
        if failure is not None:
            return failure
    return None


def judge(validator: Callable[[Any], Any], result: Any, value: Any) -> mm.InputError | None:
    """:func:`check`'s reading of what one validator returned (other than None or True)."""
    if isinstance(validator, Validator):
        return None  # NOTE: marshmallow's validators raise to fail and return the value (0 included) to pass
    if isinstance(result, str) and result:
        return mm.InputError(result, value)
    if isinstance(result, BaseException):
        return mm.InputError(mm.exception_text(result), value)
    if not result:
        return mm.InputError.failed_validation(value)
    return None


class _Steps(fields.Field[Any]):
    """actionhero's per-input steps, shared by the three field shapes below."""

    is_list = False
    must_be_present = False
    default: Any = MISSING
    formatters: tuple[Callable[[Any], Any], ...] = ()
    checks: tuple[Callable[[Any], Any], ...] = ()
    is_missing: Callable[[Any], bool]

    def setup(self, declared: Input, key: str, is_missing: Callable[[Any], bool], where: str) -> None:
        # NOTE: Input.required, kept apart from marshmallow's ``required`` (False when there is a
        # default): a default or a formatter that gives a missing value still fails the input.
        self.must_be_present = bool(declared.required)
        self.default = default_factory(declared.default)
        self.formatters = chain(key, declared.formatter, "formatter", where)
        self.checks = chain(key, declared.validator, "validator", where)
        self.is_missing = is_missing

    def deserialize(self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None,
                    **kwargs: Any) -> Any:
        if value is missing or self.is_missing(value):
            if self.default is MISSING:
                # NOTE: marshmallow's own required check; its "required" message reads back as MissingParam.
                self._validate_missing(missing)
                return missing
            value = self.default()
        return self._deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     partial: bool | StrSequenceOrSet | None = None, **kwargs: Any) -> Any:
        many = self.is_list
        if many and not isinstance(value, list):
            value = list(value) if isinstance(value, tuple) else [value]
        if self.formatters:
            try:
                for formatter in self.formatters:
                    value = [formatter(v) for v in value] if many else formatter(value)
            except Exception as error:  # a formatter that raises is a validation error (docs/actions.md, Inputs)
                raise ValidationError(mm.InputError(mm.exception_text(error), value)) from error
        if self.must_be_present and self.is_missing(value):
            raise self.make_error("required")
        if self.checks:
            for item in value if many else (value,):
                failure = check(self.checks, item)
                if failure is not None:
                    raise ValidationError(failure)
        return self.load_value(value)

    def load_value(self, value: Any) -> Any:
        """The formatted, validated value loaded further (nested inputs load their object here)."""
        return value


class InputField(_Steps, fields.Raw):
    """A scalar actionhero-style input."""


class ObjectField(fields.Nested):
    """One object of a nested input: loaded by the child :class:`ParamSpec` through its schema."""

    child: NestedSpec

    def __init__(self, child: NestedSpec, **kwargs: Any) -> None:
        # NOTE: a nested child spec always has a schema (compile gives an empty one when needed).
        schema = cast(Schema, child.marshmallow_schema())
        super().__init__(schema, unknown=EXCLUDE, **kwargs)
        self._schema = schema  # NOTE: the child's own schema, not a copy, so docs and loading agree
        self.child = child

    def load_value(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValidationError(mm.InputError.not_an_object(value))
        return self.child.load_object(value)  # its errors are ObjectErrors, read at this input's place

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     partial: bool | StrSequenceOrSet | None = None, **kwargs: Any) -> Any:
        return self.load_value(value)


class NestedInputField(_Steps, ObjectField):
    """An actionhero-style input with a ``schema``: the steps, then the nested object."""

    def load_value(self, value: Any) -> Any:
        # NOTE: _Steps comes first in the MRO (for deserialize); its pass-through load_value does not.
        return ObjectField.load_value(self, value)


class ListInputField(_Steps, fields.List[Any]):
    """An actionhero-style input with ``many=True``: a scalar is wrapped; each element is loaded."""

    is_list = True

    def load_value(self, value: list[Any]) -> Any:
        inner = self.inner
        if not isinstance(inner, ObjectField):
            return value
        loaded: list[Any] = []
        errors: dict[int, Any] = {}
        for index, item in enumerate(value):
            try:
                loaded.append(inner.load_value(item))
            except ValidationError as error:
                errors[index] = error.messages
        if errors:
            raise ValidationError(mm.ObjectErrors(errors, value))
        return loaded


def input_field(declared: Input, key: str, child: NestedSpec | None, is_missing: Callable[[Any], bool],
                where: str) -> fields.Field[Any]:
    """The marshmallow field for one dict-form input (documentation options included, for apispec)."""
    has_default = declared.default is not MISSING
    options: dict[str, Any] = {"required": bool(declared.required) and not has_default}
    if has_default and not callable(declared.default):
        # NOTE: only read by apispec (the OpenAPI default); loading uses the per-request factory.
        options["load_default"] = declared.default
    if declared.description:
        options["metadata"] = {"description": declared.description}
    field: _Steps
    if declared.many:
        inner = ObjectField(child) if child is not None else fields.Raw()
        field = ListInputField(inner, **options)
    elif child is not None:
        field = NestedInputField(child, **options)
    else:
        field = InputField(**options)
    field.setup(declared, key, is_missing, where)
    return field


def build_schema(declared: Mapping[str, fields.Field[Any]], name: str) -> Schema:
    """Bind ``declared`` (name → field) to one schema instance that excludes unknown keys."""
    return Schema.from_dict(dict(declared), name=name)(unknown=EXCLUDE)


def dotted_attributes(schema: Schema) -> dict[str, str]:
    """{placeholder: real} for every field whose result key has a dot, after renaming it.

    NOTE: marshmallow's set_value reads a dotted key as a path ({"a": {"b": v}}); hero's
    dict-form inputs keep the key as declared, so such fields load under a placeholder instead.
    """
    renames: dict[str, str] = {}
    for index, (name, field) in enumerate(schema.load_fields.items()):
        real = field.attribute or name
        if "." in real:
            placeholder = f"hero_dotted_{index}"
            field.attribute = placeholder
            renames[placeholder] = real
    return renames


def field_names(schema: Schema) -> Sequence[str]:
    """Wire names of a schema's load fields, in declaration order."""
    return [mm.wire_name(name, f) for name, f in schema.load_fields.items()]
