"""Action inputs: declared once, compiled at boot, then scrubbed and loaded per request (docs/actions.md, Inputs).

An action declares ``inputs`` in actionhero's form (``{"key": Input(required=True)}`` or plain dicts
of the same fields), as marshmallow fields, or as a whole marshmallow ``Schema``.
:meth:`ParamSpec.compile` turns any of these into ONE marshmallow schema at boot: actionhero-style
inputs become the fields of :mod:`hero.core.params.fields` (default → formatter → required → validator
per input, nested ``schema`` inputs as ``Nested`` fields of a compiled sub-schema), marshmallow
fields and schemas become safe copies of themselves (:mod:`hero.core.params.schema`).
:meth:`ParamSpec.load` runs that schema and reads its errors back in declaration order;
:meth:`ParamSpec.marshmallow_schema` returns the same schema for the OpenAPI document. An action
without inputs never touches marshmallow.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from typing import Any, cast

from marshmallow import Schema, ValidationError, fields

from hero.core.params import fields as pf
from hero.core.params import schema as mm
from hero.core.params.fast import FastInputs, fast_fields
from hero.core.params.inputs import GLOBAL_SAFE_PARAMS, MISSING, Input, Sink, from_required_optional
from hero.errors import BootError, InvalidParam, MissingParam

__all__ = ["GLOBAL_SAFE_PARAMS", "MISSING", "Input", "ParamSpec", "Sink"]

logger = logging.getLogger(__name__)


_INPUT_OPTIONS = frozenset(f.name for f in dataclass_fields(Input))


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
    """An action's inputs, compiled once into one marshmallow schema: scrub, load, describe."""

    #: Declared top-level input names (as sent on the wire), in declaration order.
    names: tuple[str, ...]
    #: Names declared as lists (``Input(many=True)``, ``fields.List``).
    list_inputs: frozenset[str]

    def __init__(self, owner: str, *, schema: Schema | None = None, names: Sequence[str] = (),
                 list_inputs: Sequence[str] = (), children: Sequence[tuple[str, ParamSpec, bool]] = (),
                 described: dict[str, Any] | None = None,
                 is_missing: Callable[[Any], bool] = _missing_predicate((None, "")), scrub: bool = True,
                 prefix: str = "", filter_missing: bool = False, extras_first: bool = True,
                 renames: Mapping[str, str] | None = None) -> None:
        self.owner = owner
        self.names = tuple(names)
        self.list_inputs = frozenset(list_inputs)
        self._schema = schema
        self._children = tuple(children)
        self._described = described or {}
        self._is_missing = is_missing
        self._scrubbing = scrub
        self._prefix = prefix
        #: Drop values in ``missing_param_checks`` before marshmallow's fields see them (the
        #: actionhero-style fields check them themselves, so a dict of those alone skips this).
        self._filter_missing = filter_missing
        #: Global safe / undeclared params go first in the result (dict form) or after (Schema form).
        self._extras_first = extras_first
        self._renames = dict(renames or {})
        self._keep = frozenset(self.names) | frozenset(GLOBAL_SAFE_PARAMS)
        self._declared = frozenset(self.names)
        self._safe = tuple(name for name in GLOBAL_SAFE_PARAMS if name not in self._declared)
        #: Values for safe params a request did not send (``general.pagination_defaults``).
        self._defaults: dict[str, Any] = {}
        #: Plain inputs only (top level): loaded by their fields without Schema.load (params/fast.py).
        self._fast: FastInputs | None = None

    def __repr__(self) -> str:
        return f"ParamSpec({self.owner!r}, names={self.names!r})"

    def add_safe(self, names: Sequence[str], defaults: Mapping[str, Any] | None = None) -> None:
        """Accept ``names`` as global safe params too (``api.params.add_global_safe``); with
        ``defaults``, a missing one of them gets its default (``general.pagination_defaults``).
        A name the action declares stays its own input."""
        fresh = [name for name in names if name not in self._declared and name not in self._safe]
        self._keep = self._keep | frozenset(names)
        self._safe = self._safe + tuple(fresh)
        for name, value in (defaults or {}).items():
            if name not in self._declared:
                self._defaults[name] = value

    # --- compile (boot) ---------------------------------------------------------------------

    @classmethod
    def compile(cls, inputs: Any, *, owner: str, missing_param_checks: Sequence[Any] = (None, ""),
                scrub: bool = True, _prefix: str = "") -> ParamSpec:
        """Build the spec for ``inputs`` (a dict of inputs, a Schema class or instance, or empty).

        Raises :class:`BootError` naming ``owner`` and the input for any bad declaration.
        """
        is_missing = _missing_predicate(missing_param_checks)
        options: dict[str, Any] = {"is_missing": is_missing, "scrub": scrub, "prefix": _prefix}
        inputs = from_required_optional(inputs)
        if inputs is None or (isinstance(inputs, Mapping) and not inputs):
            if _prefix:  # a nested input without inputs of its own still loads as an object
                return cls(owner, schema=pf.build_schema({}, mm.class_name(owner, _prefix)), **options)
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
        names = pf.field_names(schema)
        cls._check_names(names, owner, options["prefix"])
        lists = [mm.wire_name(name, f) for name, f in schema.load_fields.items() if isinstance(f, fields.List)]
        return cls(owner, schema=schema, names=names, list_inputs=lists, described=mm.describe_schema(schema),
                   filter_missing=True, extras_first=False, **options)

    @classmethod
    def _compile_dict(cls, inputs: Mapping[Any, Any], owner: str, checks: Sequence[Any],
                      options: dict[str, Any]) -> ParamSpec:
        prefix, is_missing = options["prefix"], options["is_missing"]
        declared: dict[str, fields.Field[Any]] = {}
        hero_inputs: dict[str, tuple[Input, ParamSpec | None]] = {}
        children: list[tuple[str, ParamSpec, bool]] = []
        for name, entry in inputs.items():
            if not isinstance(name, str) or not name:
                raise BootError(f"input `{name!r}` in {owner} must have a non-empty string name")
            if isinstance(entry, fields.Field):
                declared[name] = cls._prepared(entry, owner)
                continue
            spec = _as_input(prefix + name, entry, owner)
            child = None
            if spec.schema is not None:
                if not (isinstance(spec.schema, Mapping) or mm.is_schema(spec.schema)):
                    raise BootError(f"input `{prefix}{name}` in {owner}: schema must be a dict of inputs "
                                    f"or a marshmallow Schema, not {type(spec.schema).__name__}")
                child = cls.compile(spec.schema, owner=owner, missing_param_checks=checks,
                                    scrub=options["scrub"], _prefix=f"{prefix}{name}.")
                children.append((name, child, spec.many))
            declared[name] = pf.input_field(spec, prefix + name, child, is_missing, owner)
            hero_inputs[name] = (spec, child)
        try:
            schema = pf.build_schema(declared, mm.class_name(owner, prefix))
        except Exception as error:  # marshmallow's own complaint, attributed to the action
            raise BootError(f"inputs of {owner} could not be built: {error}") from error

        names: list[str] = []
        lists: list[str] = []
        described: dict[str, Any] = {}
        for name, field in schema.load_fields.items():
            key = mm.wire_name(name, field)
            names.append(key)
            if name in hero_inputs:
                spec, child = hero_inputs[name]
                described[key] = _describe_input(spec, child)
                is_list = spec.many
            else:
                described[key] = mm.describe_field(field)
                is_list = isinstance(field, fields.List)
            if is_list:
                lists.append(key)
        cls._check_names(names, owner, prefix)
        logger.debug("compiled the inputs of %s: %s", owner, ", ".join(prefix + name for name in names))
        compiled = cls(owner, schema=schema, names=names, list_inputs=lists, children=children,
                       described=described, filter_missing=len(hero_inputs) < len(declared),
                       renames=pf.dotted_attributes(schema), **options)
        if not prefix and len(hero_inputs) == len(declared):
            plain = fast_fields(schema)
            if plain is not None:
                compiled._fast = FastInputs(plain)
        return compiled

    @staticmethod
    def _prepared(field: fields.Field[Any], owner: str) -> fields.Field[Any]:
        try:
            return mm.prepare_field(field)
        except Exception as error:  # marshmallow's own complaint, attributed to the action
            raise BootError(f"inputs of {owner} could not be built: {error}") from error

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

    def receive(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Raw request params → (scrubbed, loaded): :meth:`scrub`, then :meth:`load` of the result."""
        if self._scrubbing and not self._children:
            # NOTE: scrub() written out for flat inputs (once per action, nearly every action's case)
            keep = self._keep
            received = {key: value for key, value in params.items() if key in keep}
        else:
            received = self.scrub(params)
        if self._defaults:
            self._apply_defaults(received)
        if self._schema is None and self._scrubbing:
            # NOTE: with no inputs, scrubbing kept only global safe params: all that load would keep.
            return received, dict(received)
        return received, self.load(received)

    def _apply_defaults(self, received: dict[str, Any]) -> None:
        """seed 000's ``limit`` / ``offset``: a default when missing, a whole number >= 0 when sent."""
        for name, default in self._defaults.items():
            value: Any = received.get(name)
            if self._is_missing(value):
                received[name] = default
                continue
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = -1
            if isinstance(value, bool) or number < 0 or str(number) != str(value).strip():
                raise InvalidParam(f"{name} must be a whole number of 0 or more", param=name, value=value)
            received[name] = number

    def load(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A new dict of loaded inputs (plus global safe params, plus undeclared ones when not scrubbing).

        Raises :class:`MissingParam` for the first missing input, else :class:`InvalidParam` for the
        first failing one, in declaration order (missing wins, as in actionhero).
        """
        if self._schema is None:
            return self._extras(params)
        fast = self._fast
        if fast is not None:
            values, errors = fast.load(params)
            if errors is not None:
                raise fast.first_error(errors, params)
            extras = self._extras(params)
            if not extras:
                return values
            extras.update(values)  # NOTE: the dict form puts the extras first, as load_object does
            return extras
        try:
            loaded = self.load_object(params)
        except ValidationError as error:
            # NOTE: load_object only raises ValidationError with ObjectErrors; marshmallow types
            # ``messages`` as any list or dict.
            messages = cast(mm.ObjectErrors, error.messages)
        else:
            if not isinstance(loaded, dict):
                raise TypeError(f"the inputs schema of {self.owner} must load a dict, not {type(loaded).__name__}")
            return loaded
        raise self._first_error(messages)

    def load_object(self, params: Mapping[str, Any]) -> Any:
        """Load one object through the schema; raises marshmallow's ``ValidationError`` (nested inputs use it)."""
        assert self._schema is not None
        data = params
        if self._filter_missing:
            is_missing = self._is_missing
            data = {key: value for key, value in params.items() if not is_missing(value)}
        try:
            loaded = self._schema.load(data)
        except ValidationError as error:
            # NOTE: the errors keep the data they came from, so the walk reports the values loaded.
            # NOTE: Schema.load always reports a dict of errors (by field name or ``_schema``).
            raise ValidationError(mm.ObjectErrors(cast("dict[str, Any]", error.messages), data)) from error
        if not isinstance(loaded, dict):
            return loaded
        if self._renames:
            renames = self._renames
            loaded = {renames.get(key, key): value for key, value in loaded.items()}
        extras = self._extras(params)
        if not extras:
            return loaded
        if self._extras_first:
            extras.update(loaded)
            return extras
        for key, value in extras.items():
            loaded.setdefault(key, value)
        return loaded

    def _first_error(self, messages: mm.ObjectErrors) -> MissingParam | InvalidParam:
        assert self._schema is not None
        sink = Sink()
        mm.walk_schema(messages, self._schema, "", messages.raw, sink)
        if sink.first_missing is not None:
            return MissingParam(sink.first_missing)
        if sink.first_invalid is not None:
            return sink.first_invalid
        return InvalidParam(mm.first_message(messages) or "Invalid value.")

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
        """The marshmallow schema :meth:`load` runs (None without inputs), e.g. for apispec.

        NOTE: it excludes unknown keys at every level, as hero scrubs unknown params rather than
        refusing them (apispec then leaves additionalProperties out instead of writing false).
        """
        return self._schema


def _describe_input(declared: Input, child: ParamSpec | None) -> dict[str, Any]:
    return {
        "required": bool(declared.required),
        "default": None if declared.default is MISSING else mm.json_safe(declared.default),
        "description": declared.description,
        "many": declared.many,
        "schema": child.describe() if child is not None else None,
    }
