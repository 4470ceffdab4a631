"""say: tell a chat room something from any connection (docs/chat.md, The say action).

Persistent connections (WebSocket, TCP) must be in the room, as with their ``say`` verb; an HTTP
request says from outside it (its connection lives for one request). The message goes through chat
middleware and reaches the room's members on every process.
"""
from __future__ import annotations

from typing import Any

from hero.core.action import Action, ActionData
from hero.core.params.inputs import Input
from hero.errors import ChatError


class Say(Action):
    name = "say"
    description = "I say a message (any JSON value) in a chat room, to its members on every process"
    inputs = {
        "room": Input(required=True, description="the room to say it in"),
        "message": Input(required=True, description="what to say: any JSON value"),
    }
    output_example = {"said": True, "room": "defaultRoom"}

    def run(self, data: ActionData) -> dict[str, Any]:
        room = data.params["room"]
        if not isinstance(room, str):
            raise ChatError("room must be a string")
        if not data.api.chat.exists(room):
            raise ChatError("room does not exist")
        connection = data.connection
        data.api.chat.broadcast(connection, room, data.params["message"], require_membership=connection.can_chat)
        return {"said": True, "room": room}
