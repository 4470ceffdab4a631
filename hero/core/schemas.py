"""JSON Schemas of an action's declared inputs: what the OpenAPI document
(:mod:`hero.builtin_actions.swagger`) and the MCP tools (:mod:`hero.servers.http.mcp`) both
describe, from one source: the compiled inputs (``action.params``), or a Sails machine's own.

    input_schema(action)   # {"type": "object", "properties": {...}, "required": [...]}
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from marshmallow import fields

from hero.core.action import Action
from hero.core.params.openapi import input_keywords
from hero.core.sails.docs import json_schema_of

if TYPE_CHECKING:
    from apispec.ext.marshmallow.openapi import OpenAPIConverter

log = logging.getLogger(__name__)

OPENAPI_VERSION = "3.0.3"


def machine_inputs(action: Action) -> Mapping[str, Any] | None:
    """A Sails machine's own input definitions (types, examples, rules), None for other actions."""
    return getattr(action, "machine_inputs", None) if action.sails == "machine" else None


def machine_object_schema(machine: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The object schema of a machine's inputs ``names``."""
    names = list(names)
    schema: dict[str, Any] = {"type": "object", "properties": {name: json_schema_of(machine[name]) for name in names}}
    wanted = [name for name in names if machine[name].get("required")]
    if wanted:
        schema["required"] = wanted
    return schema


def names_only_schema(action: Action, names: Iterable[str]) -> dict[str, Any]:
    """The fallback when the inputs cannot be converted: their names and required-ness only."""
    described = action.params.describe()
    names = list(names)
    schema: dict[str, Any] = {"type": "object", "properties": {name: {} for name in names}}
    schema["required"] = [name for name in names if described.get(name, {}).get("required")]
    return schema


def _inline_converter() -> OpenAPIConverter:
    """An apispec converter that writes nested schemas in place (no ``$ref`` to components)."""
    # NOTE: lazy: apispec (and packaging, which it imports) is needed only once a schema is asked for
    # (the MCP tool list, the OpenAPI document), never by a server that only runs actions.
    from apispec import APISpec
    from apispec.ext.marshmallow.openapi import OpenAPIConverter

    spec = APISpec(title="inputs", version="1", openapi_version=OPENAPI_VERSION)
    converter = OpenAPIConverter(openapi_version=OPENAPI_VERSION, schema_name_resolver=lambda schema: None, spec=spec)

    def hero_input(converter: OpenAPIConverter, field: fields.Field[Any], ret: dict[str, Any],
                   **kwargs: Any) -> dict[str, Any]:
        # NOTE: the same keywords the OpenAPI document gets for a JSON body (a tool's arguments are JSON)
        return input_keywords(field, ret, strings=False)

    converter.add_attribute_function(hero_input)
    return converter


def input_schema(action: Action) -> dict[str, Any]:
    """A self-contained JSON Schema object of every input of ``action`` (the same types and
    required-ness as the OpenAPI document): an MCP tool's ``inputSchema``."""
    names = list(action.params.names)
    machine = machine_inputs(action)
    if machine is not None:
        return machine_object_schema(machine, names)
    schema = action.params.marshmallow_schema()
    if schema is None:
        return {"type": "object", "properties": {}}
    try:
        converted = dict(_inline_converter().schema2jsonschema(schema))
    except Exception as error:  # NOTE: one odd schema must not take the whole tool list down
        log.warning("the inputs of %s could not be converted (%s); describing their names only", action.name, error)
        return names_only_schema(action, names)
    converted.setdefault("type", "object")
    converted.setdefault("properties", {})
    described = action.params.describe()
    for name, info in described.items():
        wire = converted["properties"].get(name)
        if isinstance(wire, dict) and info.get("description") and "description" not in wire:
            wire["description"] = info["description"]
    return converted
