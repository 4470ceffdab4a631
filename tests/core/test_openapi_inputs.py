"""What the OpenAPI document says an input accepts (hero.core.params.openapi), checked against what it does."""
from __future__ import annotations

from typing import Any

import pytest
from marshmallow import fields, validate

from hero.core.params.openapi import JSON_INT_MAX, JSON_INT_MIN, input_keywords
from hero.core.params.spec import Input, ParamSpec
from hero.errors import InvalidParam, MissingParam
from hero.runtime.json import dumps


def field_of(declared: Any) -> fields.Field[Any]:
    schema = ParamSpec.compile({"x": declared}, owner="action `test`").marshmallow_schema()
    assert schema is not None
    return schema.fields["x"]


def keywords(declared: Any, *, strings: bool, ret: dict[str, Any] | None = None) -> dict[str, Any]:
    return input_keywords(field_of(declared), ret or {}, strings=strings)


def typed(value: Any) -> int:
    return int(value)


def test_a_formatters_type_is_the_inputs_type() -> None:
    assert keywords(Input(required=True, formatter=int), strings=True) == {"type": "integer"}
    assert keywords(Input(required=True, formatter=float), strings=True) == {"type": "number"}
    assert keywords(Input(required=True, formatter=typed), strings=True) == {"type": "integer"}  # -> int


def test_str_takes_any_json_value_but_only_text_in_a_query() -> None:
    assert keywords(Input(required=True, formatter=str), strings=True) == {"type": "string", "minLength": 1}
    assert keywords(Input(required=True, formatter=str), strings=False) == {"not": {"enum": [None, ""]}}


def test_required_values_are_never_null_or_empty_and_optional_ones_may_be_null() -> None:
    spec = ParamSpec.compile({"x": Input(required=True)}, owner="action `test`")
    for sent in (None, ""):
        with pytest.raises(MissingParam):
            spec.load({"x": sent})
    assert keywords(Input(required=True), strings=False) == {"not": {"enum": [None, ""]}}
    assert keywords(Input(default=3, formatter=int), strings=False)["nullable"] is True
    assert ParamSpec.compile({"x": Input(default=3, formatter=int)}, owner="a").load({"x": None})["x"] == 3
    assert "nullable" not in keywords(Input(default=3, formatter=int), strings=True)  # a query has no null


def test_describable_validators_become_keywords_and_others_are_named() -> None:
    assert keywords(Input(required=True, formatter=int, validator=validate.Range(0, 9)), strings=True) == {
        "type": "integer", "minimum": 0, "exclusiveMinimum": False, "maximum": 9, "exclusiveMaximum": False}

    def three(value: Any) -> bool:
        return len(value) >= 3

    three.openapi = {"minLength": 3}  # type: ignore[attr-defined]
    assert keywords(Input(required=True, formatter=str, validator=three), strings=True) == {
        "type": "string", "minLength": 3}

    def secret(value: Any) -> bool:
        return value == "x"

    described = keywords(Input(required=True, validator=secret, description="a word"), strings=True,
                         ret={"description": "a word"})
    assert described["description"] == "a word (also checked by secret)"


def test_json_integers_are_bounded_to_what_the_json_reader_keeps_exact() -> None:
    assert keywords(Input(required=True, formatter=int), strings=False) == {
        "type": "integer", "minimum": JSON_INT_MIN, "maximum": JSON_INT_MAX}
    assert dumps({"n": JSON_INT_MAX + 1}) == b'{"n":18446744073709551616}'  # a bigger one still encodes


def test_marshmallow_fields_required_strings_are_not_empty() -> None:
    extra = keywords(fields.String(required=True), strings=True, ret={"type": "string"})
    assert extra == {"minLength": 1}
    with pytest.raises((MissingParam, InvalidParam)):
        ParamSpec.compile({"x": fields.String(required=True)}, owner="a").load({"x": ""})
    assert keywords(fields.Integer(), strings=False, ret={"type": "integer"})["nullable"] is True
