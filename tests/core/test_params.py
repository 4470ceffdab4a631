"""Inputs: scrubbing, default → formatter → validator → required, errors as clients read them (PROTOCOL §1.5–6)."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates

from hero.core.params.spec import GLOBAL_SAFE_PARAMS, MISSING, Input, ParamSpec
from hero.errors import BootError, InvalidParam, MissingParam


def compile_inputs(inputs: Any, **options: Any) -> ParamSpec:
    return ParamSpec.compile(inputs, owner="action `test`", **options)


def load_error(spec: ParamSpec, params: dict[str, Any]) -> MissingParam | InvalidParam:
    with pytest.raises((MissingParam, InvalidParam)) as caught:
        spec.load(params)
    return caught.value


def at_least_three(value: str) -> None:
    if len(value) < 3:
        raise ValueError("inputs should be at least 3 letters long")


CACHE_TEST = {
    "key": Input(required=True, formatter=str, validator=at_least_three),
    "value": Input(required=True, formatter=str, validator=at_least_three),
}


# --- missing, required, defaults ---------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"key": None}, {"key": ""}])
def test_an_absent_none_or_empty_required_input_is_missing(params: dict[str, Any]) -> None:
    error = load_error(compile_inputs({"key": Input(required=True)}), params)
    assert isinstance(error, MissingParam)
    assert error.message == "key is a required parameter for this action"
    assert error.param == "key"
    assert error.status == 422


@pytest.mark.parametrize("value", [False, 0, [], {}, 0.0])
def test_falsy_values_satisfy_required(value: Any) -> None:
    assert compile_inputs({"key": Input(required=True)}).load({"key": value}) == {"key": value}


def test_missing_param_checks_are_configurable_and_compare_type_and_value() -> None:
    spec = compile_inputs({"key": Input(required=True)}, missing_param_checks=[None, "", 0, []])
    assert isinstance(load_error(spec, {"key": 0}), MissingParam)
    assert isinstance(load_error(spec, {"key": []}), MissingParam)
    assert spec.load({"key": False}) == {"key": False}  # False == 0, but it is not an int 0
    assert spec.load({"key": 0.0}) == {"key": 0.0}
    assert isinstance(load_error(spec, {"key": ""}), MissingParam)
    only_none = compile_inputs({"key": Input(required=True)}, missing_param_checks=[None])
    assert only_none.load({"key": ""}) == {"key": ""}


def test_a_missing_value_gets_the_default_which_is_then_formatted_and_validated() -> None:
    spec = compile_inputs({
        "ttl": Input(default="60", formatter=int),
        "name": Input(default="ab", validator=at_least_three),
    })
    error = load_error(spec, {"name": None})
    assert isinstance(error, InvalidParam) and error.message == "inputs should be at least 3 letters long"
    assert spec.load({"name": "abcd"}) == {"ttl": 60, "name": "abcd"}
    assert spec.load({"ttl": "", "name": "abcd"}) == {"ttl": 60, "name": "abcd"}


def test_a_callable_default_is_called_on_every_load_and_mutable_defaults_are_not_shared() -> None:
    calls = []
    spec = compile_inputs({
        "stamp": Input(default=lambda: calls.append(1) or len(calls)),
        "tags": Input(default=["a"]),
        "seen": Input(default=dict),
    })
    first = spec.load({})
    first["tags"].append("b")
    first["seen"]["x"] = 1
    second = spec.load({})
    assert (first["stamp"], second["stamp"]) == (1, 2)
    assert second["tags"] == ["a"] and second["seen"] == {}


def test_a_required_input_with_a_default_never_goes_missing() -> None:
    assert compile_inputs({"page": Input(required=True, default=1)}).load({"page": ""}) == {"page": 1}


def test_a_missing_optional_input_is_absent_from_the_result() -> None:
    spec = compile_inputs({"a": Input(), "b": Input(formatter=int, validator=lambda v: False)})
    assert spec.load({"a": None, "b": ""}) == {}


# --- formatters and validators -----------------------------------------------------------------


def test_formatters_change_the_value_and_compose_in_order() -> None:
    spec = compile_inputs({
        "n": Input(formatter=str),
        "fancy": Input(formatter=[lambda v: f"*{v}*", lambda v: f"~{v}~"]),
    })
    assert spec.load({"n": 123, "fancy": 6}) == {"n": "123", "fancy": "~*6*~"}


def test_a_formatter_that_raises_is_an_invalid_param_with_its_message() -> None:
    error = load_error(compile_inputs({"count": Input(formatter=int)}), {"count": "abc"})
    assert isinstance(error, InvalidParam)
    assert error.status == 422
    assert error.message == "invalid literal for int() with base 10: 'abc'"
    assert (error.param, error.value) == ("count", "abc")


@pytest.mark.parametrize("result", [None, True, 1, [1]])
def test_validators_returning_none_or_true_pass(result: Any) -> None:
    assert compile_inputs({"x": Input(validator=lambda v: result)}).load({"x": 5}) == {"x": 5}


def test_a_validator_returning_false_gives_the_generic_text() -> None:
    error = load_error(compile_inputs({"string": Input(validator=lambda v: False)}), {"string": "abc"})
    assert isinstance(error, InvalidParam)
    assert error.message == 'Input for parameter "string" failed validation!'
    assert (error.param, error.value, error.returned_false) == ("string", "abc", True)


def test_a_validator_returning_a_string_or_raising_gives_that_text() -> None:
    spec = compile_inputs({
        "fancy": Input(validator=lambda v: None if v == "abc123" else 'fancyParam should be "abc123"'),
        "number": Input(validator=lambda v: int(v)),
    })
    error = load_error(spec, {"fancy": "nope"})
    assert (error.message, error.param, error.returned_false) == ('fancyParam should be "abc123"', "fancy", False)
    assert load_error(spec, {"number": "x"}).message == "invalid literal for int() with base 10: 'x'"

    def raises_validation_error(value: Any) -> None:
        raise ValidationError("Param number is not a valid number!")

    other = compile_inputs({"number": Input(validator=raises_validation_error)})
    assert load_error(other, {"number": "x"}).message == "Param number is not a valid number!"
    returns_error = compile_inputs({"x": Input(validator=lambda v: ValueError("returned, not raised"))})
    assert load_error(returns_error, {"x": 1}).message == "returned, not raised"


def test_validator_lists_run_in_order_and_the_first_error_wins() -> None:
    spec = compile_inputs({"x": Input(validator=[lambda v: True, lambda v: "first", lambda v: "second"])})
    assert load_error(spec, {"x": 1}).message == "first"


def test_validators_see_the_formatted_value() -> None:
    spec = compile_inputs({"n": Input(formatter=int, validator=lambda v: v > 10 or "too small")})
    assert spec.load({"n": "11"}) == {"n": 11}
    assert load_error(spec, {"n": "9"}).message == "too small"


# --- order --------------------------------------------------------------------------------------


def test_the_first_failing_input_in_declaration_order_wins() -> None:
    spec = compile_inputs({"b": Input(validator=lambda v: "b is bad"), "a": Input(validator=lambda v: "a is bad")})
    assert load_error(spec, {"a": 1, "b": 2}).message == "b is bad"


def test_a_missing_input_wins_over_an_earlier_validator_error() -> None:
    spec = compile_inputs(CACHE_TEST)
    error = load_error(spec, {"key": "ab"})
    assert isinstance(error, MissingParam) and error.message == "value is a required parameter for this action"
    error = load_error(spec, {"key": "ab", "value": "abcd"})
    assert isinstance(error, InvalidParam) and error.message == "inputs should be at least 3 letters long"
    assert spec.load({"key": "abc", "value": 1234}) == {"key": "abc", "value": "1234"}


def test_nested_children_fail_at_their_parents_position() -> None:
    spec = compile_inputs({
        "address": Input(schema={"city": Input(validator=lambda v: "bad city")}),
        "zip": Input(validator=lambda v: "bad zip"),
    })
    error = load_error(spec, {"zip": 1, "address": {"city": "x"}})
    assert (error.message, error.param) == ("bad city", "address.city")


# --- scrubbing and the result dict ---------------------------------------------------------------


def test_scrub_drops_undeclared_params_keeps_global_safe_ones_and_copies() -> None:
    spec = compile_inputs({"key": Input()})
    params = {"key": "k", "junk": 1, "action": "test", "apiVersion": 1, "messageId": "m", "callback": "c", "file": "f"}
    scrubbed = spec.scrub(params)
    assert scrubbed == {key: value for key, value in params.items() if key != "junk"}
    assert "junk" in params  # the caller's dict is untouched
    assert set(GLOBAL_SAFE_PARAMS) == {"file", "apiVersion", "callback", "action", "messageId", "locale"}


def test_scrub_recurses_into_nested_dict_schemas_and_lists_of_them() -> None:
    spec = compile_inputs({
        "address": Input(schema={"city": Input(), "geo": Input(schema={"lat": Input()})}),
        "items": Input(many=True, schema={"sku": Input()}),
    })
    params = {
        "address": {"city": "c", "evil": 1, "geo": {"lat": 1, "lon": 2}},
        "items": [{"sku": "a", "price": 0}, "not an object"],
    }
    original = copy.deepcopy(params)
    assert spec.scrub(params) == {
        "address": {"city": "c", "geo": {"lat": 1}},
        "items": [{"sku": "a"}, "not an object"],
    }
    assert params == original


def test_with_scrubbing_disabled_scrub_is_a_copy_and_load_keeps_undeclared_params() -> None:
    spec = compile_inputs({"n": Input(formatter=int), "gone": Input()}, scrub=False)
    params = {"n": "1", "junk": {"deep": 1}, "gone": "", "action": "test"}
    scrubbed = spec.scrub(params)
    assert scrubbed == params and scrubbed is not params
    assert spec.load(params) == {"n": 1, "junk": {"deep": 1}, "action": "test"}


def test_load_returns_a_new_dict_with_inputs_and_global_safe_params_only() -> None:
    spec = compile_inputs({"n": Input(formatter=int)})
    params = {"n": "1", "action": "test", "apiVersion": 2, "junk": 1}
    assert spec.load(params) == {"n": 1, "action": "test", "apiVersion": 2}
    assert params == {"n": "1", "action": "test", "apiVersion": 2, "junk": 1}


def test_an_action_without_inputs() -> None:
    for inputs in (None, {}):
        spec = compile_inputs(inputs)
        assert spec.names == () and spec.list_inputs == frozenset()
        assert spec.load({"action": "test", "x": 1}) == {"action": "test"}
        assert spec.scrub({"action": "test", "x": 1}) == {"action": "test"}
        assert spec.describe() == {} and spec.marshmallow_schema() is None


# --- nested dict-form schemas and lists ----------------------------------------------------------


ADDRESS = {"city": Input(required=True), "zip": Input(formatter=int)}


def test_nested_schema_inputs_load_recursively_with_dotted_names() -> None:
    spec = compile_inputs({"address": Input(required=True, schema=ADDRESS)})
    assert spec.load({"address": {"city": "Paris", "zip": "75001"}}) == {"address": {"city": "Paris", "zip": 75001}}
    error = load_error(spec, {"address": {"zip": "1"}})
    assert isinstance(error, MissingParam)
    assert (error.message, error.param) == ("address.city is a required parameter for this action", "address.city")
    error = load_error(spec, {"address": {"city": "x", "zip": "q"}})
    assert (error.param, error.value) == ("address.zip", "q")
    assert isinstance(load_error(spec, {}), MissingParam)


def test_a_non_object_value_for_a_schema_input_is_invalid() -> None:
    spec = compile_inputs({"address": Input(schema=ADDRESS)})
    error = load_error(spec, {"address": "10 Downing Street"})
    assert isinstance(error, InvalidParam)
    assert (error.message, error.param) == ("address must be an object", "address")


def test_deeply_nested_inputs_and_plain_dict_declarations() -> None:
    spec = compile_inputs({"a": {"schema": {"b": {"schema": {"c": {"required": True, "formatter": int}}}}}})
    assert spec.load({"a": {"b": {"c": "3"}}}) == {"a": {"b": {"c": 3}}}
    assert load_error(spec, {"a": {"b": {}}}).message == "a.b.c is a required parameter for this action"


def test_list_inputs_wrap_scalars_and_format_each_element() -> None:
    spec = compile_inputs({"ids": Input(many=True, formatter=int, validator=lambda v: v > 0), "one": Input()})
    assert spec.list_inputs == frozenset({"ids"})
    assert spec.load({"ids": ["1", "2"]}) == {"ids": [1, 2]}
    assert spec.load({"ids": "7"}) == {"ids": [7]}
    error = load_error(spec, {"ids": ["1", "-2"]})
    assert (error.message, error.value) == ('Input for parameter "ids" failed validation!', -2)


def test_lists_of_nested_objects_use_indexed_dotted_names() -> None:
    spec = compile_inputs({"items": Input(many=True, schema={"sku": Input(required=True)})})
    assert spec.load({"items": [{"sku": "a", "x": 1}]}) == {"items": [{"sku": "a"}]}
    assert load_error(spec, {"items": [{"sku": "a"}, {}]}).message == "items.1.sku is a required parameter for this action"
    assert load_error(spec, {"items": [5]}).param == "items.0"



def test_a_required_input_whose_default_or_formatter_gives_a_missing_value_is_missing() -> None:
    spec = compile_inputs({"a": Input(required=True, default="", formatter=str)})
    assert load_error(spec, {}).message == "a is a required parameter for this action"
    spec = compile_inputs({"a": Input(required=True, formatter=lambda v: None), "b": Input(validator=lambda v: "b")})
    error = load_error(spec, {"a": "x", "b": 1})
    assert (type(error), error.param) == (MissingParam, "a")


def test_a_formatter_error_on_a_list_input_reports_the_list() -> None:
    spec = compile_inputs({"ids": Input(many=True, formatter=int), "scores": Input(many=True, default="1", formatter=int)})
    error = load_error(spec, {"ids": ["1", "x"]})
    assert (error.message, error.param, error.value) == ("invalid literal for int() with base 10: 'x'", "ids", ["1", "x"])
    assert spec.load({"ids": ("1", "2")}) == {"ids": [1, 2], "scores": [1]}


def test_errors_inside_lists_of_nested_objects_name_the_element_and_missing_still_wins() -> None:
    spec = compile_inputs({
        "first": Input(validator=lambda v: "first is bad"),
        "items": Input(many=True, schema={"sku": Input(required=True), "n": Input(formatter=int)}),
    })
    error = load_error(spec, {"items": [{"sku": "a", "n": "x"}, {"sku": "b"}]})
    assert (error.message, error.param, error.value) == ("invalid literal for int() with base 10: 'x'", "items.0.n", "x")
    error = load_error(spec, {"first": 1, "items": [5, {"n": "x"}, {}]})
    assert (type(error), error.param) == (MissingParam, "items.1.sku")
    error = load_error(spec, {"items": [{"sku": "a"}, 5]})
    assert (error.message, error.param, error.value) == ("items.1 must be an object", "items.1", 5)
    assert spec.load({"items": {"sku": "a", "junk": 1}}) == {"items": [{"sku": "a"}]}


def test_a_nested_input_is_formatted_and_validated_before_its_children_load() -> None:
    seen = []
    spec = compile_inputs({"address": Input(
        formatter=lambda v: {"city": v} if isinstance(v, str) else v,
        validator=lambda v: seen.append(dict(v)) or "zip" not in v or "no zips here",
        schema={"city": Input(validator=lambda v: v != "q")},
    )})
    assert spec.load({"address": "Paris"}) == {"address": {"city": "Paris"}}
    assert seen == [{"city": "Paris"}]
    assert load_error(spec, {"address": {"city": "c", "zip": 1}}).message == "no zips here"
    error = load_error(spec, {"address": "q"})
    assert (error.message, error.param, error.value) == ('Input for parameter "address.city" failed validation!',
                                                         "address.city", "q")


def test_nested_inputs_without_scrubbing_keep_undeclared_keys_and_empty_schemas_load_objects() -> None:
    spec = compile_inputs({"o": Input(schema={"x": Input(formatter=int)}), "e": Input(schema={})}, scrub=False)
    loaded = spec.load({"o": {"x": "1", "extra": 2}, "e": {"k": 1}, "junk": 3})
    assert loaded == {"o": {"extra": 2, "x": 1}, "e": {"k": 1}, "junk": 3}
    assert compile_inputs({"e": Input(schema={})}).load({"e": {"k": 1}}) == {"e": {}}
    assert load_error(compile_inputs({"e": Input(schema={})}), {"e": 1}).message == "e must be an object"


def test_missing_param_checks_apply_inside_nested_marshmallow_schemas_given_as_input_schema() -> None:
    spec = compile_inputs({"address": Input(schema=AddressSchema)}, missing_param_checks=[None, "", "-"])
    error = load_error(spec, {"address": {"city": "-"}})
    assert (type(error), error.param) == (MissingParam, "address.city")


def test_dotted_input_names_stay_flat_keys() -> None:
    spec = compile_inputs({"a.b": Input(formatter=int), "c": fields.Int(attribute="c.d"), "e": Input()})
    assert spec.names == ("a.b", "c", "e")
    assert spec.load({"a.b": "1", "c": "2", "e": 3}) == {"a.b": 1, "c.d": 2, "e": 3}
    assert load_error(spec, {"a.b": "x"}).param == "a.b"


def test_every_input_form_loads_through_the_one_schema_marshmallow_schema_returns() -> None:
    spec = compile_inputs({
        "key": Input(required=True, formatter=str, validator=at_least_three),
        "address": Input(schema=ADDRESS),
        "items": Input(many=True, schema={"sku": Input(required=True)}),
        "age": fields.Int(),
    })
    schema = spec.marshmallow_schema()
    assert isinstance(schema, Schema) and schema.unknown == EXCLUDE
    assert list(schema.fields) == ["key", "address", "items", "age"]
    address, items = schema.fields["address"], schema.fields["items"]
    assert isinstance(address, fields.Nested) and address.unknown == EXCLUDE and address.schema.unknown == EXCLUDE
    assert isinstance(items, fields.List) and isinstance(items.inner, fields.Nested)
    assert items.inner.schema.unknown == EXCLUDE
    params = {"key": 1234, "address": {"city": "c", "zip": "1", "x": 1}, "items": [{"sku": "s", "y": 2}], "age": "3"}
    expected = {"key": "1234", "address": {"city": "c", "zip": 1}, "items": [{"sku": "s"}], "age": 3}
    assert spec.load(params) == schema.load(params) == expected
    with pytest.raises(ValidationError) as caught:
        schema.load({"address": {}})
    assert caught.value.messages["key"] == ["Missing data for required field."]
    assert caught.value.messages["address"]["city"] == ["Missing data for required field."]
    whole = compile_inputs(AddressSchema)
    assert whole.marshmallow_schema() is whole.marshmallow_schema()

# --- marshmallow fields and schemas ---------------------------------------------------------------


def test_marshmallow_fields_read_like_hero_inputs() -> None:
    spec = compile_inputs({"age": fields.Int(required=True), "name": Input(default="anon")})
    assert spec.load({"age": "42", "junk": 1}) == {"age": 42, "name": "anon"}
    for params in ({}, {"age": ""}, {"age": None}):
        error = load_error(spec, params)
        assert isinstance(error, MissingParam) and error.message == "age is a required parameter for this action"
    error = load_error(spec, {"age": "old"})
    assert isinstance(error, InvalidParam)
    assert (error.message, error.param, error.value) == ("Not a valid integer.", "age", "old")


def test_marshmallow_and_hero_inputs_keep_one_declaration_order() -> None:
    spec = compile_inputs({
        "first": Input(validator=lambda v: "first is bad"),
        "second": fields.Int(),
        "third": Input(required=True),
    })
    assert load_error(spec, {"first": 1, "second": "x", "third": 1}).message == "first is bad"
    assert load_error(spec, {"second": "x", "third": 1}).message == "Not a valid integer."
    assert isinstance(load_error(spec, {"first": 1, "second": "x"}), MissingParam)
    assert spec.names == ("first", "second", "third")


def test_marshmallow_validators_returning_false_or_raising_fail() -> None:
    def is_positive(value: int) -> bool:
        return value > 0

    def no_thirteen(value: int) -> None:
        if value == 13:
            raise ValueError("13 is unlucky")

    spec = compile_inputs({"n": fields.Int(validate=[is_positive, no_thirteen, validate.Range(max=100)])})
    error = load_error(spec, {"n": "-1"})
    assert (error.message, error.param, error.value, error.returned_false) == (
        'Input for parameter "n" failed validation!', "n", "-1", True)
    assert load_error(spec, {"n": 13}).message == "13 is unlucky"
    assert load_error(spec, {"n": 101}).message == "Must be less than or equal to 100."
    assert spec.load({"n": "5"}) == {"n": 5}


class GeoSchema(Schema):
    lat = fields.Float(required=True)


class AddressSchema(Schema):
    city = fields.Str(required=True)
    zip = fields.Int(validate=lambda v: v > 0)
    geo = fields.Nested(GeoSchema)


def test_nested_marshmallow_schemas_exclude_unknown_keys_at_every_depth() -> None:
    spec = compile_inputs({"address": fields.Nested(AddressSchema), "tags": fields.List(fields.Str())})
    loaded = spec.load({"address": {"city": "c", "evil": 1, "geo": {"lat": "1.5", "evil": 2}}, "tags": ["a"]})
    assert loaded == {"address": {"city": "c", "geo": {"lat": 1.5}}, "tags": ["a"]}
    assert spec.list_inputs == frozenset({"tags"})
    error = load_error(spec, {"address": {"geo": {}}})
    assert (type(error), error.param) == (MissingParam, "address.city")
    error = load_error(spec, {"address": {"city": "c", "geo": {}}})
    assert error.message == "address.geo.lat is a required parameter for this action"
    error = load_error(spec, {"address": {"city": "c", "zip": "-5"}})
    assert error.message == 'Input for parameter "address.zip" failed validation!'
    assert load_error(spec, {"tags": ["a", 5]}).param == "tags.1"
    error = load_error(spec, {"address": "10 Downing Street"})
    assert (error.message, error.param) == ("Invalid input type.", "address")


def test_marshmallow_containers_name_the_failing_element() -> None:
    spec = compile_inputs({
        "first": fields.Str(data_key="firstName"),
        "scores": fields.Dict(keys=fields.Str(validate=validate.Length(max=3)), values=fields.Int()),
        "pair": fields.Tuple((fields.Int(), fields.Str())),
        "city": fields.Pluck(AddressSchema, "city"),
        "homes": fields.Nested(AddressSchema, many=True),
    })
    assert spec.names == ("firstName", "scores", "pair", "city", "homes")
    assert spec.load({"firstName": "Ada", "city": "Paris"}) == {"first": "Ada", "city": {"city": "Paris"}}
    assert load_error(spec, {"scores": {"math": "x"}}).param == "scores.math"
    error = load_error(spec, {"scores": {"physics": 1}})
    assert (error.message, error.param, error.value) == ("Longer than maximum length 3.", "scores.physics", "physics")
    assert load_error(spec, {"pair": ["x", "y"]}).param == "pair.0"
    assert load_error(spec, {"city": 5}).param == "city"
    assert load_error(spec, {"homes": [{"city": "a"}, {}]}).message == "homes.1.city is a required parameter for this action"


def test_recursive_marshmallow_schemas_compile_and_load() -> None:
    class TreeSchema(Schema):
        name = fields.Str(required=True)
        children = fields.List(fields.Nested(lambda: TreeSchema()))

    spec = compile_inputs({"tree": fields.Nested(TreeSchema)})
    tree = {"name": "a", "x": 1, "children": [{"name": "b", "children": [{"name": "c", "y": 2}]}]}
    assert spec.load({"tree": tree}) == {"tree": {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}}
    error = load_error(spec, {"tree": {"name": "a", "children": [{"children": []}]}})
    assert error.message == "tree.children.0.name is a required parameter for this action"
    json.dumps(spec.describe())


def test_the_users_marshmallow_objects_are_never_mutated() -> None:
    field = fields.Nested(AddressSchema)
    instance = AddressSchema()
    validators_before = list(instance.fields["zip"].validators)
    compile_inputs({"address": field, "other": fields.Nested(instance), "age": fields.Int()})
    compile_inputs(AddressSchema)
    compile_inputs(instance)
    assert field.unknown is None and field._schema is None
    assert instance.unknown == "raise" and instance.fields["zip"].validators == validators_before
    with pytest.raises(ValidationError):
        AddressSchema().load({"city": "c", "evil": 1})


def test_a_whole_schema_as_inputs() -> None:
    class SignupSchema(Schema):
        email = fields.Email(required=True)
        age = fields.Int(load_default=18)
        address = fields.Nested(AddressSchema)

        @validates("age")
        def adult(self, value: int, data_key: str) -> bool:
            return value >= 18

    for declared in (SignupSchema, SignupSchema()):
        spec = compile_inputs(declared)
        assert spec.names == ("email", "age", "address")
        params = {"email": "a@b.co", "junk": 1, "action": "signup", "address": {"city": "c", "evil": 1}}
        assert spec.scrub(params) == {key: value for key, value in params.items() if key != "junk"}
        assert spec.load(params) == {"email": "a@b.co", "age": 18, "address": {"city": "c"}, "action": "signup"}
        assert load_error(spec, {"email": ""}).message == "email is a required parameter for this action"
        assert load_error(spec, {"email": "nope"}).message == "Not a valid email address."
        error = load_error(spec, {"email": "a@b.co", "age": 12})
        assert (error.message, error.returned_false) == ('Input for parameter "age" failed validation!', True)
        assert load_error(spec, {"email": "x", "address": {}}).message == (
            "address.city is a required parameter for this action")
        assert isinstance(spec.marshmallow_schema(), SignupSchema)


def test_a_schema_input_given_as_a_marshmallow_schema() -> None:
    spec = compile_inputs({"address": Input(required=True, schema=AddressSchema)})
    assert spec.load({"address": {"city": "c", "x": 1}}) == {"address": {"city": "c"}}
    assert load_error(spec, {"address": {"zip": 1}}).message == "address.city is a required parameter for this action"
    assert load_error(spec, {"address": []}).message == "address must be an object"


# --- boot errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GLOBAL_SAFE_PARAMS)
def test_a_reserved_input_name_fails_at_boot(name: str) -> None:
    with pytest.raises(BootError) as caught:
        compile_inputs({name: Input()})
    assert str(caught.value) == f"input `{name}` in action `test` is a reserved param"
    with pytest.raises(BootError, match="reserved param"):
        compile_inputs(Schema.from_dict({name: fields.Str()}))


@pytest.mark.parametrize("inputs, fragment", [
    ({"a": {"requird": True}}, "input `a` in action `test` has unknown options: requird"),
    ({"a": Input(formatter="api.utils.format")}, "input `a` in action `test`: formatter must be callable"),
    ({"a": Input(validator=[len, 3])}, "input `a` in action `test`: validator must be callable"),
    ({"a": Input(schema=[1])}, "input `a` in action `test`: schema must be a dict of inputs"),
    ({"a": Input(schema={"b": 42})}, "input `a.b` in action `test` must be an Input"),
    ({"a": fields.Int}, "input `a` in action `test` must be a field instance (Integer()), not the class"),
    ({"a": fields.Nested(Schema.from_dict({"x": fields.Str()}), only=("y",))}, "inputs of action `test` could not be built"),
    ({1: Input()}, "input `1` in action `test` must have a non-empty string name"),
    (["a", "b"], "inputs of action `test` must be a dict of inputs or a marshmallow Schema, not list"),
])
def test_bad_declarations_fail_at_boot_naming_the_action_and_input(inputs: Any, fragment: str) -> None:
    with pytest.raises(BootError) as caught:
        compile_inputs(inputs)
    assert fragment in str(caught.value)


# --- documentation ------------------------------------------------------------------------------


def test_describe_is_json_safe_documentation() -> None:
    spec = compile_inputs({
        "key": Input(required=True, description="the cache key"),
        "ttl": Input(default=60_000),
        "stamp": Input(default=lambda: 1),
        "tags": Input(many=True),
        "address": Input(schema=ADDRESS),
        "age": fields.Int(required=True, metadata={"description": "years"}),
        "geo": fields.Nested(GeoSchema, load_default=dict),
    })
    described = spec.describe()
    json.dumps(described)
    assert described["key"] == {"required": True, "default": None, "description": "the cache key",
                                "many": False, "schema": None}
    assert described["ttl"]["default"] == 60_000 and described["stamp"]["default"] is None
    assert described["tags"]["many"] is True
    assert described["address"]["schema"]["city"]["required"] is True
    assert described["age"]["description"] == "years"
    assert described["geo"]["schema"] == {"lat": {"required": True, "default": None, "description": "",
                                                  "many": False, "schema": None}}
    described["key"]["required"] = False
    assert spec.describe()["key"]["required"] is True


def test_the_marshmallow_schema_documents_every_input_for_openapi() -> None:
    apispec = pytest.importorskip("apispec")
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = compile_inputs({
        "key": Input(required=True, description="the cache key"),
        "ttl": Input(default=60_000),
        "address": Input(schema=ADDRESS),
        "age": fields.Int(validate=validate.Range(min=1)),
    })
    schema = spec.marshmallow_schema()
    assert isinstance(schema, Schema) and schema is spec.marshmallow_schema()
    document = apispec.APISpec("t", "1", "3.0.2", plugins=[MarshmallowPlugin()])
    document.components.schema("TestParams", schema=schema)
    component = document.to_dict()["components"]["schemas"]["TestParams"]
    assert component["required"] == ["key"]
    assert component["properties"]["key"]["description"] == "the cache key"
    assert component["properties"]["ttl"]["default"] == 60_000
    assert component["properties"]["age"] == {"type": "integer", "minimum": 1}


def test_invalid_param_still_takes_just_a_message() -> None:
    error = InvalidParam("plain text")
    assert (error.message, error.param, error.value, error.returned_false, error.status) == (
        "plain text", None, None, False, 422)
    assert repr(MISSING) == "MISSING"


# --- marshmallow validators as Input validators --------------------------------------------------


def test_a_marshmallow_validator_passes_a_falsy_value_it_returns() -> None:
    # Range returns the value it checked: 0 is a pass, not a falsy "failed validation".
    spec = compile_inputs({"n": Input(default=1, formatter=int, validator=validate.Range(0, 10))})
    assert spec.load({"n": "0"})["n"] == 0
    error = load_error(spec, {"n": "11"})
    assert isinstance(error, InvalidParam) and error.message.startswith("Must be greater than or equal to 0")
