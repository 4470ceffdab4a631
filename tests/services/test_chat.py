"""Chat rooms (PROTOCOL §5, actionhero's core/chatRoom tests), on real Redis and the embedded store."""
from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest

from hero.errors import ChatError
from hero.services.chat import ChatMiddleware
from hero.spec_helper import SpecHelper
from tests.support.apps import APP_ROOT, wait_for

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=["redis", "embedded"])
def helper(request: pytest.FixtureRequest) -> Iterator[SpecHelper]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    booted = SpecHelper.boot(APP_ROOT, overrides={"redis": {"url": url}}, environ={})
    yield booted
    booted.stop()


def chat_messages(connection) -> list[dict]:
    return [message for message in connection.messages if message.get("context") == "user"]


def test_starting_rooms_exist(helper: SpecHelper) -> None:
    chat = helper.api.chat
    assert chat.list() == ["defaultRoom", "otherRoom"]
    assert chat.exists("defaultRoom") is True
    assert chat.exists("nope") is False


def test_add_and_destroy_rooms(helper: SpecHelper) -> None:
    chat = helper.api.chat
    assert chat.add("newRoom") is True
    with pytest.raises(ChatError, match="^room exists$"):
        chat.add("newRoom")
    with pytest.raises(ChatError, match="^a room is required$"):
        chat.add("")
    assert len(chat.list()) == 3
    chat.destroy("newRoom")
    assert not chat.exists("newRoom")
    with pytest.raises(ChatError, match="^room does not exist$"):
        chat.destroy("newRoom")


def test_members_join_leave_and_status(helper: SpecHelper) -> None:
    chat = helper.api.chat
    first, second = helper.build_connection(), helper.build_connection()
    assert chat.add_member(first.id, "defaultRoom") is True
    assert first.rooms == ["defaultRoom"]
    with pytest.raises(ChatError, match=r"^connection already in this room \(defaultRoom\)$"):
        chat.add_member(first.id, "defaultRoom")
    with pytest.raises(ChatError, match="^room does not exist$"):
        chat.add_member(first.id, "noSuchRoom")
    with pytest.raises(ChatError, match=r"^connection not in this room \(defaultRoom\)$"):
        chat.remove_member(second.id, "defaultRoom")
    gevent.sleep(0.002)
    chat.add_member(second.id, "defaultRoom")
    status = chat.status("defaultRoom")
    assert status["room"] == "defaultRoom" and status["membersCount"] == 2
    assert set(status["members"]) == {first.id, second.id}
    assert status["members"][first.id] == {"id": first.id, "joinedAt": status["members"][first.id]["joinedAt"]}
    assert status["members"][first.id]["joinedAt"] < status["members"][second.id]["joinedAt"]
    assert chat.remove_member(first.id, "defaultRoom") is True
    assert first.rooms == [] and chat.status("defaultRoom")["membersCount"] == 1
    with pytest.raises(ChatError, match="^a room is required$"):
        chat.status("")
    with pytest.raises(ChatError, match="^room does not exist$"):
        chat.status("noSuchRoom")


def test_say_reaches_every_member_and_the_sender(helper: SpecHelper) -> None:
    clients = [helper.build_connection() for _ in range(3)]
    outsider = helper.build_connection()
    helper.run_verb(outsider, "roomAdd", "otherRoom")
    for client in clients:
        helper.run_verb(client, "roomAdd", "defaultRoom")
    assert helper.run_verb(clients[0], "roomView", "defaultRoom")["membersCount"] == 3
    assert helper.run_verb(clients[0], "say", "defaultRoom", "Hi from client 1") is None
    wait_for(lambda: all(chat_messages(client) for client in clients))
    for client in clients:
        (message,) = chat_messages(client)
        assert message["message"] == "Hi from client 1"
        assert message["room"] == "defaultRoom" and message["from"] == clients[0].id
        assert message["context"] == "user" and isinstance(message["sentAt"], int)
    gevent.sleep(0.05)
    assert chat_messages(outsider) == []


def test_say_carries_any_json_value(helper: SpecHelper) -> None:
    client = helper.build_connection()
    helper.run_verb(client, "roomAdd", "defaultRoom")
    helper.run_verb(client, "say", "defaultRoom", {"nested": [1, 2, {"a": True}]})
    wait_for(lambda: chat_messages(client))
    assert chat_messages(client)[0]["message"] == {"nested": [1, 2, {"a": True}]}


def test_say_errors(helper: SpecHelper) -> None:
    client = helper.build_connection()
    with pytest.raises(ChatError, match=r"^connection not in this room \(defaultRoom\)$"):
        helper.run_verb(client, "say", "defaultRoom", "hello")
    helper.run_verb(client, "roomAdd", "defaultRoom")
    with pytest.raises(ChatError, match="^both room and message are required$"):
        helper.run_verb(client, "say", "defaultRoom", "")
    with pytest.raises(ChatError, match="^both room and message are required$"):
        helper.run_verb(client, "say", "defaultRoom")
    with pytest.raises(ChatError, match=r"^connection not in this room \(notARoom\)$"):
        helper.run_verb(client, "roomView", "notARoom")


def test_server_broadcast_comes_from_zero(helper: SpecHelper) -> None:
    client = helper.build_connection()
    helper.run_verb(client, "roomAdd", "defaultRoom")
    helper.api.chat.broadcast(None, "defaultRoom", "from the server")
    wait_for(lambda: chat_messages(client))
    assert chat_messages(client)[0]["from"] == "0"


def test_destroy_tells_and_removes_members(helper: SpecHelper) -> None:
    chat = helper.api.chat
    chat.add("doomed")
    client = helper.build_connection()
    chat.add_member(client.id, "doomed")
    chat.destroy("doomed")
    assert client.rooms == []
    wait_for(lambda: chat_messages(client))
    message = chat_messages(client)[0]
    assert message["message"] == "this room has been deleted" and message["from"] == "0"
    assert not chat.exists("doomed")


def test_closing_a_connection_leaves_its_rooms(helper: SpecHelper) -> None:
    chat = helper.api.chat
    client, other = helper.build_connection(), helper.build_connection()
    for room in ("defaultRoom", "otherRoom"):
        chat.add_member(client.id, room)
    chat.add_member(other.id, "defaultRoom")
    helper.api.connections.remove(client)
    assert chat.status("defaultRoom")["membersCount"] == 1
    assert chat.status("otherRoom")["membersCount"] == 0


def test_rooms_per_connection_are_capped(helper: SpecHelper) -> None:
    chat = helper.api.chat
    chat.max_rooms_per_connection = 2
    client = helper.build_connection()
    chat.add("third")
    chat.add_member(client.id, "defaultRoom")
    chat.add_member(client.id, "otherRoom")
    with pytest.raises(ChatError, match=r"too many rooms for this connection \(2 max\)"):
        chat.add_member(client.id, "third")


def test_concurrent_room_adds_leave_one_membership(helper: SpecHelper) -> None:
    client = helper.build_connection()
    jobs = [gevent.spawn(helper.api.chat.add_member, client.id, "defaultRoom") for _ in range(5)]
    gevent.joinall(jobs)
    assert sum(1 for job in jobs if job.successful()) == 1
    assert client.rooms == ["defaultRoom"]
    assert helper.api.chat.status("defaultRoom")["membersCount"] == 1


# --- middleware ---------------------------------------------------------------------------------


def test_join_and_leave_middleware_can_refuse(helper: SpecHelper) -> None:
    def join(connection, room):
        if room == "otherRoom":
            raise ChatError("joining rooms blocked")

    def leave(connection, room):
        raise ChatError("Hotel California")

    helper.api.chat.add_middleware(ChatMiddleware("gate", join=join, leave=leave))
    client = helper.build_connection()
    with pytest.raises(ChatError, match="^joining rooms blocked$"):
        helper.run_verb(client, "roomAdd", "otherRoom")
    helper.run_verb(client, "roomAdd", "defaultRoom")
    with pytest.raises(ChatError, match="^Hotel California$"):
        helper.run_verb(client, "roomLeave", "defaultRoom")
    assert client.rooms == ["defaultRoom"]
    # a closing connection leaves anyway
    helper.api.connections.remove(client)
    assert helper.api.chat.status("defaultRoom")["membersCount"] == 0


def test_join_middleware_can_announce(helper: SpecHelper) -> None:
    chat = helper.api.chat
    chat.add_middleware(ChatMiddleware("announce", join=lambda connection, room: chat.broadcast(
        None, room, f"I have entered the room: {connection.id}")))
    first, second = helper.build_connection(), helper.build_connection()
    chat.add_member(first.id, "defaultRoom")
    chat.add_member(second.id, "defaultRoom")
    wait_for(lambda: any(second.id in str(m["message"]) for m in chat_messages(first)))


def test_on_say_receive_runs_once_and_say_runs_per_receiver(helper: SpecHelper) -> None:
    seen: list[str] = []

    def on_say_receive(connection, room, payload):
        seen.append(payload["message"])
        return {**payload, "message": payload["message"] + " (checked)"}

    def say(connection, room, payload):
        return {**payload, "message": f"{payload['message']} for {connection.id}"}

    chat = helper.api.chat
    chat.add_middleware(ChatMiddleware("first", priority=10, on_say_receive=on_say_receive))
    chat.add_middleware(ChatMiddleware("second", priority=20, say=say))
    clients = [helper.build_connection() for _ in range(2)]
    for client in clients:
        chat.add_member(client.id, "defaultRoom")
    chat.broadcast(clients[0], "defaultRoom", "hi")
    wait_for(lambda: all(chat_messages(client) for client in clients))
    assert seen == ["hi"]
    for client in clients:
        assert chat_messages(client)[0]["message"] == f"hi (checked) for {client.id}"


def test_say_middleware_returning_none_silences_one_receiver(helper: SpecHelper) -> None:
    chat = helper.api.chat
    quiet, loud = helper.build_connection(), helper.build_connection()
    chat.add_middleware(ChatMiddleware("mute", say=lambda c, room, p: None if c is quiet else p))
    for client in (quiet, loud):
        chat.add_member(client.id, "defaultRoom")
    chat.broadcast(loud, "defaultRoom", "hello")
    wait_for(lambda: chat_messages(loud))
    gevent.sleep(0.05)
    assert chat_messages(quiet) == []


def test_on_say_receive_returning_none_silences_everyone(helper: SpecHelper) -> None:
    chat = helper.api.chat
    chat.add_middleware(ChatMiddleware("drop", on_say_receive=lambda c, room, p: None))
    client = helper.build_connection()
    chat.add_member(client.id, "defaultRoom")
    chat.broadcast(client, "defaultRoom", "hello")
    gevent.sleep(0.1)
    assert chat_messages(client) == []


def test_create_chat_room_action(helper: SpecHelper) -> None:
    assert helper.run_action("createChatRoom", {"name": "lobby"})["didCreate"] is True
    assert helper.run_action("createChatRoom", {"name": "lobby"})["didCreate"] is False
    assert helper.run_action("createChatRoom")["error"] == "name is a required parameter for this action"
    assert helper.api.chat.exists("lobby")
