"""The fast path for plain inputs gives the values and errors of the marshmallow path, exactly."""
from __future__ import annotations

import itertools
from typing import Any

import pytest
from marshmallow import fields

from hero.errors import HeroError
from hero.core.params.inputs import Input
from hero.core.params.spec import ParamSpec


def _outcome(spec: ParamSpec, params: dict[str, Any]) -> tuple[Any, ...]:
    try:
        loaded = spec.load(params)
    except HeroError as error:
        return ("error", type(error).__name__, error.message, getattr(error, "param", None),
                repr(getattr(error, "value", None)), getattr(error, "returned_false", None))
    return ("ok", list(loaded.items()))


def _both(inputs: Any, params: dict[str, Any], **options: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    fast = ParamSpec.compile(inputs, owner="fast", **options)
    slow = ParamSpec.compile(inputs, owner="slow", **options)
    assert fast._fast is not None, "these inputs should take the fast path"
    slow._fast = None
    return _outcome(fast, dict(params)), _outcome(slow, dict(params))


def _boom(value: Any) -> Any:
    raise ValueError("formatter says no")


def _falsy(value: Any) -> Any:
    return value != "bad"


def _texts(value: Any) -> Any:
    return True if value != "worse" else "no worse please"


def _raises(value: Any) -> Any:
    if value == "explode":
        raise RuntimeError("validator exploded")
    return None


def _returns_error(value: Any) -> Any:
    return ValueError("returned, not raised") if value == "exc" else True


def _zero(value: Any) -> Any:
    return 0 if value == "zero" else True


INPUTS = {
    "required": Input(required=True),
    "defaulted": Input(default=5, formatter=int, validator=lambda v: v >= 0 or "must not be negative"),
    "callable_default": Input(default=lambda: ["fresh"]),
    "mutable_default": Input(default={"a": [1]}),
    "formatted": Input(formatter=[str.strip, str.upper]),
    "validated": Input(validator=[_falsy, _texts, _raises, _returns_error, _zero]),
    "failing_formatter": Input(formatter=_boom),
    "required_formatted": Input(required=True, formatter=lambda v: "" if v == "blank" else v),
    "listed": Input(many=True, formatter=int, validator=lambda v: v < 10 or "too big"),
    "dotted.name": Input(default="d"),
}

VALUES: dict[str, list[Any]] = {
    "required": [None, "", "x", 0, False],
    "defaulted": [None, "", "7", "-1", "seven"],
    "callable_default": [None, "given"],
    "mutable_default": [None, {"b": 2}],
    "formatted": [None, "  hi  ", 3],
    "validated": [None, "ok", "bad", "worse", "explode", "exc", "zero"],
    "failing_formatter": [None, "anything"],
    "required_formatted": ["kept", "blank"],
    "listed": [None, "3", ["1", "2"], ("4",), ["11"], ["x"]],
    "dotted.name": [None, "e"],
}


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    names = list(VALUES)
    for name, values in VALUES.items():  # each value of each input, the others fine
        for value in values:
            params = {"required": "r", "required_formatted": "k"}
            if value is not None:
                params[name] = value
            else:
                params.pop(name, None)
            cases.append(params)
    for first, second in itertools.combinations(names, 2):  # two inputs failing at once: which wins
        params = {"required": "r", "required_formatted": "k"}
        params[first] = VALUES[first][-1]
        params[second] = VALUES[second][-1]
        cases.append(params)
    cases.append({})  # everything missing
    cases.append({"required": "r", "required_formatted": "k", "apiVersion": "2", "unknown": 1, "action": "a"})
    return cases


@pytest.mark.parametrize("params", _cases())
def test_the_same_values_and_errors_as_marshmallow(params):
    fast, slow = _both(INPUTS, params)
    assert fast == slow


@pytest.mark.parametrize("params", [{"a": "1", "b": "x", "extra": 2, "messageId": "m"}, {"extra": 1}])
def test_without_scrubbing_and_with_other_missing_checks(params):
    inputs = {"a": Input(formatter=int), "b": Input(default="d", validator=lambda v: v != "x" or "not x")}
    for options in ({"scrub": False}, {"missing_param_checks": [None, "", "x"]}, {}):
        fast, slow = _both(inputs, params, **options)
        assert fast == slow


def test_inputs_with_marshmallow_fields_or_nested_schemas_keep_the_marshmallow_path():
    assert ParamSpec.compile({"a": Input(), "b": fields.Int()}, owner="x")._fast is None
    assert ParamSpec.compile({"a": Input(schema={"b": Input()})}, owner="x")._fast is None
    assert ParamSpec.compile({"a": Input(many=True, schema={"b": Input()})}, owner="x")._fast is None
    assert ParamSpec.compile({}, owner="x")._fast is None


def test_a_mutable_default_is_fresh_per_request():
    spec = ParamSpec.compile({"a": Input(default={"list": []})}, owner="x")
    spec.load({})["a"]["list"].append(1)
    assert spec.load({})["a"] == {"list": []}


def test_a_raising_default_propagates_as_on_the_marshmallow_path():
    def broken() -> Any:
        raise KeyError("no default today")

    spec = ParamSpec.compile({"a": Input(default=broken)}, owner="x")
    with pytest.raises(KeyError):
        spec.load({})


class _Range:
    def __call__(self, value: Any) -> Any:
        return 0 <= int(value) < 100


def test_one_argument_steps_of_every_kind_take_the_fast_path():
    inputs = {"a": Input(formatter=int), "b": Input(formatter=str.strip, validator=_Range()),
              "c": Input(validator=lambda v, *, strict=False: True), "d": Input(formatter=float)}
    assert ParamSpec.compile(inputs, owner="x")._fast is not None


def _with_connection(param: Any, connection: Any, action_template: Any) -> Any:
    return True


def _optional_more(param: Any, connection: Any = None) -> Any:
    return True


def test_anything_the_fast_path_does_not_know_keeps_the_marshmallow_path():
    # NOTE: actionhero's (param, connection, action_template) steps arrive adapted (params/inputs.adapt):
    # one-argument wrappers reading the connection from CALLING, which both paths call alike.
    assert ParamSpec.compile({"a": Input(validator=_with_connection)}, owner="x")._fast is not None
    assert ParamSpec.compile({"a": Input(validator=_optional_more)}, owner="x")._fast is not None
    assert ParamSpec.compile({"a": Input(formatter=lambda *values: values)}, owner="x")._fast is not None
    assert ParamSpec.compile({"a": Input(), "b": Input(validator=len, formatter=max)}, owner="x")._fast is None
    # a field carrying an attribute a plain input does not have (a new kind of step)
    spec = ParamSpec.compile({"a": Input()}, owner="x")
    from hero.core.params.fast import fast_fields
    field = spec._schema.load_fields["a"]
    field.context_checks = (_with_connection,)
    assert fast_fields(spec._schema) is None
