"""The swagger action: an OpenAPI 3.0 document of every documented action and route."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

from hero import Action, Input
from hero.builtin_actions.swagger import build_openapi, route_template
from hero.core.schemas import input_schema
from hero.spec_helper import SpecHelper

APP_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ROUTES = {
    "get": [
        {"path": "/status", "action": "status"},
        {"path": "/users/:userID(^\\d+$)/v:apiVersion", "action": "cacheTest"},
        {"path": "/nothing", "action": "notAnAction"},
        {"path": "/wild/:path(^.*$)", "action": "sleepTest", "matchTrailingPathParts": True},
        {"path": "/pinned", "action": "versioned", "apiVersion": 1},
        {"path": "/latest", "action": "versioned"},
    ],
    "all": [{"path": "/cache/:key", "action": "cacheTest"}],
    "post": [{"path": "/files", "dir": "public"}, {"path": "/status", "action": "randomNumber"}],
}


class Versioned(Action):
    name = "versioned"
    description = "I have two versions"
    version = 1
    inputs = {"a": Input(required=True)}

    def run(self, data):
        return {"version": 1}


class VersionedTwo(Versioned):
    version = 2
    inputs = {"b": Input(default=3)}


class Hidden(Action):
    name = "hidden"
    to_document = False

    def run(self, data):
        return {}


@pytest.fixture(scope="module")
def helper() -> Iterator[SpecHelper]:
    booted = SpecHelper.boot(APP_ROOT, overrides={"routes": ROUTES, "redis": {"url": None}})
    for action_class in (Versioned, VersionedTwo, Hidden):
        booted.api.actions.add(action_class)
    yield booted
    booted.stop()


@pytest.fixture(scope="module")
def document(helper: SpecHelper) -> dict[str, Any]:
    return build_openapi(helper.api)


def resolve(document: dict[str, Any], node: Any) -> Any:
    if isinstance(node, dict) and "$ref" in node:
        assert node["$ref"].startswith("#/components/schemas/"), node
        return document["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def check_refs(document: dict[str, Any], node: Any) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            resolve(document, node)
        for value in node.values():
            check_refs(document, value)
    elif isinstance(node, list):
        for value in node:
            check_refs(document, value)


def assert_valid_openapi(document: dict[str, Any]) -> None:
    """The structural rules of OpenAPI 3.0 that a generator can get wrong."""
    assert re.fullmatch(r"3\.0\.\d+", document["openapi"])
    assert isinstance(document["info"]["title"], str) and isinstance(document["info"]["version"], str)
    assert document["paths"]
    operation_ids = []
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        operations = {key: value for key, value in item.items() if key in METHODS}
        assert operations, f"{path} has no operations"
        templated = set(re.findall(r"{([^}]+)}", path))
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            assert operation["responses"], where
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d|default", status), where
                assert isinstance(response["description"], str), where
            seen = set()
            for parameter in operation.get("parameters", []):
                assert isinstance(parameter["name"], str) and parameter["name"], where
                assert parameter["in"] in ("query", "path", "header", "cookie"), where
                assert isinstance(parameter["schema"], dict), where
                assert (parameter["name"], parameter["in"]) not in seen, f"{where}: duplicate {parameter['name']}"
                seen.add((parameter["name"], parameter["in"]))
                if parameter["in"] == "path":
                    assert parameter["required"] is True and parameter["name"] in templated, where
            assert templated == {name for name, place in seen if place == "path"}, where
            if "requestBody" in operation:
                assert method not in ("get", "head", "delete"), where
                assert operation["requestBody"]["content"], where
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"
    check_refs(document, document)


def test_the_document_is_valid_openapi_3_0(helper: SpecHelper, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        assert_valid_openapi(build_openapi(helper.api))
    assert not [record for record in caplog.records if "swagger" in record.getMessage()]


def test_info_comes_from_the_general_config(helper: SpecHelper, document: dict[str, Any]) -> None:
    general = helper.api.config.general
    assert document["info"] == {"title": general.server_name, "version": general.api_version,
                                "description": general.description}


def test_every_documented_action_has_simple_routes(helper: SpecHelper, document: dict[str, Any]) -> None:
    for name in ("status", "randomNumber", "cacheTest", "sleepTest", "showDocumentation", "validationTest",
                 "swagger", "versioned"):
        assert set(document["paths"][f"/api/{name}"]) == {"get", "post", "put", "patch", "delete"}, name
        assert document["paths"][f"/api/{name}"]["get"]["tags"] == [name]
    assert "/api/hidden" not in document["paths"]


def test_configured_routes_are_paths(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/api/status"]["get"]["tags"] == ["status"]
    assert paths["/api/status"]["post"]["tags"] == ["randomNumber"]  # the route wins over simple routing
    assert set(paths["/api/cache/{key}"]) == {"get", "post", "put", "patch", "delete"}
    assert "/api/nothing" not in paths and "/api/files" not in paths


def test_route_captures_are_path_parameters(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/users/{userID}/v{apiVersion}"]["get"]
    path_params = {p["name"]: p for p in operation["parameters"] if p["in"] == "path"}
    assert path_params["userID"]["schema"] == {"type": "string", "pattern": "^\\d+$"}
    assert set(path_params) == {"userID", "apiVersion"}
    trailing = document["paths"]["/api/wild/{path}"]["get"]
    assert "rest of the path" in trailing["description"]


def test_a_capture_replaces_the_input_of_the_same_name(document: dict[str, Any]) -> None:
    get = document["paths"]["/api/cache/{key}"]["get"]
    assert [(p["name"], p["in"]) for p in get["parameters"]] == [("key", "path"), ("value", "query")]
    post = document["paths"]["/api/cache/{key}"]["post"]
    body = resolve(document, post["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["properties"]) == {"value"}


def test_inputs_become_query_parameters_and_bodies(document: dict[str, Any]) -> None:
    get = document["paths"]["/api/cacheTest"]["get"]
    assert {(p["name"], p["in"], p["required"]) for p in get["parameters"]} == {
        ("key", "query", True), ("value", "query", True)}
    post = document["paths"]["/api/cacheTest"]["post"]
    assert post["requestBody"]["required"] is True
    assert set(post["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded",
                                                   "multipart/form-data"}
    body = resolve(document, post["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["properties"]) == {"key", "value"} and set(body["required"]) == {"key", "value"}
    sleep = document["paths"]["/api/sleepTest"]["get"]["parameters"]
    assert sleep == [{"in": "query", "name": "sleepDuration", "required": False, "description": "milliseconds (0 to 5000)",
                      "schema": {"default": 1000, "type": "integer", "minimum": 0, "exclusiveMinimum": False,
                                 "maximum": 5000, "exclusiveMaximum": False}}]
    assert "requestBody" not in document["paths"]["/api/randomNumber"]["post"]


def test_responses_carry_the_output_example_and_errors(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/randomNumber"]["get"]["responses"]
    assert "randomNumber" in responses["200"]["content"]["application/json"]["example"]
    assert "422" not in responses  # no inputs, nothing to validate
    cache = document["paths"]["/api/cacheTest"]["get"]["responses"]
    assert resolve(document, cache["422"]["content"]["application/json"]["schema"])["properties"]["error"]


def test_several_versions_offer_an_api_version_parameter(document: dict[str, Any]) -> None:
    parameters = document["paths"]["/api/versioned"]["get"]["parameters"]
    version = next(p for p in parameters if p["name"] == "apiVersion")
    assert version["schema"]["enum"] == ["1", "2", ""]  # empty: the highest, as with no apiVersion
    assert [p["name"] for p in parameters if p["in"] == "query"] == ["apiVersion", "b"]  # the latest's inputs


def test_a_route_pinned_to_a_version_documents_that_version(document: dict[str, Any]) -> None:
    pinned = document["paths"]["/api/pinned"]["get"]
    assert [p["name"] for p in pinned["parameters"]] == ["a"]
    assert "version 1" in pinned["description"]
    latest = document["paths"]["/api/latest"]["get"]
    assert [p["name"] for p in latest["parameters"]] == ["apiVersion", "b"]


def test_inputs_that_cannot_be_converted_are_documented_by_name(helper: SpecHelper, monkeypatch) -> None:
    action = helper.api.actions.find("cacheTest")

    def broken():
        raise TypeError("no converter for this field")

    monkeypatch.setattr(action.params, "marshmallow_schema", broken)
    document = build_openapi(helper.api)
    assert_valid_openapi(document)
    get = document["paths"]["/api/cacheTest"]["get"]
    assert [(p["name"], p["required"]) for p in get["parameters"]] == [("key", True), ("value", True)]
    body = document["paths"]["/api/cacheTest"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"type": "object", "properties": {"key": {}, "value": {}}, "required": ["key", "value"]}


def test_simple_routing_off_leaves_only_routes(helper: SpecHelper) -> None:
    other = SpecHelper.boot(APP_ROOT, overrides={"routes": ROUTES, "redis": {"url": None},
                                                 "web": {"enabled": False, "simple_routing": False}})
    try:
        document = build_openapi(other.api)
    finally:
        other.stop()
    assert "/api/randomNumber" not in document["paths"]
    assert "/api/status" in document["paths"]
    assert_valid_openapi(document)


def test_the_swagger_action_answers_the_document(helper: SpecHelper) -> None:
    response = helper.run_action("swagger")
    assert "error" not in response
    document = {key: value for key, value in response.items()
                if key not in ("messageId", "serverInformation", "requesterInformation")}
    assert_valid_openapi(document)
    assert "/api/swagger" in document["paths"]


@pytest.mark.parametrize(("path", "template", "names"), [
    ("/status", "/status", []),
    ("/users/:id", "/users/{id}", ["id"]),
    ("/v:apiVersion/login", "/v{apiVersion}/login", ["apiVersion"]),
    ("/login/:userID(^(\\d{3}|admin)$)", "/login/{userID}", ["userID"]),
    ("/a/wild/:key/:path(^.*$)", "/a/wild/{key}/{path}", ["key", "path"]),
])
def test_route_template(path: str, template: str, names: list[str]) -> None:
    converted, captures = route_template(path)
    assert converted == template
    assert [capture["name"] for capture in captures] == names


@pytest.mark.timeout(30)
def test_get_api_swagger_over_http(boot_hero) -> None:
    import requests

    api = boot_hero()
    base = api.servers["web"].url.rstrip("/")
    response = requests.get(base + "/api/swagger", timeout=5)
    assert response.status_code == 200
    document = response.json()
    assert "serverInformation" not in document and "requesterInformation" not in document
    assert_valid_openapi(document)
    assert {"/api/status", "/api/random", "/api/randomNumber", "/api/cacheTest"} <= set(document["paths"])
    assert document["paths"]["/api/random"]["get"]["tags"] == ["randomNumber"]  # a route from config.py
    docs = requests.get(base + "/public/docs.html", timeout=5)
    assert docs.status_code == 200 and "/api/swagger" in docs.text


def test_a_streaming_action_answers_text_event_stream(document: dict[str, Any]) -> None:
    success = document["paths"]["/api/countdown"]["get"]["responses"]["200"]
    assert set(success["content"]) == {"text/event-stream", "text/plain"}
    assert "Server-Sent Events" in success["description"]
    assert "text/event-stream" not in document["paths"]["/api/cacheTest"]["get"]["responses"]["200"]["content"]


def test_mcp_tool_schemas_share_the_document_s_source(helper: SpecHelper, document: dict[str, Any]) -> None:
    for name in ("cacheTest", "versioned", "countdown"):
        action = helper.api.actions.latest[name]
        tool = input_schema(action)
        post = document["paths"][f"/api/{name}"]["post"]
        body = resolve(document, post["requestBody"]["content"]["application/json"]["schema"])
        if "anyOf" in body:  # NOTE: without required inputs a JSON array is accepted too (the payload param)
            (body,) = [resolve(document, each) for each in body["anyOf"] if each.get("type") != "array"]
        # NOTE: the promise: the same inputs, types and required-ness. The document adds
        # OpenAPI-only detail (``nullable``, JSON's exact-integer bounds) that MCP's JSON Schema omits.
        assert {name: schema.get("type") for name, schema in tool["properties"].items()} == \
            {name: schema.get("type") for name, schema in body["properties"].items()}
        assert tool.get("required") == body.get("required")
