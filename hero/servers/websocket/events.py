"""What a WebSocket client's messages mean (docs/websocket.md): actions, verbs, and the replies.

    {"event": "action", "params": {"action": "randomNumber"}, "messageId": 1}  → the action's reply
    {"event": "roomAdd", "room": "lobby", "messageId": 2}                     → {"status": "OK", ...}

Actions run each in its own greenlet (replies in completion order; the processor refuses the one
past ``simultaneous_actions``). Verbs run in the reader, in order. A message that is not a JSON
object, or names no known event, gets an error reply and the connection stays.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from gevent.event import Event

from hero.core.connection import Connection
from hero.errors import HeroError, VerbNotAllowed, error_message, error_status
from hero.runtime import json as jsonutil
from hero.servers.base import Server
from hero.servers.verbs import QUIT_VERBS, run_verb

if TYPE_CHECKING:
    from hero.servers.websocket.session import WebSocketSession

log = logging.getLogger(__name__)

#: The verbs a WebSocket client may send as events (no param verbs: params are not sticky here).
WEBSOCKET_VERBS = ("quit", "exit", "documentation", "roomAdd", "roomLeave", "roomView", "detailsView", "say", "file")


def verb_args(verb: str, message: Mapping[str, Any]) -> list[Any]:
    """The arguments of a verb event, in the order :func:`hero.servers.verbs.run_verb` takes them."""
    if verb in ("roomAdd", "roomLeave", "roomView"):
        return [message.get("room")]
    if verb == "say":
        return [message.get("room"), message.get("message")]
    if verb == "file":
        return [message.get("file")]
    return []


class MessageRouter:
    """Turns one connection's messages into actions and verbs, and their outcomes into replies."""

    def __init__(self, endpoint: Server, connection: Connection, session: WebSocketSession) -> None:
        # NOTE: typed by the base Server (the endpoint imports this module); the router uses only
        # its ``api``, ``verbs`` and ``process``.
        self.endpoint = endpoint
        self.connection = connection
        self.session = session
        self.max_json_depth: int = endpoint.api.config.general.max_json_depth
        # NOTE: the processor's own ``process`` when the endpoint only forwards to it (one call less
        # per action), else the endpoint's (a subclass, or a test, may have replaced it).
        forwards = type(endpoint).process is Server.process and "process" not in vars(endpoint)
        self._process: Callable[..., Any] = endpoint.api.processor.process if forwards else endpoint.process
        #: This connection's running actions (the endpoint waits for them on stop).
        self.running = 0
        self._idle = Event()
        self._idle.set()

    def __repr__(self) -> str:
        return f"<MessageRouter {self.connection.id} {self.running} actions running>"

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no action of this connection runs; False when ``timeout`` passed first."""
        return bool(self._idle.wait(timeout))

    def handle(self, raw: bytes, text: bool = True) -> None:
        """One whole message from the client (binary frames are read as JSON too)."""
        try:
            # NOTE: jsonutil.loads written out for a document under the depth cap (one call fewer);
            # it is still what raises, with its client-readable reason, for anything orjson refuses.
            try:
                if raw.count(b"[") + raw.count(b"{") > self.max_json_depth:
                    raise ValueError
                message = orjson.loads(raw)
            except ValueError:
                message = jsonutil.loads(raw, max_depth=self.max_json_depth)
        except jsonutil.JSONError as error:
            self.reply_error(str(error), str(uuid.uuid4()))
            return
        if not isinstance(message, dict):
            self.reply_error(f"a message must be a JSON object, not {_json_type(message)}", str(uuid.uuid4()))
            return
        message_id = message.get("messageId")
        if message_id is None:
            message_id = self.message_id(message)
        event = message.get("event")
        if event == "action":
            self.start_action(message, message_id)
        elif event in QUIT_VERBS and event in self.endpoint.verbs:
            self.session.close(1000, "bye", flush=True)
        elif isinstance(event, str) and event in self.endpoint.verbs:
            self.run_verb(event, message, message_id)
        elif event is None:
            self.reply_error('a message needs an "event" (action, roomAdd, say, ...)', message_id)
        else:
            self.reply_error(VerbNotAllowed(str(event)[:100]).message, message_id)

    @staticmethod
    def message_id(message: Mapping[str, Any]) -> Any:
        """The client's ``messageId`` (or ``params.messageId``), else a new uuid."""
        message_id = message.get("messageId")
        params = message.get("params")
        if message_id is None and isinstance(params, dict):
            message_id = params.get("messageId")
        return str(uuid.uuid4()) if message_id is None else message_id

    # --- actions ---------------------------------------------------------------------------------

    def start_action(self, message: Mapping[str, Any], message_id: Any) -> None:
        params = message.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self.reply_error(f"params must be a JSON object, not {_json_type(params)}", message_id)
            return
        self.running += 1
        self._idle.clear()
        # NOTE: params are not sticky on WebSockets: each action carries its own, the dict just parsed
        # from this message (nothing else holds it, so it is not copied).
        self.session.run_in_reader(self._run_action, params, message_id)

    def _run_action(self, params: dict[str, Any], message_id: Any) -> None:
        try:
            data = self._process(self.connection, params, message_id=message_id)
            if not data.to_render:
                return  # NOTE: actionhero's toRender = false: the action sent what it wanted to
            if data.stream is not None:
                self._stream(data.stream, message_id)
                return
            self.session.push({**data.response, "context": "response", "messageId": message_id})
        except Exception:  # the processor never raises; this guards the reply itself
            log.exception("websocket %s: replying to an action failed", self.connection.id)
        finally:
            self.running -= 1
            if not self.running:
                self._idle.set()

    def _stream(self, stream: Any, message_id: Any) -> None:
        """A streaming action's chunks, then its ``streamEnd`` reply (docs/websocket.md, Streaming)."""
        # NOTE: lazy: an idle server never streams; its first streaming action loads this (issue 17: idle memory)
        from hero.servers.streaming import push_stream

        session, api = self.session, self.endpoint.api
        final = push_stream(stream, message_id, session.push, alive=lambda: session.close_code is None,
                            backlogged=session.backlogged, tick=api.config.general.stream_keepalive_interval,
                            expose_errors=api.processor.expose_errors)
        if final is not None:
            session.push(final)

    # --- verbs -------------------------------------------------------------------------------------

    def run_verb(self, verb: str, message: Mapping[str, Any], message_id: Any) -> None:
        try:
            data = run_verb(self.endpoint.api, self.connection, verb, verb_args(verb, message),
                            allowed=self.endpoint.verbs)
        except Exception as error:
            if not isinstance(error, HeroError) and error_status(error) >= 500:
                log.exception("websocket %s: verb %s failed", self.connection.id, verb)
            text = error_message(error)
            if verb == "file":
                self.session.push({"error": text, "content": None, "mime": "text/html", "length": len(text),
                                   "context": "response", "messageId": message_id})
            else:
                self.reply_error(text, message_id)
            return
        if verb == "file" and isinstance(data, Mapping):
            self.session.push({**data, "context": "response", "messageId": message_id})
            return
        self.session.push({"status": "OK", "context": "response", "data": data, "messageId": message_id})

    def reply_error(self, text: str, message_id: Any) -> None:
        self.session.push({"status": "error", "error": text, "context": "response", "messageId": message_id})


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
