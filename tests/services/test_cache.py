"""The cache, black-box, on the real Redis and on the embedded store (actionhero.md §4.4 core/cache.ts).

Two Cache objects with different lock names on one store stand for two processes.
"""
from __future__ import annotations

import time

import gevent
import orjson
import pytest

from hero.errors import ObjectLocked, ObjectNotFound
from hero.services.cache import Cache

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def cache(store) -> Cache:
    return Cache(store.client, lock_name="process-a", commands=store.commands)


@pytest.fixture
def other(store) -> Cache:
    """The same cache as seen from another process."""
    return Cache(store.client, lock_name="process-b", commands=store.commands)


# --- values -----------------------------------------------------------------------------


def test_save_load_keys_and_destroy(cache):
    assert cache.save("testKey", "abc123") is True
    loaded = cache.load("testKey")
    assert loaded["key"] == "testKey"
    assert loaded["value"] == "abc123"
    assert abs(loaded["createdAt"] - time.time() * 1000) < 60_000

    cache.save("otherKey", 1)
    assert cache.keys() == ["hero:cache:otherKey", "hero:cache:testKey"]
    assert cache.keys("test") == ["hero:cache:testKey"]

    assert cache.destroy("testKey") is True
    assert cache.destroy("testKey") is False
    with pytest.raises(ObjectNotFound, match="Object not found"):
        cache.load("testKey")


def test_load_of_a_missing_key_is_object_not_found(cache):
    with pytest.raises(ObjectNotFound) as raised:
        cache.load("neverSaved")
    assert raised.value.message == "Object not found"
    assert raised.value.status == 404


def test_save_overwrites(cache):
    cache.save("k", "first")
    cache.save("k", "second")
    assert cache.load("k")["value"] == "second"


def test_a_short_ttl_expires(cache):
    cache.save("shortLived", "abc123", 10)
    time.sleep(0.03)
    with pytest.raises(ObjectNotFound):
        cache.load("shortLived")


@pytest.mark.parametrize("ttl", [-1, 0])
def test_a_ttl_of_zero_or_less_never_loads(cache, store, ttl):
    assert cache.save("gone", "abc123", ttl) is True
    assert store.client.exists("hero:cache:gone") == 0
    with pytest.raises(ObjectNotFound):
        cache.load("gone")


def test_no_ttl_means_the_key_persists(cache, store):
    cache.save("forever", "abc123")
    assert store.client.pttl("hero:cache:forever") == -1
    assert cache.load("forever")["value"] == "abc123"


def test_load_keeps_the_remaining_ttl(cache, store):
    cache.save("k", "abc123", 200)
    time.sleep(0.1)
    assert cache.load("k")["value"] == "abc123"
    assert 0 < store.client.pttl("hero:cache:k") <= 100
    time.sleep(0.15)
    with pytest.raises(ObjectNotFound):
        cache.load("k")


def test_load_with_a_ttl_slides_the_expiry(cache, store):
    cache.save("sliding", "abc123", 200)
    for _ in range(3):  # 300 ms in all: longer than the first ttl
        time.sleep(0.1)
        assert cache.load("sliding", ttl_ms=200)["value"] == "abc123"
        assert store.client.pttl("hero:cache:sliding") > 100
    assert cache.load("sliding")["value"] == "abc123"


def test_load_can_give_a_persistent_key_a_ttl(cache, store):
    cache.save("k", "v")
    cache.load("k", ttl_ms=5_000)
    assert 0 < store.client.pttl("hero:cache:k") <= 5_000


@pytest.mark.parametrize(
    "value",
    [
        [1, 2, 3, "four"],
        {"thing": "stuff", "nested": {"list": [1, None, True], "float": 1.5}},
        "ünïcode ✓",
        0,
        None,
        False,
    ],
)
def test_json_values_round_trip(cache, value):
    cache.save("value", value)
    assert cache.load("value")["value"] == value


def test_an_unserialisable_value_is_a_type_error_naming_the_key(cache):
    with pytest.raises(TypeError, match="cache value for 'bad' cannot be stored as JSON"):
        cache.save("bad", {"socket": object()})
    with pytest.raises(ObjectNotFound):
        cache.load("bad")


def test_a_value_written_by_something_else_still_loads(cache, store):
    store.client.set("hero:cache:foreign", "not json")
    assert cache.load("foreign")["value"] == "not json"


def test_size_and_clear(cache):
    assert cache.size() == 0
    cache.save("a", 1)
    cache.save("b", 2)
    cache.push("list", "x")
    cache.lock("a")
    assert cache.size() == 3
    assert cache.clear() == ["hero:cache:a", "hero:cache:b", "hero:cache:list"]
    assert cache.size() == 0
    assert cache.locks() == ["hero:lock:a"], "clear() leaves locks alone"


def test_keys_treats_glob_characters_in_the_prefix_literally(cache):
    cache.save("a*1", 1)
    cache.save("ab", 2)
    assert cache.keys("a*") == ["hero:cache:a*1"]
    assert cache.keys("a") == ["hero:cache:a*1", "hero:cache:ab"]


def test_keys_finds_everything_across_many_scan_pages(store):
    cache = Cache(store.client, lock_name="p", scan_count=10, commands=store.commands)
    pipe = store.client.pipeline()
    for n in range(250):
        pipe.set(f"hero:cache:k{n}", orjson.dumps({"value": n}).decode())
    pipe.execute()
    assert cache.size() == 250
    assert len(cache.clear()) == 250
    assert cache.size() == 0


def test_prefixes_keep_caches_apart(store):
    first = Cache(store.client, lock_name="p", prefix="one:", commands=store.commands)
    second = Cache(store.client, lock_name="p", prefix="two:", commands=store.commands)
    first.save("k", 1)
    assert second.keys() == []
    with pytest.raises(ObjectNotFound):
        second.load("k")


# --- lists ------------------------------------------------------------------------------


@pytest.mark.parametrize("item", ["abc123", [1, 2, 3], {"a": 1, "b": [2]}])
def test_push_and_pop(cache, item):
    assert cache.push("queue", item) is True
    assert cache.list_length("queue") == 1
    assert cache.pop("queue") == item
    assert cache.list_length("queue") == 0


def test_lists_are_first_in_first_out(cache):
    for n in range(3):
        cache.push("queue", n)
    assert [cache.pop("queue") for _ in range(4)] == [0, 1, 2, None]


def test_pop_of_an_empty_or_missing_list_is_none(cache):
    assert cache.pop("nothing") is None
    assert cache.list_length("nothing") == 0


def test_push_of_an_unserialisable_item_is_a_type_error(cache):
    with pytest.raises(TypeError, match="'queue'"):
        cache.push("queue", {1, 2})
    assert cache.list_length("queue") == 0


# --- locks ------------------------------------------------------------------------------


def test_lock_check_and_unlock(cache, other):
    assert cache.check_lock("k") is True
    assert cache.lock("k") is True
    assert cache.check_lock("k") is True, "my own lock does not block me"
    assert other.check_lock("k") is False
    assert cache.locks() == ["hero:lock:k"]
    assert cache.locks("k") == ["hero:lock:k"]
    assert cache.locks("z") == []
    assert cache.unlock("k") is True
    assert other.check_lock("k") is True
    assert cache.locks() == []


def test_unlock_of_an_unlocked_key_is_true(cache):
    assert cache.unlock("never") is True


def test_a_lock_gets_the_default_ttl(cache, store):
    cache.lock("k")
    assert 9_000 <= store.client.pttl("hero:lock:k") <= 10_000
    assert store.client.get("hero:lock:k") == "process-a"


def test_a_lock_with_a_short_ttl_expires(cache, other):
    assert cache.lock("k", 30) is True
    assert other.lock("k") is False
    time.sleep(0.06)
    assert other.lock("k") is True


def test_a_lock_ttl_must_be_positive(cache):
    with pytest.raises(ValueError, match="positive"):
        cache.lock("k", 0)


def test_two_lock_names_contend(cache, other):
    assert other.lock("k", 1_000) is True
    assert cache.lock("k") is False
    assert other.lock("k") is False, "a held lock is not re-taken, even by its owner"
    assert cache.unlock("k") is False, "only the owner may unlock"
    assert other.check_lock("k") is True
    assert other.unlock("k") is True
    assert cache.lock("k") is True


@pytest.mark.timeout(10)
def test_exactly_one_of_many_racing_greenlets_gets_the_lock(store):
    caches = [Cache(store.client, lock_name=f"process-{n}") for n in range(20)]
    jobs = [gevent.spawn(c.lock, "contended") for c in caches]
    gevent.joinall(jobs, timeout=5, raise_error=True)
    assert sum(job.value for job in jobs) == 1


def test_saving_while_holding_the_lock_works(cache):
    cache.lock("k")
    assert cache.save("k", "mine") is True
    assert cache.load("k")["value"] == "mine"
    assert cache.destroy("k") is True


def test_save_destroy_and_load_under_a_foreign_lock_are_object_locked(cache, other):
    cache.save("k", "original")
    other.lock("k")
    with pytest.raises(ObjectLocked, match="Object locked"):
        cache.save("k", "changed")
    with pytest.raises(ObjectLocked):
        cache.destroy("k")
    with pytest.raises(ObjectLocked):
        cache.load("k")
    other.unlock("k")
    assert cache.load("k")["value"] == "original"


def test_load_with_retry_waits_for_a_short_lock(cache, other):
    cache.save("k", "abc123")
    other.lock("k", 150)
    assert cache.check_lock("k") is False
    assert cache.load("k", retry_ms=2_000)["value"] == "abc123"


def test_load_with_retry_gives_up_on_a_long_lock(cache, other):
    cache.save("k", "abc123")
    other.lock("k", 5_000)
    with pytest.raises(ObjectLocked):
        cache.load("k", retry_ms=150)


def test_load_sees_a_value_saved_while_it_waited(cache, other):
    cache.save("k", "before")
    other.lock("k", 2_000)

    def holder() -> None:
        time.sleep(0.05)
        other.save("k", "after")
        other.unlock("k")

    job = gevent.spawn(holder)
    assert cache.load("k", retry_ms=1_000)["value"] == "after"
    job.get(timeout=5)


def test_retry_true_waits_up_to_the_lock_duration(store, other):
    cache = Cache(store.client, lock_name="process-a", lock_duration_ms=2_000, commands=store.commands)
    cache.save("k", "abc123")
    other.lock("k", 150)
    assert cache.load("k", retry_ms=True)["value"] == "abc123"


def test_check_lock_with_retry(cache, other):
    other.lock("k", 150)
    assert cache.check_lock("k") is False
    assert cache.check_lock("k", retry_ms=50) is False
    assert cache.check_lock("k", retry_ms=2_000) is True


# --- dump and restore -------------------------------------------------------------------


def test_dump_write_and_dump_read_round_trip(cache, tmp_path):
    path = tmp_path / "cache.dump"
    cache.save("k", {"some": ["thing", 1]})
    assert cache.dump_write(str(path)) == 1
    assert orjson.loads(path.read_bytes()).keys() == {"hero:cache:k"}

    cache.save("k", "changed")
    cache.save("extra", "written after the dump")
    assert cache.dump_read(str(path)) == 1
    assert cache.load("k")["value"] == {"some": ["thing", 1]}
    assert cache.keys() == ["hero:cache:k"], "dump_read clears first"


def test_dump_keeps_lists(cache, tmp_path):
    path = tmp_path / "cache.dump"
    cache.push("queue", "one")
    cache.push("queue", {"two": 2})
    cache.save("k", 1)
    assert cache.dump_write(path) == 2
    cache.clear()
    assert cache.dump_read(path) == 2
    assert cache.pop("queue") == "one"
    assert cache.pop("queue") == {"two": 2}
    assert cache.load("k")["value"] == 1


def test_dump_of_an_empty_cache(cache, tmp_path):
    path = tmp_path / "empty.dump"
    assert cache.dump_write(path) == 0
    cache.save("k", 1)
    assert cache.dump_read(path) == 0
    assert cache.size() == 0


def test_dump_read_refuses_keys_outside_the_cache_and_changes_nothing(cache, store, tmp_path):
    path = tmp_path / "evil.dump"
    path.write_bytes(orjson.dumps({"hero:lock:k": "someone", "hero:cache:x": "{}"}))
    cache.save("k", "kept")
    with pytest.raises(ValueError, match="not under 'hero:cache:'"):
        cache.dump_read(path)
    assert cache.load("k")["value"] == "kept"
    assert store.client.exists("hero:lock:k") == 0


def test_repr_names_the_prefix_and_lock_name(cache):
    assert repr(cache) == "Cache(prefix='hero:cache:', lock_prefix='hero:lock:', lock_name='process-a')"
