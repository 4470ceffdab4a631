"""asyncapi: an AsyncAPI 3.0 document of the WebSocket and TCP interfaces (docs/websocket.md, docs/tcp.md).

The counterpart of ``swagger``'s OpenAPI document for the persistent transports, derived from the
same action inputs (each action's ``params.marshmallow_schema()`` through apispec's MarshmallowPlugin,
or ``params.describe()`` where there is no schema): per transport, the ``action`` message of every
documented action (its params, and its reply with the action's ``output_example``), the verbs with
their OK and error replies, the room messages a member receives, the welcome, and the error replies.
The document describes the server: it *receives* what clients send, and *sends* replies and chat.
``hero asyncapi`` prints it.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from hero.container import Api
from hero.core.action import Action, ActionData, version_key
from hero.core.params.schema import json_safe

if TYPE_CHECKING:
    from apispec.ext.marshmallow.openapi import OpenAPIConverter

log = logging.getLogger(__name__)

ASYNCAPI_VERSION = "3.0.0"
MESSAGE_ID = {"description": "the client's id for the request, echoed in the reply (any JSON value)"}
ROOM = {"type": "string", "minLength": 1, "description": "a chat room"}

#: Replies and pushes that every action, verb or connection may get, by component name.
COMMON_MESSAGES: dict[str, dict[str, Any]] = {
    "welcome": {
        "summary": "sent once on connect",
        "payload": {"type": "object", "required": ["welcome", "context"], "properties": {
            "welcome": {"type": "string", "description": "general.welcome_message"},
            "context": {"const": "api"}}},
    },
    "chatMessage": {
        "summary": "a message said in a room the connection is in (the sender gets it too)",
        "payload": {"type": "object", "required": ["context", "from", "room", "message", "sentAt"], "properties": {
            "context": {"const": "user"},
            "from": {"type": "string", "description": "the sender's connection id, or \"0\" for the server"},
            "room": ROOM,
            "message": {"description": "any JSON value"},
            "sentAt": {"type": "integer", "description": "milliseconds since the epoch"}}},
    },
    "actionError": {
        "summary": "an action that failed: an unknown action, a missing or invalid input, a refusal, an error",
        "payload": {"type": "object", "required": ["error", "context"], "properties": {
            "error": {"type": "string", "examples": ["unknown action or invalid apiVersion",
                                                     "key is a required parameter for this action"]},
            "context": {"const": "response"}, "messageId": MESSAGE_ID}},
    },
    "verbOk": {
        "summary": "a verb that succeeded",
        "payload": {"type": "object", "required": ["status", "context"], "properties": {
            "status": {"const": "OK"}, "context": {"const": "response"},
            "data": {"description": "the verb's result (see the verb)"}, "messageId": MESSAGE_ID}},
    },
    "verbError": {
        "summary": "a verb that failed, or a message that is not a JSON object, has no event or an unknown one",
        "payload": {"type": "object", "required": ["status", "error", "context"], "properties": {
            "status": {"const": "error"}, "error": {"type": "string", "examples": ["room does not exist"]},
            "context": {"const": "response"}, "messageId": MESSAGE_ID}},
    },
    "goodbye": {
        "summary": "sent before the server closes the connection (quit, or the server stopping)",
        "payload": {"type": "object", "required": ["status", "context"], "properties": {
            "status": {"const": "Bye!"}, "context": {"const": "api"}}},
    },
}

#: WebSocket verbs: event → (summary, extra properties, required extras).
WS_VERBS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "roomAdd": ("join a chat room; data: true", {"room": ROOM}, ["room"]),
    "roomLeave": ("leave a chat room; data: true", {"room": ROOM}, ["room"]),
    "roomView": ("a room the connection is in; data: {room, members, membersCount}; without a room, a list of"
                 " those for every room it is in", {"room": ROOM}, []),
    "say": ("say a message (any JSON value) in a room the connection is in; data: null",
            {"room": ROOM, "message": {"description": "any JSON value"}}, ["room", "message"]),
    "detailsView": ("the connection's details; data: {id, fingerprint, type, remoteIP, ...}", {}, []),
    "documentation": ("every documented action by name and version", {}, []),
    "file": ("a file from public/; the reply holds content, mime, length, lastModified",
             {"file": {"type": "string", "description": "a path in public/"}}, ["file"]),
    "quit": ("close the connection (1000 bye)", {}, []),
}

#: TCP verb lines: verb → (summary, line pattern).
TCP_VERBS: dict[str, tuple[str, str]] = {
    "paramAdd": ("set a sticky param: `paramAdd key=value` or `paramAdd key value`", r"^paramAdd \S.*$"),
    "paramView": ("read a sticky param; data: its value", r"^paramView \S+$"),
    "paramDelete": ("remove a sticky param", r"^paramDelete \S+$"),
    "paramsView": ("every sticky param; data: an object", r"^paramsView$"),
    "paramsDelete": ("remove every sticky param", r"^paramsDelete$"),
    "addParam": ("actionhero v3's spelling of paramAdd", r"^addParam \S.*$"),
    "viewParam": ("actionhero v3's spelling of paramView", r"^viewParam \S+$"),
    "deleteParam": ("actionhero v3's spelling of paramDelete", r"^deleteParam \S+$"),
    "roomAdd": ("join a chat room; data: true", r"^roomAdd \S+$"),
    "roomLeave": ("leave a chat room; data: true", r"^roomLeave \S+$"),
    "roomView": ("a room the connection is in; data: {room, members, membersCount}; bare: a list of those for"
                 " every room it is in", r"^roomView( \S+)?$"),
    "roomChange": ("leave every room the connection is in and join this one; data: true", r"^roomChange \S+$"),
    "say": ("say the rest of the line in a room (with socket.default_room, `say words` speaks there); data: null",
            r"^say \S+( .+)?$"),
    "detailsView": ("the connection's details", r"^detailsView$"),
    "documentation": ("every documented action by name and version", r"^documentation$"),
    "file": ("a file from public/", r"^file \S+$"),
    "quit": ("say goodbye and close (also `exit`)", r"^(quit|exit)$"),
}


def build_asyncapi(api: Api) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``api``'s WebSocket and TCP interfaces, as a dict."""
    config = api.config
    builder = _Inputs()
    messages: dict[str, dict[str, Any]] = {name: dict(message, name=name) for name, message in COMMON_MESSAGES.items()}
    channels: dict[str, dict[str, Any]] = {}
    operations: dict[str, dict[str, Any]] = {}
    servers: dict[str, dict[str, Any]] = {}
    documented = [api.actions.latest[name] for name in sorted(api.actions.versions)
                  if api.actions.latest[name].to_document]
    for action in documented:
        key = _key(action.name)
        versions = [str(version) for version in sorted(api.actions.versions[action.name], key=version_key)]
        params = builder.params(action, versions)
        messages[f"reply_{key}"] = _reply(action)
        messages[f"ws_action_{key}"] = {
            "name": f"action {action.name}", "summary": action.description or action.name,
            "payload": {"type": "object", "required": ["event", "params"], "properties": {
                "event": {"const": "action"}, "params": params, "messageId": MESSAGE_ID}}}
        messages[f"tcp_action_{key}"] = {
            "name": f"action {action.name}", "summary": action.description or action.name,
            "payload": {"type": "object", "required": ["action"], "properties": {
                "action": {"const": action.name}, "params": _without_action(params), "messageId": MESSAGE_ID}}}

    if config.websocket.enabled and config.web.enabled:
        servers["websocket"] = {"host": _host(api, "web"), "protocol": "ws",
                                "pathname": str(config.websocket.path),
                                "description": "JSON text frames on the web port (docs/websocket.md)"}
        for verb, (summary, properties, required) in WS_VERBS.items():
            messages[f"ws_{verb}"] = {"name": verb, "summary": summary, "payload": {
                "type": "object", "required": ["event", *required],
                "properties": {"event": {"const": verb}, **properties, "messageId": MESSAGE_ID}}}
        _transport(channels, operations, "websocket", str(config.websocket.path), "ws", documented, list(WS_VERBS))
    if config.socket.enabled:
        servers["tcp"] = {"host": _host(api, "socket"), "protocol": "tcp",
                          "description": "JSON lines (docs/tcp.md); TLS on the same port with socket.tls"}
        messages["tcp_actionLine"] = {
            "name": "action by name", "contentType": "text/plain",
            "summary": "a line naming an action, run with the connection's sticky params",
            "payload": {"type": "string", "pattern": r"^[^\s{]\S*$"}}
        for verb, (summary, pattern) in TCP_VERBS.items():
            messages[f"tcp_{verb}"] = {"name": verb, "summary": summary, "contentType": "text/plain",
                                       "payload": {"type": "string", "pattern": pattern}}
        _transport(channels, operations, "tcp", None, "tcp", documented, list(TCP_VERBS))

    general = config.general
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": str(general.server_name), "version": str(general.api_version),
                 "description": f"{general.description}: the WebSocket and TCP interfaces"},
        "defaultContentType": "application/json",
        "servers": servers,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": builder.schemas()},
    }


def _transport(channels: dict[str, Any], operations: dict[str, Any], name: str, address: str | None, prefix: str,
               documented: list[Action], verbs: list[str]) -> None:
    """The channel of one transport and its operations (what the server receives and sends on it)."""
    own = [f"{prefix}_action_{_key(action.name)}" for action in documented] + [f"{prefix}_{verb}" for verb in verbs]
    if prefix == "tcp":
        own.append("tcp_actionLine")
    shared = ["welcome", "chatMessage", "actionError", "verbOk", "verbError", "goodbye"]
    replies = [f"reply_{_key(action.name)}" for action in documented]
    channels[name] = {
        "address": address, "servers": [{"$ref": f"#/servers/{name}"}],
        "description": f"one {name} connection: requests from the client and everything the server sends on it",
        "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in own + replies + shared},
    }
    channel = {"$ref": f"#/channels/{name}"}

    def refs(*keys: str) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{name}/messages/{key}"} for key in keys]

    for action in documented:
        key = _key(action.name)
        operations[f"{prefix}_action_{key}"] = {
            "action": "receive", "channel": channel, "summary": f"run {action.name}",
            "messages": refs(f"{prefix}_action_{key}"),
            "reply": {"channel": channel, "messages": refs(f"reply_{key}", "actionError")}}
    if prefix == "tcp":
        operations["tcp_actionLine"] = {
            "action": "receive", "channel": channel, "summary": "run an action named by the line",
            "messages": refs("tcp_actionLine"), "reply": {"channel": channel, "messages": refs(*replies, "actionError")}}
    for verb in verbs:
        operations[f"{prefix}_{verb}"] = {
            "action": "receive", "channel": channel, "summary": verb, "messages": refs(f"{prefix}_{verb}"),
            "reply": {"channel": channel, "messages": refs("goodbye" if verb == "quit" and prefix == "tcp" else "verbOk",
                                                           "verbError")}}
    operations[f"{prefix}_welcome"] = {"action": "send", "channel": channel, "summary": "greet a new connection",
                                       "messages": refs("welcome")}
    operations[f"{prefix}_chat"] = {"action": "send", "channel": channel, "summary": "deliver a room's messages",
                                    "messages": refs("chatMessage")}
    if prefix == "tcp":
        operations["tcp_goodbye"] = {"action": "send", "channel": channel, "summary": "say goodbye before closing",
                                     "messages": refs("goodbye")}


def _host(api: Api, namespace: str) -> str:
    """``host:port`` of a transport: where it listens when it does, else where its config says."""
    url = getattr(api.servers.get(namespace), "url", None)
    if url:
        return str(url).partition("://")[2]
    settings = api.config[namespace]
    return f"{settings.bind}:{settings.port}"


def _reply(action: Action) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": "object", "required": ["context"], "properties": {
        "context": {"const": "response"}, "messageId": MESSAGE_ID}}
    if action.output_example:
        payload["examples"] = [{**json_safe(dict(action.output_example)), "context": "response", "messageId": 1}]
    return {"name": f"{action.name} reply", "summary": f"the response of {action.name}", "payload": payload}


def _without_action(params: dict[str, Any]) -> dict[str, Any]:
    """TCP's JSON line names the action beside ``params``: the same schema without ``action``."""
    properties = {key: value for key, value in params.get("properties", {}).items() if key != "action"}
    required = [name for name in params.get("required", []) if name != "action"]
    trimmed = {**params, "properties": properties}
    if required:
        trimmed["required"] = required
    else:
        trimmed.pop("required", None)
    return trimmed


def _key(name: str) -> str:
    """A component key for an action name (AsyncAPI keys: letters, digits, ``_`` and ``-``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


class _Inputs:
    """Each action's inputs as a JSON schema, through the same converter as the OpenAPI document."""

    def __init__(self) -> None:
        # NOTE: lazy: apispec is loaded when the document is first asked for, not by every server at boot.
        from apispec import APISpec
        from apispec.ext.marshmallow import MarshmallowPlugin

        self.plugin = MarshmallowPlugin()
        # NOTE: OpenAPI 3.1's schemas are JSON Schema, which AsyncAPI's schema format is built on.
        self.spec = APISpec(title="inputs", version="1", openapi_version="3.1.0", plugins=[self.plugin])

    @property
    def converter(self) -> OpenAPIConverter:
        # NOTE: APISpec(plugins=[plugin]) ran init_spec, which sets it; apispec types it Optional.
        return cast("OpenAPIConverter", self.plugin.converter)

    def params(self, action: Action, versions: list[str]) -> dict[str, Any]:
        described = action.params.describe()
        try:
            schema = action.params.marshmallow_schema()
            converted = dict(self.converter.schema2jsonschema(schema)) if schema is not None else {}
        except Exception as error:  # NOTE: one odd schema must not take the whole document down
            log.warning("asyncapi: the inputs of %s could not be converted (%s); documenting their names only",
                        action.name, error)
            converted = {}
        properties: dict[str, Any] = dict(converted.get("properties", {}))
        for name, info in described.items():
            properties.setdefault(name, {})
            if info.get("description") and not properties[name].get("description"):
                properties[name] = {**properties[name], "description": info["description"]}
        required = [name for name, info in described.items() if info.get("required")]
        properties = {"action": {"const": action.name}, **properties}
        if len(versions) > 1:
            properties["apiVersion"] = {"enum": versions, "description": "which version to run (default: the highest)"}
        params: dict[str, Any] = {"type": "object", "properties": _json_safe_schema(properties),
                                  "required": ["action", *required]}
        return params

    def schemas(self) -> dict[str, Any]:
        """Nested schemas the params refer to (``#/components/schemas/...``)."""
        document = self.spec.to_dict()
        return cast("dict[str, Any]", _json_safe_schema(document.get("components", {}).get("schemas", {})))


def _json_safe_schema(value: Any) -> Any:
    """Defaults and examples as JSON (a callable default is left out; sets become lists)."""
    if isinstance(value, Mapping):
        return {key: _json_safe_schema(item) for key, item in value.items() if not callable(item)}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe_schema(item) for item in value]
    return json_safe(value)


class AsyncApi(Action):
    name = "asyncapi"
    description = "an AsyncAPI 3.0 document of the WebSocket and TCP interfaces"
    output_example = {"asyncapi": ASYNCAPI_VERSION, "info": {"title": "hero", "version": "1.0.0"}, "channels": {}}
    #: The answer is exactly the document, so AsyncAPI tools can read it as served.
    metadata = False

    def run(self, data: ActionData) -> Mapping[str, Any]:
        assert data.api is not None
        return build_asyncapi(data.api)
