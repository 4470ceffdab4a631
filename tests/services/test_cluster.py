"""Cluster RPC and cross-process chat (actionhero's core/cluster tests; reliability R4).

Two hero processes share one real Redis here as two Process objects in this interpreter (each
with its own id and clients); tests/integration/test_two_processes.py does it with subprocesses.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import gevent
import pytest
import redis

from hero.errors import (
    ChatError,
    HeroError,
    RpcTimeout,
    StoreUnavailable,
    error_message,
)
from hero.runtime.json import dumps
from hero.spec_helper import SpecHelper
from tests.support.apps import APP_ROOT, free_port, start_redis, wait_for
from tests.support.needs import require_tool

pytestmark = pytest.mark.timeout(60)


def boot(url: str | None, server_id: str, **general) -> SpecHelper:
    overrides = {"redis": {"url": url}, "general": {"id": server_id, "rpc_timeout": 0.5, **general}}
    return SpecHelper.boot(APP_ROOT, overrides=overrides, environ={})


@pytest.fixture(params=["redis", "embedded"])
def helper(request: pytest.FixtureRequest) -> Iterator[SpecHelper]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    booted = boot(url, "solo")
    yield booted
    booted.stop()


@pytest.fixture
def pair(redis_url: str) -> Iterator[tuple[SpecHelper, SpecHelper]]:
    first, second = boot(redis_url, "node-a"), boot(redis_url, "node-b")
    yield first, second
    second.stop()
    first.stop()


# --- one process ----------------------------------------------------------------------------------


def test_do_runs_locally_too(helper: SpecHelper) -> None:
    calls: list[tuple] = []
    helper.api.cluster.register("test.record", lambda *args: calls.append(args) or "done")
    assert helper.api.cluster.do("test.record", ["a", 1]) is None
    wait_for(lambda: calls == [("a", 1)])
    assert helper.api.cluster.do("test.record", ["b"], wait=True) == "done"


def test_targeted_do_reaches_the_local_holder(helper: SpecHelper) -> None:
    helper.api.cluster.register("test.whoami", lambda connection_id: helper.api.connections.get(connection_id).id)
    connection = helper.build_connection()
    holder = helper.api.cluster.do("test.whoami", [connection.id], connection_id=connection.id, wait=True)
    assert holder == connection.id


def test_waited_do_to_a_missing_connection_times_out(helper: SpecHelper) -> None:
    helper.api.cluster.register("test.noop", lambda: None)
    started = time.monotonic()
    with pytest.raises(RpcTimeout, match="^RPC Timeout$"):
        helper.api.cluster.do("test.noop", [], connection_id="no-such-connection", wait=True)
    assert 0.4 < time.monotonic() - started < 3


def test_remote_errors_come_back(helper: SpecHelper) -> None:
    def fail() -> None:
        raise ChatError("nope, not here")

    helper.api.cluster.register("test.fail", fail)
    with pytest.raises(ChatError, match="^nope, not here$"):
        helper.api.cluster.do("test.fail", wait=True)
    connection = helper.build_connection()
    with pytest.raises(HeroError, match="cluster method test.unknown is not registered"):
        helper.api.cluster.do("test.unknown", connection_id=connection.id, wait=True)
    # a broadcast nobody can answer times out rather than taking the first "not registered"
    with pytest.raises(RpcTimeout):
        helper.api.cluster.do("test.unknown", wait=True)


def test_the_channel_names_the_database(helper: SpecHelper) -> None:
    expected = "hero"
    if not helper.api.redis.embedded:
        expected += ":" + helper.api.redis.settings.url.rsplit("/", 1)[1]
    assert helper.api.cluster.channel == expected


def test_messages_not_signed_with_the_cluster_secret_are_dropped(helper: SpecHelper) -> None:
    cluster = helper.api.cluster
    calls: list[str] = []
    cluster.register("test.record", calls.append)
    forged = {"messageType": "do", "method": "test.record", "args": ["forged"], "serverToken": "wrong"}
    helper.api.redis.client.publish(cluster.channel, dumps(forged))
    helper.api.redis.client.publish(cluster.channel, b"not json")
    cluster.do("test.record", ["genuine"])
    wait_for(lambda: calls == ["genuine"])
    gevent.sleep(0.05)
    assert calls == ["genuine"] and cluster.dropped == 2


def test_connections_apply(helper: SpecHelper) -> None:
    connection = helper.build_connection()
    details = helper.api.connections.apply(connection.id)
    assert details["id"] == connection.id and details["type"] == "testServer" and details["canChat"] is True
    helper.api.connections.apply(connection.id, "set", ["session", {"auth": True}])
    assert connection.session == {"auth": True}
    helper.api.connections.apply(connection.id, "send_message", {"message": "hi"})
    assert connection.messages[-1] == {"message": "hi"}
    with pytest.raises(HeroError, match="cannot be set"):
        helper.api.connections.apply(connection.id, "set", ["send", None])


def test_peers_lists_this_process(helper: SpecHelper) -> None:
    assert helper.api.cluster.peers() == ["solo"]
    response = helper.run_action("status")
    assert response["stats"]["peers"] == ["solo"]


# --- two processes on one Redis -----------------------------------------------------------------


def test_do_reaches_every_process_and_targeted_only_the_holder(pair) -> None:
    first, second = pair
    ran: list[str] = []
    for helper in pair:
        helper.api.cluster.register("test.record", lambda tag, api=helper.api: ran.append(f"{api.id}:{tag}"))
    first.api.cluster.do("test.record", ["all"])
    wait_for(lambda: sorted(ran) == ["node-a:all", "node-b:all"])
    held_by_b = second.build_connection()
    first.api.cluster.do("test.record", ["targeted"], connection_id=held_by_b.id)
    wait_for(lambda: "node-b:targeted" in ran)
    gevent.sleep(0.1)
    assert "node-a:targeted" not in ran
    assert first.api.cluster.peers() == ["node-a", "node-b"]


def test_chat_crosses_processes(pair) -> None:
    first, second = pair
    on_a, on_b = first.build_connection(), second.build_connection()
    first.api.chat.add_member(on_a.id, "defaultRoom")
    # NOTE: joined from the other process: the call travels to the holder through the cluster.
    assert first.api.chat.add_member(on_b.id, "defaultRoom") is True
    assert on_b.rooms == ["defaultRoom"]
    assert first.api.chat.status("defaultRoom")["membersCount"] == 2
    second.api.chat.broadcast(on_b, "defaultRoom", "hello from b")
    wait_for(lambda: any(m.get("message") == "hello from b" for m in on_a.messages))
    with pytest.raises(ChatError, match=r"^connection already in this room \(defaultRoom\)$"):
        first.api.chat.add_member(on_b.id, "defaultRoom")
    second.api.connections.remove(on_b)
    assert first.api.chat.status("defaultRoom")["membersCount"] == 1
    details = second.api.connections.apply(on_a.id, "send_message", {"from": "b"})
    assert details["id"] == on_a.id and on_a.messages[-1] == {"from": "b"}


def test_destroying_a_room_evicts_members_on_other_processes(pair) -> None:
    first, second = pair
    first.api.chat.add("shortLived")
    on_b = second.build_connection()
    second.api.chat.add_member(on_b.id, "shortLived")
    first.api.chat.destroy("shortLived")
    wait_for(lambda: on_b.rooms == [])
    wait_for(lambda: any(m.get("message") == "this room has been deleted" for m in on_b.messages))


# --- Redis goes away and comes back (reliability R4) ----------------------------------------------


def test_chat_survives_a_redis_restart() -> None:
    require_tool("redis-server", "this test restarts its own Redis")
    port = free_port()
    server = start_redis(port)
    helper = None
    try:
        helper = boot(f"redis://127.0.0.1:{port}/0", "restarts")
        client = helper.build_connection()
        helper.api.chat.add_member(client.id, "defaultRoom")
        helper.api.chat.broadcast(client, "defaultRoom", "before")
        wait_for(lambda: any(m.get("message") == "before" for m in client.messages))

        server.terminate()
        server.wait(5)
        # NOTE: at-most-once: saying while Redis is down is refused, not queued.
        with pytest.raises(Exception) as refused:
            helper.api.chat.broadcast(client, "defaultRoom", "during")
        assert error_message(refused.value).startswith("the backing store (redis) is unavailable")
        assert isinstance(refused.value, (redis.exceptions.ConnectionError, StoreUnavailable))

        server = start_redis(port)
        deadline = time.monotonic() + 5

        def resumed() -> bool:
            try:
                helper.api.chat.broadcast(client, "defaultRoom", "after")
            except redis.exceptions.RedisError:
                return False
            gevent.sleep(0.2)
            return any(m.get("message") == "after" for m in client.messages)

        while not resumed():
            assert time.monotonic() < deadline, "chat did not resume within 5 s of Redis coming back"
        assert not any(m.get("message") == "during" for m in client.messages)
        # the new Redis is empty: this process wrote its starting rooms and its members back
        assert helper.api.chat.exists("otherRoom")
        assert set(helper.api.chat.status("defaultRoom")["members"]) == {client.id}
    finally:
        if helper is not None:
            helper.stop()
        server.terminate()
        server.wait(5)


def test_members_of_a_crashed_process_are_forgotten(pair) -> None:
    first, _ = pair
    store, chat, cluster = first.api.redis.client, first.api.chat, first.api.cluster
    on_a = first.build_connection()
    chat.add_member(on_a.id, "defaultRoom")
    # a process "ghost" joined, then died without leaving: one stale member, a stale heartbeat
    store.hset(chat.members_key("defaultRoom"), "ghost-connection", dumps({"id": "ghost-connection", "joinedAt": 1,
                                                                            "host": "ghost"}))
    store.zadd(first.api.redis.key("cluster", "peers"), {"ghost": time.time()})
    cluster._heartbeat()
    assert "ghost" in cluster.peers()
    store.zadd(first.api.redis.key("cluster", "peers"), {"ghost": time.time() - 3600})
    cluster._heartbeat()
    assert "ghost" not in cluster.peers()
    assert set(chat.status("defaultRoom")["members"]) == {on_a.id}


def test_a_flushed_redis_gets_this_process_state_back(pair) -> None:
    first, _ = pair
    on_a = first.build_connection()
    first.api.chat.add_member(on_a.id, "otherRoom")
    first.api.redis.client.flushdb()
    first.api.cluster._heartbeat()
    assert first.api.chat.exists("defaultRoom")
    assert set(first.api.chat.status("otherRoom")["members"]) == {on_a.id}
