"""How Sails machines are documented: their exits (showDocumentation, ``hero actions --json``) and
their inputs as OpenAPI schemas (the swagger action)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def type_of_example(example: Any) -> str:
    """A machine input's Sails type from its example (``"==="`` is Sails' example of a ``ref``)."""
    if isinstance(example, bool):
        return "boolean"
    if isinstance(example, (int, float)):
        return "number"
    if isinstance(example, str):
        return "string" if example != "===" else "ref"
    return "json"


def describe_exits(exits: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The exits as documented (showDocumentation, ``hero actions --json``)."""
    described = {}
    for name, exit_ in exits.items():
        entry = {"statusCode": exit_["statusCode"], "description": exit_.get("description", "")}
        for key in ("responseType", "outputType", "outputExample"):
            if exit_.get(key):
                entry[key] = exit_[key]
        described[name] = entry
    return described


def json_schema_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A machine input as an OpenAPI schema: its type, example, default and rules."""
    kind = entry.get("type") or type_of_example(entry.get("example"))
    schema: dict[str, Any] = {"string": {"type": "string"}, "number": {"type": "number"},
                              "boolean": {"type": "boolean"}}.get(kind, {})
    if entry.get("description"):
        schema["description"] = str(entry["description"])
    for key, target in (("example", "example"), ("defaultsTo", "default"), ("isIn", "enum"), ("min", "minimum"),
                        ("max", "maximum"), ("minLength", "minLength"), ("maxLength", "maxLength")):
        if key in entry and not callable(entry[key]):
            schema[target] = list(entry[key]) if key == "isIn" else entry[key]
    if entry.get("isEmail"):
        schema["format"] = "email"
    if "regex" in entry:
        regex = entry["regex"]
        schema["pattern"] = regex.pattern if isinstance(regex, re.Pattern) else str(regex)
    return schema
