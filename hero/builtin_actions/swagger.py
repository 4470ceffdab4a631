"""swagger: an OpenAPI 3.0 document of every documented action and route (docs/http.md, OpenAPI).

Paths come from config ``routes`` (``/:id`` → ``/{id}``, ``v:apiVersion`` → ``v{apiVersion}``,
``:id(regex)`` → ``{id}`` with that ``pattern``) and, with ``web.simple_routing``, from
``/api/<action>`` for every action. Parameters come from each action's compiled inputs: its
``params.marshmallow_schema()`` through apispec's MarshmallowPlugin (query parameters for
GET/DELETE/HEAD, a JSON or form body for POST/PUT/PATCH), and ``params.describe()`` where there is
no schema. ``public/docs.html`` renders the document.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from hero.container import Api
from hero.core.action import Action, ActionData, version_key
from hero.core.params.schema import json_safe
from hero.core.routes import Route, action_prefix
from hero.errors import UnknownAction

if TYPE_CHECKING:
    from apispec.ext.marshmallow import MarshmallowPlugin
    from apispec.ext.marshmallow.openapi import OpenAPIConverter
    from marshmallow import fields

# NOTE: lazy, in the functions that use them: the document's builders (hero.core.schemas,
# hero.core.params.openapi, hero.core.sails.docs). The action is registered at boot, but an idle
# server never renders the document (issue 17: idle memory).

log = logging.getLogger(__name__)

#: What ``all`` in config routes documents (HEAD is answered like GET, so it is not listed twice).
ALL_VERBS = ("get", "post", "put", "patch", "delete")
BODY_VERBS = frozenset({"post", "put", "patch"})
#: ``prefix:name`` or ``:name(regex)``, as in :mod:`hero.core.routes`.
ROUTE_PART = re.compile(r"^(?P<prefix>[^:]*):(?P<name>[A-Za-z_$][\w$.-]*)(?:\((?P<regex>.*)\))?$")
ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
#: What any action can answer besides 200 (docs/http.md and docs/limits.md say when).
ERROR_RESPONSES = {
    "400": "a malformed request: params that are not UTF-8, a body that is not JSON, form or multipart",
    "404": "unknown action or invalid apiVersion",
    "413": "the body, the form or the number of params is over its limit",
    "422": "a required input is missing, or an input failed validation",
    "429": "this connection has too many actions pending",
    "500": "the action failed",
    "503": "the server is shutting down, or the store (Redis) is unavailable",
    "504": "the action timed out",
}


def build_openapi(api: Api) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``api``'s documented actions and its routes, as a dict."""
    # NOTE: lazy: apispec is loaded when the document is first asked for, not by every server at boot;
    # and hero's schema builders too: an idle server never needs them (issue 17: idle memory).
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    from hero.core.schemas import OPENAPI_VERSION

    general, web = api.config.general, api.config.web
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec(title=general.server_name, version=str(general.api_version), openapi_version=OPENAPI_VERSION,
                   plugins=[plugin], info={"description": general.description})
    spec.components.schema("Error", ERROR_SCHEMA)
    builder = _OperationBuilder(plugin)
    # NOTE: apispec sees hero's inputs as Raw fields; this tells it what each really accepts.
    builder.converter.add_attribute_function(builder.hero_input)
    reachable = action_prefix(web)
    prefix = reachable or ""

    paths: dict[str, dict[str, Any]] = {}
    for route in api.routes.table.routes if reachable is not None else ():
        if route.dir is not None or route.action is None:
            continue  # a static-file mount, not an action
        try:
            action = api.actions.find(route.action, route.api_version)
        except UnknownAction:
            log.debug("swagger: route %s %s names no action (%s)", route.verb, route.path, route.action)
            continue
        if not action.to_document:
            continue
        template, captures = route_template(route.path)
        operations = paths.setdefault(prefix + template, {})
        for verb in ALL_VERBS if route.verb == "all" else (route.verb,):
            if verb not in operations:  # the first route for a path and verb wins, as when matching
                operations[verb] = builder.operation(action, verb, captures, pinned=route.api_version is not None,
                                                     versions=_versions(api, action.name), note=_route_note(route))
    if web.simple_routing and reachable is not None:
        for name in sorted(api.actions.versions):
            action = api.actions.latest[name]
            if not action.to_document:
                continue
            operations = paths.setdefault(f"{prefix}/{name}", {})
            for verb in ALL_VERBS:  # simple routing answers every verb
                if verb not in operations:  # a configured route on this path comes first
                    operations[verb] = builder.operation(action, verb, [], versions=_versions(api, name))
    for path, operations in paths.items():
        if operations:
            spec.path(path=path, operations=operations)
    document = spec.to_dict()
    tags = {tag for operations in document.get("paths", {}).values() for operation in operations.values()
            for tag in operation.get("tags", ())}
    document["tags"] = [{"name": tag} for tag in sorted(tags)]
    return document


def route_template(path: str) -> tuple[str, list[dict[str, Any]]]:
    """``/users/:id(\\d+)/v:apiVersion`` → ``/users/{id}/v{apiVersion}`` and its path parameters."""
    pieces: list[str] = []
    captures: list[dict[str, Any]] = []
    for part in (part for part in path.split("/") if part):
        found = ROUTE_PART.match(part)
        if found is None:
            pieces.append(part)
            continue
        name = found["name"]
        pieces.append(f"{found['prefix']}{{{name}}}")
        schema: dict[str, Any] = {"type": "string"}
        if found["regex"]:
            schema["pattern"] = found["regex"]
        captures.append({"name": name, "in": "path", "required": True, "schema": schema,
                         "description": "the action version" if name == "apiVersion" else "captured from the path"})
    return "/" + "/".join(pieces), captures


class _OperationBuilder:
    """Turns an action plus a verb into an OpenAPI operation; reuses each action's schema."""

    def __init__(self, plugin: MarshmallowPlugin) -> None:
        from hero.core.params.openapi import input_keywords  # NOTE: lazy: see build_openapi

        self.plugin = plugin
        self.operation_ids: set[str] = set()
        #: True while query parameters are converted: their values arrive as text, not JSON.
        self.strings = False
        builder = self

        def hero_input(converter: OpenAPIConverter, field: fields.Field[Any], ret: dict[str, Any],
                       **kwargs: Any) -> dict[str, Any]:
            """apispec attribute function: :func:`hero.core.params.openapi.input_keywords`."""
            return input_keywords(field, ret, strings=builder.strings)

        self.hero_input = hero_input

    @property
    def converter(self) -> OpenAPIConverter:
        # NOTE: APISpec(plugins=[plugin]) ran init_spec, which sets it; apispec types it Optional.
        return cast("OpenAPIConverter", self.plugin.converter)

    def operation(self, action: Action, verb: str, captures: list[dict[str, Any]], *, pinned: bool = False,
                  versions: Iterable[str] = (), note: str = "") -> dict[str, Any]:
        captured = {capture["name"] for capture in captures}
        parameters = [dict(capture) for capture in captures]
        versions = list(versions)
        if len(versions) > 1 and not pinned and "apiVersion" not in captured:
            parameters.append({"name": "apiVersion", "in": "query", "required": False,
                               "description": "which version to run (default, or empty: the highest)",
                               "schema": {"type": "string", "enum": [*versions, ""]}})
        body: dict[str, Any] | None = None
        if verb in BODY_VERBS:
            body = self.request_body(action, captured)
        else:
            parameters += self.query_parameters(action, captured)
        description = action.description or ""
        if note:
            description = f"{description}\n\n{note}".strip()
        operation: dict[str, Any] = {
            "operationId": self.operation_id(f"{verb}_{action.name}_v{action.version}"),
            "summary": action.description or action.name,
            "description": description,
            "tags": [action.name],
            "parameters": parameters,
            "responses": self.responses(action),
        }
        if body is not None:
            operation["requestBody"] = body
        return operation

    def operation_id(self, wanted: str) -> str:
        base = re.sub(r"[^\w.-]", "_", wanted)
        candidate, number = base, 1
        while candidate in self.operation_ids:
            number += 1
            candidate = f"{base}_{number}"
        self.operation_ids.add(candidate)
        return candidate

    def query_parameters(self, action: Action, captured: set[str]) -> list[dict[str, Any]]:
        from hero.core.sails.docs import json_schema_of  # NOTE: lazy: see build_openapi
        from hero.core.schemas import machine_inputs

        machine = machine_inputs(action)
        if machine is not None:  # a Sails machine: its own types, examples and rules
            return [{"in": "query", "name": name, "required": bool(entry.get("required")),
                     **({"description": str(entry["description"])} if entry.get("description") else {}),
                     "schema": json_schema_of(entry)} for name, entry in machine.items() if name not in captured]
        described = action.params.describe()
        try:
            schema = action.params.marshmallow_schema()
            self.strings = True
            try:
                converted = self.converter.schema2parameters(schema, location="query") if schema else []
            finally:
                self.strings = False
        except Exception as error:  # NOTE: one odd schema must not take the whole document down
            log.warning("swagger: the inputs of %s could not be converted (%s); documenting their names only",
                        action.name, error)
            converted = [{"in": "query", "name": name, "required": bool(info.get("required")), "schema": {}}
                         for name, info in described.items()]
        parameters = []
        for parameter in converted:
            if parameter["name"] in captured:
                continue
            parameter.setdefault("schema", {})
            info = described.get(parameter["name"], {})
            if info.get("description") and not parameter.get("description"):
                parameter["description"] = info["description"]
            parameters.append(parameter)
        return parameters

    def request_body(self, action: Action, captured: set[str]) -> dict[str, Any] | None:
        from hero.core.schemas import machine_inputs, machine_object_schema  # NOTE: lazy: see build_openapi

        remaining = [name for name in action.params.names if name not in captured]
        if not remaining:
            return None
        described = action.params.describe()
        required = any(info.get("required") for name, info in described.items() if name in remaining)
        machine = machine_inputs(action)
        target: Any
        try:
            if machine is not None:
                target = machine_object_schema(machine, remaining)
            else:
                target = action.params.marshmallow_schema()
                if len(remaining) < len(action.params.names):
                    # NOTE: path captures win over body params; document the body without them.
                    target = type(target)(exclude=[name for name in target.fields if _wire(target, name) in captured],
                                          unknown=target.unknown)
                self.converter.resolve_nested_schema(target)  # fails here, not inside spec.path()
        except Exception as error:  # NOTE: one odd schema must not take the whole document down
            log.warning("swagger: the inputs of %s could not be converted (%s); documenting their names only",
                        action.name, error)
            target = {"type": "object", "properties": {name: {} for name in remaining},
                      "required": [name for name in remaining if described.get(name, {}).get("required")]}
        # NOTE: a form's values are text, so its fields are described as the query parameters are.
        form: dict[str, Any] = {"type": "object", "properties": {}}
        for parameter in self.query_parameters(action, captured):
            form["properties"][parameter["name"]] = dict(parameter["schema"])
            if parameter.get("required"):
                form.setdefault("required", []).append(parameter["name"])
        json_body: Any = target
        if not required:
            # NOTE: a JSON array is accepted too, as the ``payload`` param (docs/http.md, Params).
            json_body = {"anyOf": [target, {"type": "array", "items": {}}]}
        content = {"application/json": {"schema": json_body},
                   "application/x-www-form-urlencoded": {"schema": form}, "multipart/form-data": {"schema": form}}
        return {"required": required, "content": content}

    @staticmethod
    def responses(action: Action) -> dict[str, Any]:
        success: dict[str, Any] = {"description": "the action's response", "content": {
            "application/json": {"schema": {"type": "object"}}}}
        if action.output_example:
            success["content"]["application/json"]["example"] = json_safe(dict(action.output_example))
        if action.streaming:  # docs/http.md, Streaming
            success["description"] = ("the action's stream: Server-Sent Events when the client accepts "
                                      "text/event-stream, else chunked text (a JSON line per chunk)")
            success["content"] = {"text/event-stream": {"schema": {"type": "string"}},
                                  "text/plain": {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {"200": success}
        exits = getattr(action, "exits", None) if action.sails == "machine" else None
        if exits:
            responses = exit_responses(exits)
        for status, text in ERROR_RESPONSES.items():
            if status in responses:
                continue
            if status == "422" and not action.params.names:
                continue
            responses[status] = {"description": text, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        return responses


def exit_responses(exits: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A Sails machine's exits as OpenAPI responses: each exit under its status, with its description
    (exits sharing a status are listed together); the output example of each, when declared."""
    responses: dict[str, Any] = {}
    for name, exit_ in exits.items():
        status = str(exit_["statusCode"])
        text = f"{name}: {exit_.get('description') or ('the action succeeded' if name == 'success' else 'exit ' + name)}"
        if name == "error" and not exit_.get("description"):
            text = "error: the action failed (an unexpected exception)"
        if exit_["statusCode"] >= 400:
            schema: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
        else:
            schema = {"type": "object"}
        entry = responses.setdefault(status, {"description": "", "content": {"application/json": {"schema": schema}}})
        entry["description"] = f"{entry['description']}; {text}" if entry["description"] else text
        example = exit_.get("outputExample")
        if example is not None and "example" not in entry["content"]["application/json"]:
            entry["content"]["application/json"]["example"] = json_safe(example)
        entry.setdefault("x-exits", []).append(name)
    return dict(sorted(responses.items()))


def _versions(api: Api, name: str) -> list[str]:
    return [str(version) for version in sorted(api.actions.versions[name], key=version_key)]


def _wire(schema: Any, name: str) -> str:
    field = schema.fields[name]
    return field.data_key or name


def _schema_name(schema: Any) -> str:
    """A component name per schema class and exclusion set (apispec keys components by both)."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema") or cls.__name__
    excluded = sorted(getattr(schema, "exclude", ()) or ()) if not isinstance(schema, type) else []
    if excluded:
        name += "Without" + "".join(re.sub(r"\W", "", item)[:1].upper() + re.sub(r"\W", "", item)[1:]
                                    for item in excluded)
    return name


def _route_note(route: Route) -> str:
    notes = []
    if route.api_version is not None:
        notes.append(f"This route runs version {route.api_version} of the action.")
    if route.match_trailing_path_parts:
        notes.append("The last path parameter takes the rest of the path, slashes included.")
    return " ".join(notes)


class Swagger(Action):
    name = "swagger"
    description = "an OpenAPI 3.0 document of every action and route"
    # NOTE: "3.0.3" is hero.core.schemas.OPENAPI_VERSION, spelled out: boot does not import that module
    output_example = {"openapi": "3.0.3", "info": {"title": "hero", "version": "1.0.0"}, "paths": {}}
    #: The answer is exactly the document, so OpenAPI tools can read it as served.
    metadata = False

    def run(self, data: ActionData) -> Mapping[str, Any]:
        assert data.api is not None
        return build_openapi(data.api)
