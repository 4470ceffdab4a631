"""The shared cache: JSON values, locks and lists in Redis.

Every process of a deployment sees the same cache. A lock belongs to a *lock name* (one per
process); a key locked under another name cannot be saved, destroyed or loaded until the lock
is released or expires. The checks that decide "locked by someone else?" run inside the same
Lua script as the write they guard, so no other process can slip in between.
"""
from __future__ import annotations

import logging
import os
import re
import time
from typing import Any, cast

import orjson
import redis

from hero.errors import ObjectLocked, ObjectNotFound
from hero.services.redis_mux import ClientCommands, Commands, Probe, gather, run_script, script_sha

log = logging.getLogger(__name__)

#: How often a waiting ``load``/``check_lock`` looks at the lock again (actionhero's ``lockRetry``).
LOCK_RETRY_MS = 100

# KEYS[1] = cache key, KEYS[2] = lock key, KEYS[3] = the index; ARGV[1] = my lock name, ARGV[2] = JSON,
# ARGV[3] = ttl ms or "", ARGV[4] = now (ms).
_SAVE = """
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return 0 end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[3], '+inf', KEYS[1])
elseif tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + tonumber(ARGV[3]), KEYS[1])
else
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[3], KEYS[1])
end
return 1
"""

# KEYS as above; ARGV[1] = my lock name, ARGV[2] = sliding ttl ms or "", ARGV[3] = now (ms). → {status, value}
_LOAD = """
local value = redis.call('GET', KEYS[1])
if not value then return {'missing'} end
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return {'locked'} end
if ARGV[2] ~= '' then
  if tonumber(ARGV[2]) > 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('ZADD', KEYS[3], tonumber(ARGV[3]) + tonumber(ARGV[2]), KEYS[1])
  else
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[3], KEYS[1])
  end
end
return {'ok', value}
"""

# KEYS as above; ARGV[1] = my lock name. → -1 locked, else the number of keys deleted.
_DESTROY = """
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return -1 end
redis.call('ZREM', KEYS[3], KEYS[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS[1] = lock key; ARGV[1] = my lock name. → 0 when another name holds it.
_UNLOCK = """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

_SAVE_SHA, _LOAD_SHA, _DESTROY_SHA = script_sha(_SAVE), script_sha(_LOAD), script_sha(_DESTROY)

_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def _glob_escape(text: str) -> str:
    """Escape ``text`` so SCAN MATCH treats it literally."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def _now_ms() -> int:
    return int(time.time() * 1000)


class Cache:
    """A distributed key-value cache with per-process locks and FIFO lists.

    ``redis`` must be a client built with ``decode_responses=True``. TTLs are milliseconds;
    ``None`` means "never expires" and a TTL of zero or less makes the key vanish at once.
    """

    def __init__(
        self,
        redis: "redis.Redis",
        *,
        prefix: str = "hero:cache:",
        lock_prefix: str = "hero:lock:",
        lock_duration_ms: int = 10_000,
        lock_name: str,
        scan_count: int = 1000,
        commands: Commands | None = None,
    ) -> None:
        if not lock_name:
            raise ValueError("Cache needs a non-empty lock_name (one per process)")
        if lock_duration_ms <= 0:
            raise ValueError(f"Cache lock_duration_ms must be positive, got {lock_duration_ms}")
        #: The client every call goes through (decoded responses).
        self.redis = redis
        #: The hot calls (save, load, destroy, count): one round trip each, multiplexed when the
        #: store does (hero.services.redis_mux); the client's pipeline otherwise.
        self.commands: Commands = commands if commands is not None else ClientCommands(redis)
        #: Prefix of value and list keys.
        self.prefix = prefix
        #: Prefix of lock keys.
        self.lock_prefix = lock_prefix
        #: Default lock TTL in ms; also how long ``retry_ms=True`` waits.
        self.lock_duration_ms = lock_duration_ms
        #: The owner written into locks this object takes.
        self.lock_name = lock_name
        #: COUNT hint for SCAN.
        self.scan_count = scan_count
        #: A sorted set of the value keys by expiry (ms; +inf: none), so :meth:`size` never scans.
        #: NOTE: outside ``prefix``, so ``keys()`` never lists it.
        self.index = prefix.rstrip(":") + "-index"
        self._unlock = redis.register_script(_UNLOCK)

    def __repr__(self) -> str:
        return f"Cache(prefix={self.prefix!r}, lock_prefix={self.lock_prefix!r}, lock_name={self.lock_name!r})"

    # --- values -------------------------------------------------------------------------

    def save(self, key: str, value: Any, ttl_ms: int | None = None) -> bool:
        """Store ``value`` (anything JSON can hold) under ``key``; raise ObjectLocked if another lock name holds it."""
        payload = self._encode(key, {"value": value, "createdAt": _now_ms()})
        ttl = "" if ttl_ms is None else str(int(ttl_ms))
        if not run_script(self.commands, _SAVE_SHA, _SAVE, [self.prefix + key, self.lock_prefix + key, self.index],
                          [self.lock_name, payload, ttl, _now_ms()]):
            raise ObjectLocked()
        return True

    def load(self, key: str, *, ttl_ms: int | None = None, retry_ms: int | bool = 0) -> dict[str, Any]:
        """Return ``{"key", "value", "createdAt"}``; ``ttl_ms`` resets the key's TTL (sliding expiry).

        Raises ObjectNotFound for a missing or expired key, ObjectLocked when another lock name
        still holds the key after waiting up to ``retry_ms`` (``True``: the lock duration).
        """
        ttl = "" if ttl_ms is None else str(int(ttl_ms))
        deadline = time.monotonic() + self._retry_seconds(retry_ms)
        while True:
            result = run_script(self.commands, _LOAD_SHA, _LOAD, [self.prefix + key, self.lock_prefix + key, self.index],
                                [self.lock_name, ttl, _now_ms()])
            status = result[0]
            if status == "missing":
                raise ObjectNotFound()
            if status == "ok":
                stored = self._decode(key, result[1])
                return {"key": key, "value": stored.get("value"), "createdAt": stored.get("createdAt")}
            if time.monotonic() >= deadline:
                raise ObjectLocked()
            time.sleep(LOCK_RETRY_MS / 1000)

    def destroy(self, key: str) -> bool:
        """Delete ``key``: True if it existed, False if not; ObjectLocked if another lock name holds it."""
        deleted = int(run_script(self.commands, _DESTROY_SHA, _DESTROY,
                                 [self.prefix + key, self.lock_prefix + key, self.index], [self.lock_name]))
        if deleted < 0:
            raise ObjectLocked()
        return deleted > 0

    def keys(self, prefix: str = "") -> list[str]:
        """Full Redis keys of the cache (values and lists) whose name starts with ``prefix``."""
        return self._scan(self.prefix + prefix)

    def locks(self, prefix: str = "") -> list[str]:
        """Full Redis keys of the locks whose name starts with ``prefix``."""
        return self._scan(self.lock_prefix + prefix)

    def size(self) -> int:
        """How many cache keys exist (by a full scan; :meth:`count` does not scan)."""
        return len(self.keys())

    def count(self) -> int:
        """How many values saved with :meth:`save` are alive (seed 001's ``cache.numberOfObjects``),
        from the index: two commands whatever the size of Redis. Values Redis evicted itself
        (``maxmemory``) stay counted until their expiry; lists are not counted."""
        return cast(int, gather(self.commands, [self.count_probe()])[0])

    def count_probe(self) -> Probe:
        """:meth:`count` as part of a read of several services in one round trip (the status action)."""
        return Probe([("ZREMRANGEBYSCORE", self.index, "-inf", _now_ms()), ("ZCARD", self.index)],
                     lambda replies: int(replies[1]))

    def clear(self) -> list[str]:
        """Delete every cache key (not the locks) and return the keys deleted."""
        found = self.keys()
        for start in range(0, len(found), self.scan_count):
            self.redis.delete(*found[start : start + self.scan_count])
        self.redis.delete(self.index)
        log.debug("cleared %d cache keys under %s", len(found), self.prefix)
        return found

    # --- locks --------------------------------------------------------------------------

    def lock(self, key: str, ttl_ms: int | None = None) -> bool:
        """Take the lock on ``key`` for ``ttl_ms`` (default: the lock duration); False if it is already held."""
        ttl = self.lock_duration_ms if ttl_ms is None else int(ttl_ms)
        if ttl <= 0:
            raise ValueError(f"lock ttl_ms must be positive, got {ttl_ms}")
        # NOTE: one SET with NX and PX rather than SETNX followed by PEXPIRE; a process
        # that dies between those two calls would leave a lock that never expires.
        return bool(self.redis.set(self.lock_prefix + key, self.lock_name, nx=True, px=ttl))

    def unlock(self, key: str) -> bool:
        """Release my lock on ``key``; False (and nothing changes) if another lock name holds it."""
        return bool(self._unlock(keys=[self.lock_prefix + key], args=[self.lock_name]))

    def check_lock(self, key: str, retry_ms: int | bool = 0) -> bool:
        """True if ``key`` is unlocked or locked by me, re-checking every 100 ms for up to ``retry_ms``."""
        deadline = time.monotonic() + self._retry_seconds(retry_ms)
        while True:
            owner = self.redis.get(self.lock_prefix + key)
            if owner is None or owner == self.lock_name:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(LOCK_RETRY_MS / 1000)

    # --- lists --------------------------------------------------------------------------

    def push(self, key: str, item: Any) -> bool:
        """Append ``item`` to the list ``key``."""
        self.redis.rpush(self.prefix + key, self._encode(key, {"data": item}))
        return True

    def pop(self, key: str) -> Any | None:
        """Remove and return the oldest item of the list ``key``; None when it is empty."""
        # NOTE: the client decodes responses and LPOP without a count gives one item; the stubs
        # only know the wide ``bytes | str | list`` union.
        raw = cast("str | None", self.redis.lpop(self.prefix + key))
        if raw is None:
            return None
        return self._decode(key, raw).get("data")

    def list_length(self, key: str) -> int:
        """How many items the list ``key`` holds (0 if it does not exist)."""
        return int(self.redis.llen(self.prefix + key))

    # --- dump and restore ---------------------------------------------------------------

    def dump_write(self, path: str | os.PathLike[str]) -> int:
        """Write every cache key to ``path`` as JSON ``{fullKey: rawString}``; return the count.

        Lists (from ``push``) are written as a JSON array of their raw items, so nothing is lost.
        """
        found = self.keys()
        pipe = self.redis.pipeline(transaction=False)
        for full_key in found:
            pipe.type(full_key)
        kinds = pipe.execute()
        pipe = self.redis.pipeline(transaction=False)
        for full_key, kind in zip(found, kinds):
            if kind == "list":
                pipe.lrange(full_key, 0, -1)
            else:
                pipe.get(full_key)
        data: dict[str, Any] = {}
        for full_key, kind, content in zip(found, kinds, pipe.execute(raise_on_error=False)):
            # NOTE: a key may expire or change type between SCAN and GET; skip it rather than fail.
            if content is None or isinstance(content, Exception) or kind not in ("string", "list"):
                continue
            data[full_key] = content
        with open(path, "wb") as handle:
            handle.write(orjson.dumps(data))
        log.debug("wrote %d cache keys to %s", len(data), path)
        return len(data)

    def dump_read(self, path: str | os.PathLike[str]) -> int:
        """Clear the cache, then restore a ``dump_write`` file (SET … KEEPTTL); return the count."""
        with open(path, "rb") as handle:
            data = orjson.loads(handle.read())
        # NOTE: validate everything before clear(), so a bad file destroys nothing; and refuse
        # keys outside the cache prefix, so a dump cannot overwrite chat, task or lock keys.
        if not isinstance(data, dict):
            raise ValueError(f"cache dump {path} is not a JSON object")
        for full_key, content in data.items():
            if not full_key.startswith(self.prefix):
                raise ValueError(f"cache dump {path}: key {full_key!r} is not under {self.prefix!r}")
            is_list = isinstance(content, list) and all(isinstance(item, str) for item in content)
            if not (isinstance(content, str) or is_list):
                raise ValueError(f"cache dump {path}: key {full_key!r} holds neither a string nor a list of strings")
        self.clear()
        pipe = self.redis.pipeline(transaction=False)
        for full_key, content in data.items():
            if isinstance(content, list):
                pipe.delete(full_key)
                if content:
                    pipe.rpush(full_key, *content)
            else:
                pipe.set(full_key, content, keepttl=True)
        pipe.execute()
        log.debug("restored %d cache keys from %s", len(data), path)
        return len(data)

    # --- helpers ------------------------------------------------------------------------

    def _scan(self, prefix: str) -> list[str]:
        # NOTE: SCAN may return a key more than once; a set removes the repeats.
        found = set(self.redis.scan_iter(match=_glob_escape(prefix) + "*", count=self.scan_count))
        return sorted(found)

    def _retry_seconds(self, retry_ms: int | bool) -> float:
        if retry_ms is True:
            return self.lock_duration_ms / 1000
        if not retry_ms or retry_ms < 0:
            return 0.0
        return float(retry_ms) / 1000

    @staticmethod
    def _encode(key: str, document: dict[str, Any]) -> str:
        try:
            return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError as error:
            raise TypeError(f"cache value for {key!r} cannot be stored as JSON: {error}") from error

    @staticmethod
    def _decode(key: str, raw: str) -> dict[str, Any]:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            document = raw
        if not isinstance(document, dict):
            # NOTE: something other than hero wrote this key; show it as the value rather than crash.
            log.warning("cache key %r does not hold a hero document; returning it as the value", key)
            return {"value": document, "data": document, "createdAt": None}
        return document
