"""A small MCP client on the official Python SDK (PyPI ``mcp``), run by the tests in a process of its
own (the SDK is asyncio; the tests run under gevent): ``python tests/support/mcp_client.py URL
[HEADER=VALUE ...]``. It lists the tools, calls each call in the JSON list read from stdin
(``[{"tool": ..., "arguments": {...}}]``) with a progress callback, and prints one JSON document:
the negotiated protocol version, the tools, and each call's result and progress messages."""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main(url: str, headers: dict[str, str], calls: list[dict[str, Any]]) -> dict[str, Any]:
    async with streamablehttp_client(url, headers=headers) as (read, write, _session_id):
        async with ClientSession(read, write) as session:
            initialized = await session.initialize()
            await session.send_ping()
            listed = await session.list_tools()
            results = []
            for call in calls:
                progress: list[dict[str, Any]] = []

                async def on_progress(value: float, total: float | None, message: str | None,
                                      progress: list[dict[str, Any]] = progress) -> None:
                    progress.append({"progress": value, "message": message})

                result = await session.call_tool(call["tool"], call.get("arguments") or {},
                                                 progress_callback=on_progress)
                results.append({"isError": result.isError, "text": [item.text for item in result.content],
                                "structured": result.structuredContent, "progress": progress})
            return {"protocolVersion": initialized.protocolVersion,
                    "tools": [{"name": tool.name, "description": tool.description, "inputSchema": tool.inputSchema}
                              for tool in listed.tools],
                    "calls": results}


if __name__ == "__main__":
    extra = dict(item.split("=", 1) for item in sys.argv[2:])
    print(json.dumps(asyncio.run(main(sys.argv[1], extra, json.loads(sys.stdin.read() or "[]")))))
