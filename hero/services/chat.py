"""Chat rooms shared by every process on one Redis (docs/chat.md): ``api.chat``.

Rooms are a Redis set, members a hash per room (connection id → ``{id, joinedAt, host}``).
A message goes out once over the cluster channel (:mod:`hero.services.cluster`) and each process delivers
it to its own members of the room. A connection that is not on this process is reached through
the cluster (``do(..., connection_id=...)``). Delivery is at-most-once: ``broadcast`` raises when
Redis is unreachable, and nothing is queued.

    api.chat.add("lobby")
    api.chat.add_member(connection.id, "lobby")
    api.chat.broadcast(connection, "lobby", "hello")     # every member, on every process, hears it
"""
from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from typing import Any, cast

import redis

from hero.core.connection import Connection, Connections, now_ms
from hero.core.middleware import Middleware, MiddlewareChain
from hero.errors import ChatError
from hero.runtime.json import JSONError, dumps, loads
from hero.services.cluster import Cluster

log = logging.getLogger(__name__)

Payload = dict[str, Any]


class ChatMiddleware(Middleware):
    """Hooks around chat. ``join``/``leave`` refuse by raising; ``on_say_receive`` runs once on the
    sending process and ``say`` once per receiver; either returning None drops the message."""

    hooks = ("join", "leave", "on_say_receive", "say")

    def join(self, connection: Connection, room: str) -> None:
        """``connection`` is joining ``room``; raise to refuse."""

    def leave(self, connection: Connection, room: str) -> None:
        """``connection`` is leaving ``room``; raise to refuse (ignored when the connection closes)."""

    def on_say_receive(self, connection: Connection | None, room: str, payload: Payload) -> Payload | None:
        """The sender (None for the server) said ``payload``; return it (changed or not), or None to drop it."""
        return payload

    def say(self, connection: Connection, room: str, payload: Payload) -> Payload | None:
        """``payload`` is about to reach ``connection``; return it, or None to keep it from this receiver."""
        return payload


class Chat:
    """Rooms, members and messages (docs/chat.md)."""

    def __init__(self, client: redis.Redis, connections: Connections, cluster: Cluster, *,
                 key: Callable[..., str], server_id: str, max_rooms_per_connection: int = 100) -> None:
        # NOTE: the client decodes responses (str, never bytes); redis-py's stubs only know
        # ``bytes | str``, hence the casts on what it returns below.
        self.client = client
        self.connections = connections
        self.cluster = cluster
        self.server_id = server_id
        self.max_rooms_per_connection = max_rooms_per_connection
        self.middleware: MiddlewareChain[ChatMiddleware] = MiddlewareChain("chat")
        #: Called with ``("said", 1)`` for each message published and ``("delivered", n)`` after
        #: handing one to n members here (metrics).
        self.listeners: builtins.list[Callable[[str, int], None]] = []
        self._key = key
        self._rooms_key = key("chat", "rooms")

    def __repr__(self) -> str:
        return f"Chat({self.server_id!r}, {len(self.middleware)} middleware)"

    def add_middleware(self, middleware: ChatMiddleware) -> ChatMiddleware:
        return self.middleware.add(middleware)

    def members_key(self, room: str) -> str:
        return self._key("chat", "members", room)

    # --- rooms ------------------------------------------------------------------------------------

    def add(self, room: str) -> bool:
        """Create ``room``; ``room exists`` when it does."""
        room = _require_room(room)
        if not self.client.sadd(self._rooms_key, room):
            raise ChatError("room exists")
        return True

    def destroy(self, room: str) -> None:
        """Tell the members ``this room has been deleted``, remove them all, and delete the room."""
        room = _require_room(room)
        if not self.exists(room):
            raise ChatError("room does not exist")
        members = list(cast("list[str]", self.client.hkeys(self.members_key(room))))
        # NOTE: the notice names its receivers, because local members leave before it is delivered.
        self._publish(room, self._payload(None, room, "this room has been deleted"), to=members)
        for connection_id in members:
            if connection_id in self.connections:
                self.evict(connection_id, room)
            else:
                self.cluster.do("chat.evict", [connection_id, room], connection_id=connection_id)
        with self.client.pipeline() as pipe:
            pipe.delete(self.members_key(room))
            pipe.srem(self._rooms_key, room)
            pipe.execute()

    def exists(self, room: str) -> bool:
        return bool(isinstance(room, str) and room and self.client.sismember(self._rooms_key, room))

    def list(self) -> list[str]:
        return sorted(cast("set[str]", self.client.smembers(self._rooms_key)))

    def status(self, room: str) -> dict[str, Any]:
        """``{"room", "members": {id: {"id", "joinedAt"}}, "membersCount"}``."""
        room = _require_room(room)
        if not self.exists(room):
            raise ChatError("room does not exist")
        members: dict[str, Any] = {}
        for connection_id, raw in cast("dict[str, str]", self.client.hgetall(self.members_key(room))).items():
            try:
                details = loads(raw)
            except JSONError:
                details = {}
            members[connection_id] = {"id": connection_id, "joinedAt": details.get("joinedAt")}
        return {"room": room, "members": members, "membersCount": len(members)}

    # --- members ----------------------------------------------------------------------------------

    def add_member(self, connection_id: str, room: str) -> bool:
        """Put a connection (on any process) in ``room``; join middleware may refuse."""
        connection = self.connections.get(connection_id)
        if connection is None:
            return bool(self.cluster.do("chat.add_member", [connection_id, room], connection_id=connection_id,
                                        wait=True))
        room = _require_room(room)
        if not self.exists(room):
            raise ChatError("room does not exist")
        self._check_can_join(connection, room)
        for middleware in self.middleware:
            middleware.join(connection, room)
        # NOTE: checked again after middleware (which may yield), then claimed before the Redis write,
        # so two concurrent roomAdds of one room leave one membership.
        self._check_can_join(connection, room)
        connection.rooms.append(room)
        details = {"id": connection.id, "joinedAt": now_ms(), "host": self.server_id}
        try:
            self.client.hset(self.members_key(room), connection.id, dumps(details))
        except BaseException:
            connection.rooms.remove(room)
            raise
        return True

    def remove_member(self, connection_id: str, room: str) -> bool:
        """Take a connection (on any process) out of ``room``; leave middleware may refuse."""
        connection = self.connections.get(connection_id)
        if connection is None:
            return bool(self.cluster.do("chat.remove_member", [connection_id, room], connection_id=connection_id,
                                        wait=True))
        room = _require_room(room)
        if room not in connection.rooms:
            raise ChatError(f"connection not in this room ({room})")
        for middleware in self.middleware:
            middleware.leave(connection, room)
        if room in connection.rooms:
            connection.rooms.remove(room)
        self.client.hdel(self.members_key(room), connection.id)
        return True

    def _check_can_join(self, connection: Connection, room: str) -> None:
        if room in connection.rooms:
            raise ChatError(f"connection already in this room ({room})")
        if len(connection.rooms) >= self.max_rooms_per_connection:
            raise ChatError(f"too many rooms for this connection ({self.max_rooms_per_connection} max)")

    def evict(self, connection_id: str, room: str) -> bool:
        """The room is going away: a local connection leaves it (middleware told, not asked)."""
        connection = self.connections.get(connection_id)
        if connection is None or room not in connection.rooms:
            return False
        self._run_leave_hooks(connection, room)
        connection.rooms.remove(room)
        return True

    def _run_leave_hooks(self, connection: Connection, room: str) -> None:
        for middleware in self.middleware:
            try:
                middleware.leave(connection, room)
            except Exception as error:  # noqa: BLE001 - the connection goes anyway
                log.info("chat middleware %s refused a forced leave of %s (ignored): %s", middleware.name, room, error)

    def leave_all(self, connection: Connection) -> None:
        """A closing connection leaves every room (the connections' destroy hook)."""
        rooms = list(connection.rooms)
        if not rooms:
            return
        for room in rooms:
            self._run_leave_hooks(connection, room)
        connection.rooms.clear()
        with self.client.pipeline(transaction=False) as pipe:
            for room in rooms:
                pipe.hdel(self.members_key(room), connection.id)
            pipe.execute()

    # --- messages ---------------------------------------------------------------------------------

    def broadcast(self, connection: Connection | None, room: str, message: Any, *,
                  require_membership: bool = True) -> None:
        """Say ``message`` (any JSON value) in ``room`` from ``connection`` (None: the server, ``from "0"``).

        ``require_membership=False`` lets a connection that is not in the room say something there
        (the ``say`` action over HTTP, whose connection lives for one request).
        """
        if not isinstance(room, str) or not room or message is None or message == "":
            raise ChatError("both room and message are required")
        if connection is not None and require_membership and room not in connection.rooms:
            raise ChatError(f"connection not in this room ({room})")
        payload: Payload | None = self._payload(connection, room, message)
        for middleware in self.middleware:
            payload = middleware.on_say_receive(connection, room, payload)  # type: ignore[arg-type]
            if payload is None:
                return
        self._publish(room, payload)  # type: ignore[arg-type]
        for listener in self.listeners:
            listener("said", 1)

    def _payload(self, connection: Connection | None, room: str, message: Any) -> Payload:
        return {"context": "user", "from": connection.id if connection is not None else "0", "room": room,
                "message": message, "sentAt": now_ms()}

    # NOTE: ``builtins.list``, because the ``list`` method above shadows it in the class body.
    def _publish(self, room: str, payload: Payload, *, to: builtins.list[str] | None = None) -> None:
        message: dict[str, Any] = {"messageType": "chat", "room": room, "payload": payload}
        if to is not None:
            message["to"] = to
        self.cluster.publish(message)

    def deliver(self, message: dict[str, Any]) -> None:
        """A chat message from the channel: hand it to this process's members of its room."""
        room, payload = message.get("room"), message.get("payload")
        if not isinstance(room, str) or not isinstance(payload, dict):
            return
        explicit = message.get("to")
        if isinstance(explicit, list):
            found = (self.connections.get(str(connection_id)) for connection_id in explicit)
            receivers = [connection for connection in found if connection is not None]
        else:
            receivers = [connection for connection in self.connections if room in connection.rooms]
        delivered = 0
        for connection in receivers:
            if not connection.can_chat:
                continue
            personal: Payload | None = dict(payload)
            try:
                for middleware in self.middleware:
                    personal = middleware.say(connection, room, personal)  # type: ignore[arg-type]
                    if personal is None:
                        break
                if personal is not None:
                    connection.send_message(personal)
                    delivered += 1
            except Exception:
                log.exception("chat: delivering to %s in %s failed", connection.id, room)
        for listener in self.listeners:
            listener("delivered", delivered)

    def create_starting_rooms(self, rooms: Any) -> None:
        for room in rooms or ():
            self.client.sadd(self._rooms_key, str(room))

    def forget_host(self, host: str) -> int:
        """Drop the members held by a process that died without leaving; returns how many."""
        removed = 0
        for room in self.list():
            held = cast("dict[str, str]", self.client.hgetall(self.members_key(room)))
            stale = [connection_id for connection_id, raw in held.items()
                     if _host_of(raw) == host]
            if stale:
                removed += int(self.client.hdel(self.members_key(room), *stale))
        return removed

    def restore(self, starting_rooms: Any = ()) -> None:
        """Write this process's rooms and members back (Redis came back, perhaps empty)."""
        with self.client.pipeline(transaction=False) as pipe:
            for room in starting_rooms or ():
                pipe.sadd(self._rooms_key, str(room))
            for connection in self.connections:
                for room in connection.rooms:
                    details = {"id": connection.id, "joinedAt": now_ms(), "host": self.server_id}
                    pipe.sadd(self._rooms_key, room)
                    pipe.hsetnx(self.members_key(room), connection.id, dumps(details))
            pipe.execute()


def _host_of(raw: str) -> Any:
    try:
        details = loads(raw)
    except JSONError:
        return None
    return details.get("host") if isinstance(details, dict) else None


def _require_room(room: Any) -> str:
    if not isinstance(room, str) or not room:
        raise ChatError("a room is required")
    return room
