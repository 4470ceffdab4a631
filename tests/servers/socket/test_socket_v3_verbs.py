"""Seed 000's (actionhero v3's) TCP verbs beside today's (docs/tcp.md, Verbs): ``addParam`` /
``viewParam`` / ``deleteParam``, ``roomChange``, a bare ``roomView``, and ``socket.default_room``
with its room-less ``say``."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def tcp(boot_hero) -> Iterator[Callable[..., Callable[[], LineClient]]]:
    """``start(socket={...}) -> connect``: hero's TCP server alone; connect() → a LineClient."""
    clients: list[LineClient] = []

    def start(socket: dict[str, Any] | None = None) -> Callable[[], LineClient]:
        api = boot_hero({"web": {"enabled": False}, "socket": socket or {}})
        address = api.servers["socket"].address

        def connect() -> LineClient:
            client = LineClient(address)
            clients.append(client)
            return client

        return connect

    yield start
    for client in clients:
        client.close()


def test_v3_param_spellings_are_the_param_verbs(tcp) -> None:
    client = tcp()()
    assert client.ask("addParam key=v3Key")["status"] == "OK"
    assert client.ask("addParam value v3 value")["status"] == "OK"
    assert client.ask("viewParam key")["data"] == "v3Key"
    assert client.ask("cacheTest")["cacheTestResults"]["loadResp"]["value"] == "v3 value"
    assert client.ask("deleteParam key")["status"] == "OK"
    assert client.ask("paramsView")["data"] == {"value": "v3 value"}
    assert client.ask("addParam")["error"].startswith("paramAdd needs a key")


def test_room_change_leaves_every_room_and_joins_one(tcp) -> None:
    client = tcp()()
    assert client.ask("roomAdd defaultRoom")["data"] is True
    reply = client.ask("roomChange otherRoom")
    assert reply["status"] == "OK" and reply["data"] is True
    assert client.ask("detailsView")["data"]["rooms"] == ["otherRoom"]
    assert client.ask("roomChange otherRoom")["data"] is True  # already there: stays
    assert client.ask("roomChange noSuchRoom")["error"] == "room does not exist"
    assert client.ask("detailsView")["data"]["rooms"] == ["otherRoom"]  # a refused change leaves nothing
    assert client.ask("roomChange")["error"] == "a room is required"


def test_bare_room_view_lists_this_connections_rooms(tcp) -> None:
    client = tcp()()
    assert client.ask("roomView")["data"] == []
    client.ask("roomAdd defaultRoom")
    client.ask("roomAdd otherRoom")
    rooms = client.ask("roomView")["data"]
    assert [room["room"] for room in rooms] == ["defaultRoom", "otherRoom"]
    assert all(room["membersCount"] == 1 for room in rooms)


def test_no_default_room_unless_configured(tcp) -> None:
    client = tcp()()
    assert client.ask("detailsView")["data"]["rooms"] == []
    assert client.ask("say hello")["error"] == "both room and message are required"


def test_default_room_is_joined_on_connect_and_hears_a_roomless_say(tcp) -> None:
    connect = tcp({"default_room": "lobbyV3"})
    alice, bob = connect(), connect()
    assert alice.ask("detailsView")["data"]["rooms"] == ["lobbyV3"]
    assert bob.ask("detailsView")["data"]["rooms"] == ["lobbyV3"]
    assert alice.ask("say hello everyone")["status"] == "OK"
    heard = bob.read()
    assert heard["context"] == "user" and heard["room"] == "lobbyV3" and heard["message"] == "hello everyone"
    # a first word naming a room the client is in still picks that room
    alice.ask("roomAdd defaultRoom")
    bob.ask("roomAdd defaultRoom")
    alice.ask("say defaultRoom hi there")
    heard = bob.read()
    assert heard["room"] == "defaultRoom" and heard["message"] == "hi there"
    # roomChange takes the client out of the default room too
    assert alice.ask("roomChange otherRoom")["status"] == "OK"
    assert alice.ask("say hello")["error"] == "both room and message are required"


@pytest.mark.parametrize("room", ["", "two words", 5])
def test_a_bad_default_room_stops_the_boot(boot_hero, room: Any) -> None:
    from hero.errors import ConfigError
    with pytest.raises(ConfigError, match="socket.default_room must be a room name"):
        boot_hero({"web": {"enabled": False}, "socket": {"default_room": room}})
