"""Action inputs: declared once, compiled at boot, then scrubbed and loaded per request (PROTOCOL §1.5–6).

An action declares ``inputs`` in actionhero's form (``{"key": Input(required=True)}`` or plain dicts
of the same fields), as marshmallow fields, or as a whole marshmallow ``Schema``.
:meth:`ParamSpec.compile` turns that into a :class:`ParamSpec` once; :meth:`ParamSpec.load` then
applies default → formatter → validator → required per input in declaration order.

actionhero-style inputs run as plain Python steps (a 2-input load costs a few µs); marshmallow
fields are loaded by safe copies of themselves (see :mod:`hero.params_marshmallow`); an action
without inputs never touches marshmallow.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields as dataclass_fields
from typing import Any

from marshmallow import EXCLUDE, Schema, fields

from hero import params_marshmallow as mm
from hero.errors import BootError, InvalidParam, MissingParam

logger = logging.getLogger(__name__)


class _Missing:
    """The sentinel for "no value": not declared as a default, or absent from the params."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

#: Params every action accepts whatever its inputs; never scrubbed, never declarable.
GLOBAL_SAFE_PARAMS = ("file", "apiVersion", "callback", "action", "messageId")


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


_INPUT_OPTIONS = frozenset(f.name for f in dataclass_fields(Input))


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


def _missing_predicate(checks: Sequence[Any]) -> Callable[[Any], bool]:
    """``value in checks``, comparing type and value (so False, 0 and [] are not None or "")."""
    checks = tuple(checks)
    if checks == (None, "") or checks == ("", None):
        return lambda value: value is None or (type(value) is str and not value)
    hashable: set[tuple[type, Any]] = set()
    others: list[Any] = []
    for check in checks:
        try:
            hashable.add((type(check), check))
        except TypeError:
            others.append(check)

    def is_missing(value: Any) -> bool:
        try:
            if (type(value), value) in hashable:
                return True
        except TypeError:
            pass
        return any(type(value) is type(check) and value == check for check in others)

    return is_missing


def _default_factory(default: Any) -> Any:
    if default is MISSING or callable(default):
        return default
    if isinstance(default, (list, dict, set, bytearray)):
        # NOTE: a mutable default is copied per request, so one action cannot change it for the next.
        return lambda: copy.deepcopy(default)
    return lambda: default


def _chain(name: str, funcs: Any, what: str, where: str) -> tuple[Callable[[Any], Any], ...]:
    if funcs is None:
        return ()
    chain = tuple(funcs) if isinstance(funcs, (list, tuple)) else (funcs,)
    for func in chain:
        if not callable(func):
            raise BootError(f"input `{name}` in {where}: {what} must be callable, not {func!r}")
    return chain


def _validate(validators: tuple[Callable[[Any], Any], ...], value: Any) -> tuple[str | None, bool] | None:
    """None when ``value`` passes; else (message or None for the generic text, returned_false)."""
    for validator in validators:
        try:
            result = validator(value)
        except Exception as error:  # a validator's exception is the client's message
            return mm.exception_text(error), False
        if result is None or result is True:
            continue
        if isinstance(result, str) and result:
            return result, False
        if isinstance(result, BaseException):
            return mm.exception_text(result), False
        if not result:
            return None, True
    return None


class _InputStep:
    """One actionhero-style input: default → formatter → required → validator → nested schema."""

    __slots__ = ("key", "required", "default", "formatters", "validators", "child", "many", "is_missing")

    def __init__(self, key: str, declared: Input, child: ParamSpec | None, is_missing: Callable[[Any], bool],
                 where: str) -> None:
        self.key = key
        self.required = declared.required
        self.default = _default_factory(declared.default)
        self.formatters = _chain(key, declared.formatter, "formatter", where)
        self.validators = _chain(key, declared.validator, "validator", where)
        self.child = child
        self.many = declared.many
        self.is_missing = is_missing

    def run(self, params: Mapping[str, Any], out: dict[str, Any], sink: Sink, prefix: str) -> bool:
        """Load this input into ``out``; True when a missing input was found (the caller stops)."""
        value = params.get(self.key, MISSING)
        if value is MISSING or self.is_missing(value):
            if self.default is MISSING:
                if self.required:
                    sink.missing(prefix + self.key)
                    return True
                return False
            value = self.default()
        if self.many and not isinstance(value, list):
            value = list(value) if isinstance(value, tuple) else [value]
        if self.formatters:
            try:
                for formatter in self.formatters:
                    value = [formatter(v) for v in value] if self.many else formatter(value)
            except Exception as error:  # a formatter that raises is a validation error (PROTOCOL §1.6)
                sink.invalid(prefix + self.key, mm.exception_text(error), value, False)
                return False
        if self.required and self.is_missing(value):
            sink.missing(prefix + self.key)
            return True
        if self.validators:
            for item in value if self.many else (value,):
                failure = _validate(self.validators, item)
                if failure is not None:
                    path = prefix + self.key
                    message, returned_false = failure
                    sink.invalid(path, message or mm.FAILED_VALIDATION.format(name=path), item, returned_false)
                    return False
        if self.child is not None:
            value = self._load_child(value, sink, prefix + self.key)
            if sink.first_missing is not None:
                return True
        out[self.key] = value
        return False

    def _load_child(self, value: Any, sink: Sink, path: str) -> Any:
        child = self.child
        assert child is not None
        if not self.many:
            if not isinstance(value, Mapping):
                sink.invalid(path, f"{path} must be an object", value, False)
                return value
            return child.load_into(value, sink, path + ".")
        loaded = []
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                sink.invalid(f"{path}.{index}", f"{path}.{index} must be an object", item, False)
                loaded.append(item)
                continue
            loaded.append(child.load_into(item, sink, f"{path}.{index}."))
            if sink.first_missing is not None:
                break
        return loaded


def _as_input(name: str, entry: Any, where: str) -> Input:
    if isinstance(entry, Input):
        return entry
    if isinstance(entry, Mapping):
        unknown = sorted(str(key) for key in entry if key not in _INPUT_OPTIONS)
        if unknown:
            raise BootError(f"input `{name}` in {where} has unknown options: {', '.join(unknown)}")
        return Input(**entry)
    if isinstance(entry, type) and issubclass(entry, fields.Field):
        raise BootError(f"input `{name}` in {where} must be a field instance ({entry.__name__}()), not the class")
    raise BootError(f"input `{name}` in {where} must be an Input, a dict or a marshmallow field, "
                    f"not {type(entry).__name__}")


class ParamSpec:
    """An action's inputs, compiled once: scrub, load (default → formatter → validator → required), describe."""

    #: Declared top-level input names (as sent on the wire), in declaration order.
    names: tuple[str, ...]
    #: Names declared as lists (``Input(many=True)``, ``fields.List``).
    list_inputs: frozenset[str]

    def __init__(self, owner: str, *, steps: Sequence[_InputStep | mm.FieldStep] = (), names: Sequence[str] = (),
                 list_inputs: Sequence[str] = (), children: Sequence[tuple[str, ParamSpec, bool]] = (),
                 schema: Schema | None = None, described: dict[str, Any] | None = None,
                 doc_fields: Callable[[], dict[str, fields.Field]] | None = None,
                 is_missing: Callable[[Any], bool] = _missing_predicate((None, "")), scrub: bool = True,
                 prefix: str = "") -> None:
        self.owner = owner
        self.names = tuple(names)
        self.list_inputs = frozenset(list_inputs)
        self._steps = tuple(steps)
        self._children = tuple(children)
        self._schema = schema
        self._described = described or {}
        self._doc_fields = doc_fields
        self._doc_schema: Schema | None = schema
        self._is_missing = is_missing
        self._scrubbing = scrub
        self._prefix = prefix
        self._keep = frozenset(self.names) | frozenset(GLOBAL_SAFE_PARAMS)
        self._declared = frozenset(self.names)
        self._safe = tuple(name for name in GLOBAL_SAFE_PARAMS if name not in self._declared)

    def __repr__(self) -> str:
        return f"ParamSpec({self.owner!r}, names={self.names!r})"

    # --- compile (boot) ---------------------------------------------------------------------

    @classmethod
    def compile(cls, inputs: Any, *, owner: str, missing_param_checks: Sequence[Any] = (None, ""),
                scrub: bool = True, _prefix: str = "") -> ParamSpec:
        """Build the spec for ``inputs`` (a dict of inputs, a Schema class or instance, or empty).

        Raises :class:`BootError` naming ``owner`` and the input for any bad declaration.
        """
        is_missing = _missing_predicate(missing_param_checks)
        options = {"is_missing": is_missing, "scrub": scrub, "prefix": _prefix}
        if inputs is None or (isinstance(inputs, Mapping) and not inputs):
            return cls(owner, **options)
        if mm.is_schema(inputs):
            return cls._compile_schema(inputs, owner, options)
        if not isinstance(inputs, Mapping):
            raise BootError(f"inputs of {owner} must be a dict of inputs or a marshmallow Schema, "
                            f"not {type(inputs).__name__}")
        return cls._compile_dict(inputs, owner, missing_param_checks, options)

    @classmethod
    def _compile_schema(cls, inputs: Any, owner: str, options: dict[str, Any]) -> ParamSpec:
        schema = mm.compile_schema(inputs, owner, options["prefix"])
        names = [mm.wire_name(name, f) for name, f in schema.load_fields.items()]
        cls._check_names(names, owner, options["prefix"])
        lists = [mm.wire_name(name, f) for name, f in schema.load_fields.items() if isinstance(f, fields.List)]
        return cls(owner, names=names, list_inputs=lists, schema=schema,
                   described=mm.describe_schema(schema), **options)

    @classmethod
    def _compile_dict(cls, inputs: Mapping[Any, Any], owner: str, checks: Sequence[Any],
                      options: dict[str, Any]) -> ParamSpec:
        prefix, is_missing = options["prefix"], options["is_missing"]
        declared: list[tuple[str, Input | fields.Field, ParamSpec | None]] = []
        for name, entry in inputs.items():
            if not isinstance(name, str) or not name:
                raise BootError(f"input `{name!r}` in {owner} must have a non-empty string name")
            if isinstance(entry, fields.Field):
                declared.append((name, entry, None))
                continue
            spec = _as_input(prefix + name, entry, owner)
            child = None
            if spec.schema is not None:
                if not (isinstance(spec.schema, Mapping) or mm.is_schema(spec.schema)):
                    raise BootError(f"input `{prefix}{name}` in {owner}: schema must be a dict of inputs "
                                    f"or a marshmallow Schema, not {type(spec.schema).__name__}")
                child = cls.compile(spec.schema, owner=owner, missing_param_checks=checks,
                                    scrub=options["scrub"], _prefix=f"{prefix}{name}.")
            declared.append((name, spec, child))

        marshmallow_fields = {name: entry for name, entry, _ in declared if isinstance(entry, fields.Field)}
        holder = mm.bind_fields(marshmallow_fields, owner, prefix) if marshmallow_fields else None
        steps: list[_InputStep | mm.FieldStep] = []
        names: list[str] = []
        lists: list[str] = []
        children: list[tuple[str, ParamSpec, bool]] = []
        described: dict[str, Any] = {}
        for name, entry, child in declared:
            if isinstance(entry, fields.Field):
                assert holder is not None
                bound = holder.fields[name]
                key = mm.wire_name(name, bound)
                steps.append(mm.FieldStep(key, bound.attribute or name, bound, is_missing))
                described[key] = mm.describe_field(bound)
                if isinstance(bound, fields.List):
                    lists.append(key)
            else:
                key = name
                steps.append(_InputStep(name, entry, child, is_missing, owner))
                described[key] = _describe_input(entry, child)
                if entry.many:
                    lists.append(key)
                if child is not None:
                    children.append((name, child, entry.many))
            names.append(key)
        cls._check_names(names, owner, prefix)
        logger.debug("compiled the inputs of %s: %s", owner, ", ".join(prefix + name for name in names))

        def doc_fields() -> dict[str, fields.Field]:
            return {name: mm.prepare_field(step.field) if isinstance(step, mm.FieldStep) else
                    mm.input_field(entry, child.marshmallow_schema() if child else None, entry.default is not MISSING)
                    for (name, entry, child), step in zip(declared, steps)}

        return cls(owner, steps=steps, names=names, list_inputs=lists, children=children,
                   described=described, doc_fields=doc_fields, **options)

    @staticmethod
    def _check_names(names: Sequence[str], owner: str, prefix: str) -> None:
        seen: set[str] = set()
        for name in names:
            if not prefix and name in GLOBAL_SAFE_PARAMS:
                raise BootError(f"input `{name}` in {owner} is a reserved param")
            if name in seen:
                raise BootError(f"input `{prefix}{name}` in {owner} is declared twice")
            seen.add(name)

    # --- per request ------------------------------------------------------------------------

    def scrub(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``params`` without what is neither declared nor a global safe param (recursively)."""
        if not self._scrubbing:
            return dict(params)
        keep = self._keep
        scrubbed = {key: value for key, value in params.items() if key in keep}
        for key, child, many in self._children:
            value = scrubbed.get(key)
            if isinstance(value, Mapping):
                scrubbed[key] = child.scrub(value)
            elif many and isinstance(value, list):
                scrubbed[key] = [child.scrub(item) if isinstance(item, Mapping) else item for item in value]
        return scrubbed

    def load(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A new dict of loaded inputs (plus global safe params, plus undeclared ones when not scrubbing).

        Raises :class:`MissingParam` for the first missing input, else :class:`InvalidParam` for the
        first failing one, in declaration order (missing wins, as in actionhero).
        """
        if not self._steps and self._schema is None:
            return self._extras(params)
        sink = Sink()
        loaded = self.load_into(params, sink, "")
        if sink.first_missing is not None:
            raise MissingParam(sink.first_missing)
        if sink.first_invalid is not None:
            raise sink.first_invalid
        if not isinstance(loaded, dict):
            raise TypeError(f"the inputs schema of {self.owner} must load a dict, not {type(loaded).__name__}")
        return loaded

    def load_into(self, params: Mapping[str, Any], sink: Sink, prefix: str) -> Any:
        """Load one object, recording errors in ``sink`` under ``prefix`` (used for nested inputs)."""
        if self._schema is not None:
            loaded = mm.load_schema(self._schema, params, self._is_missing, sink, prefix)
            if isinstance(loaded, dict):
                for key, value in self._extras(params).items():
                    loaded.setdefault(key, value)
            return loaded
        out = self._extras(params)
        for step in self._steps:
            if step.run(params, out, sink, prefix):
                break
        return out

    def _extras(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if self._scrubbing:
            return {key: params[key] for key in self._safe if key in params}
        declared = self._declared
        return {key: value for key, value in params.items() if key not in declared}

    # --- documentation ----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """JSON-safe docs: ``{name: {required, default, description, many, schema}}``."""
        return copy.deepcopy(self._described)

    def marshmallow_schema(self) -> Schema | None:
        """A marshmallow schema of these inputs (None without inputs), for the OpenAPI document."""
        if self._doc_schema is None and self._doc_fields is not None:
            name = mm.class_name(self.owner, self._prefix)
            # NOTE: EXCLUDE, as hero scrubs unknown params rather than refusing them (apispec then
            # leaves additionalProperties out instead of writing false).
            self._doc_schema = Schema.from_dict(self._doc_fields(), name=name)(unknown=EXCLUDE)
        return self._doc_schema


def _describe_input(declared: Input, child: ParamSpec | None) -> dict[str, Any]:
    return {
        "required": bool(declared.required),
        "default": None if declared.default is MISSING else mm.json_safe(declared.default),
        "description": declared.description,
        "many": declared.many,
        "schema": child.describe() if child is not None else None,
    }
