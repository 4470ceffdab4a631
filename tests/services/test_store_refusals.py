"""Redis saying "not now" (out of memory, read-only, cannot save, loading) is a 503 with hero's own
words on every transport, never Redis's text; a command that is simply wrong stays a 500."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis._parsers.base import BaseParser

from hero.errors import error_message, error_status
from hero.services.store import MISCONF
from tests.support.apps import free_port, start_redis


@pytest.mark.parametrize("reply, text", [
    ("OOM command not allowed when used memory > 'maxmemory'.", "the backing store (redis) is out of memory"),
    ("READONLY You can't write against a read only replica.", "the backing store (redis) is read-only"),
    ("MISCONF Redis is configured to save RDB snapshots, but it's unable to persist to disk.", MISCONF),
    ("LOADING Redis is loading the dataset in memory", "the backing store (redis) is loading its data"),
])
def test_refusals_parsed_as_redis_py_parses_them(reply: str, text: str) -> None:
    error = BaseParser.parse_error(reply)
    assert error_status(error) == 503
    assert error_message(error).startswith(text)
    assert reply.split(" ", 1)[1][:20] not in error_message(error)


def test_a_wrong_command_is_not_a_refusal() -> None:
    error = BaseParser.parse_error("WRONGTYPE Operation against a key holding the wrong kind of value")
    assert error_status(error) == 500


@pytest.fixture
def own_redis() -> Iterator[tuple[str, redis.Redis]]:
    port = free_port()
    server = start_redis(port)
    try:
        yield f"redis://127.0.0.1:{port}/0", redis.Redis(port=port)
    finally:
        server.kill()
        server.wait(timeout=5)


def test_out_of_memory_and_read_only_from_a_real_redis(own_redis, boot_hero) -> None:
    url, admin = own_redis
    api = boot_hero({"web": {"enabled": False}, "socket": {"enabled": False},
                     "tasks": {"workers": 0, "scheduler": False}, "redis": {"url": url}})
    connection = api.connections.add(__import__("hero").Connection(type="test", remote_ip="127.0.0.1", remote_port=1))
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    data = api.processor.process(connection, {"action": "cacheTest", "key": "abc", "value": "hello"})
    assert data.status == 503 and data.response["error"] == "the backing store (redis) is out of memory"
    admin.config_set("maxmemory", "0")
    admin.replicaof("127.0.0.1", free_port())  # a replica of nothing answers writes with READONLY
    data = api.processor.process(connection, {"action": "cacheTest", "key": "abc", "value": "hello"})
    assert data.status == 503
    assert data.response["error"] == "the backing store (redis) is read-only (a replica, or failing over)"
    admin.replicaof("NO", "ONE")
    assert api.processor.process(connection, {"action": "cacheTest", "key": "abc", "value": "hello"}).status == 200
