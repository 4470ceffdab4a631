"""The Redis layer: bounded failures against a dead or silent store, and the embedded store."""
from __future__ import annotations

import time

import gevent
import pytest
from gevent.server import StreamServer

from hero.errors import error_message, error_status
from hero.services.cache import Cache
from hero.services.store import STORE_ERRORS, RedisSettings, RedisStore
from tests.support.apps import free_port


def test_describe_names_the_store_without_credentials():
    assert RedisStore(RedisSettings(url=None)).describe() == "embedded in-process store"
    described = RedisStore(RedisSettings(url="redis://:secret@127.0.0.1:6390/3")).describe()
    assert described == "redis at 127.0.0.1:6390/3" and "secret" not in described


def test_embedded_clients_share_one_store():
    store = RedisStore(RedisSettings(url=None))
    store.client.set("k", "v")
    assert store.build().get("k") == "v"
    assert store.raw_client.get("k") == b"v"
    assert RedisStore(RedisSettings(url=None)).client.get("k") is None  # another process's store


@pytest.mark.timeout(10)
def test_a_refused_connection_fails_fast_with_a_503_text():
    store = RedisStore(RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0"))
    cache = Cache(store.client, lock_name="me")
    started = time.monotonic()
    with pytest.raises(STORE_ERRORS) as caught:
        cache.save("k", 1)
    assert time.monotonic() - started < 1.5
    assert error_status(caught.value) == 503
    assert "redis" in error_message(caught.value) and "Traceback" not in error_message(caught.value)
    assert store.ping() is False


@pytest.mark.timeout(15)
def test_a_silent_server_fails_within_the_read_timeout_budget():
    # accepts and reads, never answers: the read timeout and the retry budget must bound the call
    def swallow(sock, address):
        while sock.recv(65536):
            pass

    server = StreamServer(("127.0.0.1", 0), swallow)
    server.start()
    try:
        store = RedisStore(RedisSettings(url=f"redis://127.0.0.1:{server.server_port}/0", socket_timeout=0.5))
        started = time.monotonic()
        with pytest.raises(STORE_ERRORS):
            store.client.get("k")
        elapsed = time.monotonic() - started
        assert elapsed < 3.0, elapsed
        # other greenlets kept running meanwhile (the wait was cooperative)
        ticks = []
        ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.05)) for _ in range(5)])
        with pytest.raises(STORE_ERRORS):
            store.client.get("k")
        ticker.join(1)
        assert len(ticks) == 5
    finally:
        server.stop()


def test_keys_are_prefixed():
    store = RedisStore(RedisSettings(url=None, prefix="app:"))
    assert store.key("cache", "x") == "app:cache:x"
