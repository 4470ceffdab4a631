"""MCP tools (docs/mcp.md, Tools): the actions that opted in (``mcp = True``), listed with an input
schema from their declared inputs (:func:`hero.core.schemas.input_schema`, the OpenAPI document's
source), and called through the whole pipeline on a connection of type ``mcp``.

A call's result is the action's response: as JSON text, and as ``structuredContent``. hero's input
errors and the action's errors are tool errors (``isError``) carrying hero's error text. A streaming
action's chunks are each a progress notification (when the client sent a ``progressToken``) and
together the result, one text item per chunk.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hero.core.action import Action, ActionData
from hero.core.schemas import input_schema
from hero.core.stream import chunk_value
from hero.runtime.json import dumps

#: What an MCP tool name may hold (2025-11-25, SEP-986); anything else in an action's name is ``_``.
_NOT_IN_TOOL_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def tool_name(action: Action) -> str:
    return _NOT_IN_TOOL_NAME.sub("_", action.name)[:128]


def tools(actions: Any) -> dict[str, Action]:
    """The MCP tools of an action registry, by tool name: the highest version of each opted-in action."""
    found: dict[str, Action] = {}
    for name in sorted(actions.latest):
        action = actions.latest[name]
        if action.mcp_tool:
            found.setdefault(tool_name(action), action)
    return found


def describe(name: str, action: Action) -> dict[str, Any]:
    """A ``tools/list`` entry."""
    return {"name": name, "description": action.mcp_description, "inputSchema": input_schema(action)}


def text(value: Any) -> str:
    """A value as the text of a content item: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else dumps(value).decode()


def error_result(message: str) -> dict[str, Any]:
    """A tool error: the call reached the tool, which failed (hero's error text)."""
    return {"content": [{"type": "text", "text": message}], "isError": True}


def response_result(data: ActionData) -> dict[str, Any]:
    """The result of a finished (not streaming) call: its error as a tool error, else its response."""
    response = data.response
    if "error" in response:
        return error_result(str(response["error"]))
    plain = dict(response)
    return {"content": [{"type": "text", "text": text(plain)}], "structuredContent": plain, "isError": False}


def stream_result(chunks: list[Any], error: str | None) -> dict[str, Any]:
    """The result of a streaming call: every chunk (a text item each, and ``structuredContent.chunks``),
    or a tool error when the action failed mid-stream (the chunks before it stay listed)."""
    values = [chunk_value(chunk) for chunk in chunks]
    content = [{"type": "text", "text": text(value)} for value in values]
    if error is not None:
        return {"content": [*content, {"type": "text", "text": error}], "isError": True}
    return {"content": content, "structuredContent": {"chunks": values}, "isError": False}


def progress(token: Any, count: int, chunk: Any) -> dict[str, Any]:
    """The ``notifications/progress`` of a streaming call's ``count``-th chunk."""
    return {"jsonrpc": "2.0", "method": "notifications/progress",
            "params": {"progressToken": token, "progress": count, "message": text(chunk_value(chunk))}}


def call_arguments(params: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None, Any]:
    """A ``tools/call``'s tool name, arguments (None when not an object) and progress token."""
    name = params.get("name")
    arguments = params.get("arguments")
    if arguments is None:
        arguments = {}
    meta = params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, Mapping) else None
    return (name if isinstance(name, str) else None,
            dict(arguments) if isinstance(arguments, Mapping) else None, token)
