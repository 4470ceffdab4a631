"""What an actionhero-style input really accepts, as OpenAPI 3.0 schema keywords (docs/http.md, OpenAPI).

apispec reads marshmallow's own fields by their class; hero's inputs (:mod:`hero.core.params.fields`)
are ``Raw`` fields whose steps it cannot see, so :func:`input_keywords` reads them instead:

- the **type** from the first formatter: ``int``, ``float``, ``str``, ``bool``, or a formatter's
  return annotation (``def to_int(value) -> int``);
- **required** inputs are never ``null`` and, when a string, never empty (both count as missing and
  answer 422); an optional input may be ``null`` (it takes its default);
- **validators** that say what they check: marshmallow's ``Length``, ``Range``, ``OneOf``, ``Equal``
  and ``Regexp``, and any formatter or validator with an ``openapi`` attribute, a dict of schema
  keywords (``at_least_three.openapi = {"minLength": 3}``). Any other validator is opaque: the
  document names it in the description, and a value it refuses still answers 422.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from marshmallow import fields, validate

from hero.core.params.fields import ListInputField, NestedInputField, _Steps

#: A formatter's type, by the formatter itself or its return annotation.
FORMATTER_TYPES: Mapping[Any, str] = {
    int: "integer", float: "number", str: "string", bool: "boolean",
    "int": "integer", "float": "number", "str": "string", "bool": "boolean",
}


def formatter_type(formatter: Callable[[Any], Any]) -> str | None:
    """The OpenAPI type a formatter turns its value into (``int`` → ``integer``), or None."""
    try:
        if formatter in FORMATTER_TYPES:
            return FORMATTER_TYPES[formatter]
    except TypeError:  # an unhashable callable
        return None
    try:
        annotation = inspect.signature(formatter).return_annotation
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    try:
        return FORMATTER_TYPES.get(annotation)
    except TypeError:
        return None


def validator_keywords(validators: Iterable[Callable[[Any], Any]], type_: str | None) -> dict[str, Any]:
    """Schema keywords for the validators that say what they check."""
    keywords: dict[str, Any] = {}
    for validator in validators:
        declared = getattr(validator, "openapi", None)
        if isinstance(declared, Mapping):
            keywords.update(declared)
        elif isinstance(validator, validate.Length):
            prefix = "Items" if type_ == "array" else "Length"
            if validator.equal is not None:
                keywords[f"min{prefix}"] = keywords[f"max{prefix}"] = validator.equal
            if validator.min is not None:
                keywords[f"min{prefix}"] = validator.min
            if validator.max is not None:
                keywords[f"max{prefix}"] = validator.max
        elif isinstance(validator, validate.Range):
            if validator.min is not None:
                keywords["minimum"] = validator.min
                keywords["exclusiveMinimum"] = not validator.min_inclusive
            if validator.max is not None:
                keywords["maximum"] = validator.max
                keywords["exclusiveMaximum"] = not validator.max_inclusive
        elif isinstance(validator, validate.OneOf):
            keywords["enum"] = list(validator.choices)
        elif isinstance(validator, validate.Equal):
            keywords["enum"] = [validator.comparable]
        elif isinstance(validator, validate.Regexp):
            keywords["pattern"] = validator.regex.pattern
    return keywords


def opaque(validators: Iterable[Callable[[Any], Any]]) -> list[str]:
    """Names of the validators the document cannot describe."""
    return [getattr(v, "__name__", type(v).__name__) for v in validators
            if not isinstance(getattr(v, "openapi", None), Mapping)
            and not isinstance(v, (validate.Length, validate.Range, validate.OneOf, validate.Equal, validate.Regexp))]


def _scalar(field: _Steps, strings: bool) -> dict[str, Any]:
    """The keywords of one value of ``field`` (each element, for a list input)."""
    keywords: dict[str, Any] = {}
    type_ = None
    if field.formatters:
        first = field.formatters[0]
        declared = getattr(first, "openapi", None)
        if isinstance(declared, Mapping):
            keywords.update(declared)
            type_ = declared.get("type")
        else:
            type_ = formatter_type(first)
            if type_ in ("string", "boolean") and not strings:
                type_ = None  # NOTE: str() and bool() take any JSON value
            if type_ is not None:
                keywords["type"] = type_
    keywords.update(validator_keywords(field.checks, type_))
    if strings and "type" not in keywords:
        keywords["type"] = "string"  # a query or form value is a string
    return keywords


#: The integers a JSON body carries as integers (orjson reads larger ones as floats).
JSON_INT_MIN, JSON_INT_MAX = -(2 ** 63), 2 ** 64 - 1


def input_keywords(field: fields.Field[Any], ret: Mapping[str, Any], *, strings: bool) -> dict[str, Any]:
    """OpenAPI keywords for ``field`` beyond what apispec found (``ret``).

    ``strings``: the value arrives as text (a query parameter, a form field), not as JSON.
    """
    keywords = _input_keywords(field, ret, strings)
    merged = {**ret, **keywords}
    if not strings and merged.get("type") == "integer":
        keywords["minimum"] = max(merged.get("minimum", JSON_INT_MIN), JSON_INT_MIN)
        keywords["maximum"] = min(merged.get("maximum", JSON_INT_MAX), JSON_INT_MAX)
    return keywords


def _input_keywords(field: fields.Field[Any], ret: Mapping[str, Any], strings: bool) -> dict[str, Any]:
    required = bool(field.required)  # NOTE: Input(required=True) without a default (input_field)
    if not isinstance(field, _Steps) or isinstance(field, NestedInputField):
        # A marshmallow field: hero drops null and "" before loading (they are missing).
        extra: dict[str, Any] = {}
        if required and ret.get("type") == "string":
            extra["minLength"] = max(1, int(ret.get("minLength", 1)))
        if not required and not strings:
            extra["nullable"] = True
        return extra
    keywords = _scalar(field, strings)
    if isinstance(field, ListInputField):
        keywords = {"type": "array", "items": keywords}
        if required:
            keywords["minItems"] = 1
    elif required:
        if keywords.get("type") == "string":
            keywords["minLength"] = max(1, int(keywords.get("minLength", 1)))
        elif "type" not in keywords:
            # NOTE: null and "" are missing (missing_param_checks); anything else goes to the validators.
            keywords["not"] = {"enum": [None, ""]}
    if not required and not strings:
        keywords["nullable"] = True  # null (or "") is missing: the default is used
    names = opaque(field.checks)
    if names:
        description = str(ret.get("description", ""))
        keywords["description"] = f"{description} (also checked by {', '.join(names)})" if description \
            else f"Also checked by {', '.join(names)}."
    return keywords
