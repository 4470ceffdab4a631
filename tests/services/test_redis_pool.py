"""The lean connection pool: same bounds as redis-py's blocking pool, and no reply left for the next user."""
from __future__ import annotations

import gevent
import pytest
import redis

from hero.services.store import RedisSettings, RedisStore
from hero.services.redis_pool import LeanBlockingConnectionPool


def _pool(url: str, **kwargs) -> LeanBlockingConnectionPool:
    return LeanBlockingConnectionPool.from_url(url, decode_responses=True, **kwargs)


def test_the_store_builds_its_clients_on_the_lean_pool(redis_url):
    store = RedisStore(RedisSettings(url=redis_url))
    assert isinstance(store.client.connection_pool, LeanBlockingConnectionPool)
    assert store.client.ping() is True


def test_connections_are_reused_and_bounded(redis_url):
    pool = _pool(redis_url, max_connections=2, timeout=0.2)
    client = redis.Redis(connection_pool=pool)
    for _ in range(20):
        client.set("lean:k", "v")
    assert len(pool._connections) == 1
    first, second = pool.get_connection(), pool.get_connection()
    with pytest.raises(redis.exceptions.ConnectionError, match="No connection available"):
        pool.get_connection()
    pool.release(first)
    assert pool.get_connection() is first
    pool.release(first)
    pool.release(second)
    client.delete("lean:k")


def test_a_waiting_greenlet_gets_the_connection_another_releases(redis_url):
    pool = _pool(redis_url, max_connections=1, timeout=2)
    held = pool.get_connection()
    waiter = gevent.spawn(pool.get_connection)
    gevent.sleep(0.05)
    assert not waiter.ready()
    pool.release(held)
    assert waiter.get(timeout=1) is held
    pool.release(held)


def test_a_command_killed_before_its_reply_never_hands_that_reply_to_the_next_command(redis_url):
    pool = _pool(redis_url, max_connections=1, timeout=2)
    client = redis.Redis(connection_pool=pool)
    client.set("lean:slow", "first")
    # BLPOP on an empty list blocks server-side: kill the greenlet while it waits for the reply,
    # then push, so that the killed command's reply would be the next thing on that socket.
    blocked = gevent.spawn(client.blpop, ["lean:empty"], 1)
    gevent.sleep(0.05)
    blocked.kill()
    client.rpush("lean:empty", "late")
    gevent.sleep(0.05)
    assert client.get("lean:slow") == "first"
    client.delete("lean:slow", "lean:empty")


def test_a_timeout_mid_command_disconnects_the_connection(redis_url):
    pool = _pool(redis_url, max_connections=1, timeout=2)
    client = redis.Redis(connection_pool=pool)
    assert client.ping() is True
    connection = pool.get_connection()
    socket_before = connection._sock
    pool.release(connection)
    with pytest.raises(gevent.Timeout):
        with gevent.Timeout(0.05):
            client.blpop(["lean:never"], 1)
    connection = pool.get_connection()
    assert connection._sock is not socket_before  # disconnected, then connected afresh
    pool.release(connection)
    assert client.ping() is True


def test_free_and_in_use_connections_read_the_idle_list(redis_url):
    pool = _pool(redis_url, max_connections=3, timeout=0.2)
    first, second = pool.get_connection(), pool.get_connection()
    pool.release(first)
    assert pool._get_free_connections() == {first}
    assert pool._get_in_use_connections() == {second}
    first.connect()
    pool.disconnect(inuse_connections=False)  # only the idle one
    assert first._sock is None and second._sock is not None
    pool.release(second)
    pool.disconnect()


def test_a_full_pool_is_a_503_through_the_store(redis_url):
    from hero.services.store import unavailable_reason

    store = RedisStore(RedisSettings(url=redis_url, max_connections=1, pool_timeout=0.05))
    pool = store.client.connection_pool
    held = pool.get_connection()
    try:
        with pytest.raises(redis.exceptions.ConnectionError) as refused:
            store.client.get("lean:k")
    finally:
        pool.release(held)
    assert unavailable_reason(refused.value) == "the backing store (redis) is unavailable: ConnectionError"
    assert store.client.ping() is True


def test_redis_pys_maintenance_handling_reads_the_idle_list_and_holds_the_lock(redis_url):
    pool = _pool(redis_url, max_connections=2, timeout=0.2)
    client = redis.Redis(connection_pool=pool)
    idle, busy = pool.get_connection(), pool.get_connection()
    pool.release(idle)
    pool.set_in_maintenance(True)  # what a MOVING notification does
    try:
        assert pool.get_connection() is idle and idle in pool._get_in_use_connections()
        pool.release(idle)
        pool.disconnect_free_connections()  # redis-py's handler: only the idle one
        assert idle._sock is None and busy._sock is not None
    finally:
        pool.set_in_maintenance(False)
    pool.release(busy)
    assert client.ping() is True
