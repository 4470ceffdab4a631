"""The only place Redis clients are built: a real server named by a URL, or the embedded store.

Every client has short, explicit timeouts and a small retry budget (redis-py's
defaults let one call hang for minutes against a dead server). Long blocking calls
(BLPOP, pub/sub) get a separate client whose read timeout exceeds the block.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from hero.errors import StoreUnavailable
from hero.services.redis_mux import ClientCommands, Commands, Probe, RedisMux, gather
from hero.services.redis_pool import LeanBlockingConnectionPool

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors that mean "the store did not answer"; every transport answers them with a 503.
STORE_ERRORS: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
#: Redis's own refusals that mean "not now" rather than "your command is wrong": hero answers 503
#: with its own text, never Redis's. redis-py raises a class of its own for most (and strips the
#: code from the text); MISCONF stays a plain ResponseError that starts with its code.
REFUSALS: tuple[tuple[type[BaseException], str], ...] = (
    (redis.exceptions.OutOfMemoryError, "the backing store (redis) is out of memory"),
    (redis.exceptions.ReadOnlyError, "the backing store (redis) is read-only (a replica, or failing over)"),
    (redis.exceptions.BusyLoadingError, "the backing store (redis) is loading its data"),
    (redis.exceptions.MasterDownError, "the backing store (redis) has lost its master"),
)
MISCONF = "the backing store (redis) cannot save its data (MISCONF)"


def unavailable_reason(error: BaseException) -> str | None:
    """hero's text for a Redis error that means the store cannot serve now; None for any other."""
    for kind, text in REFUSALS:
        if isinstance(error, kind):
            return text
    if isinstance(error, STORE_ERRORS):
        return f"the backing store (redis) is unavailable: {type(error).__name__}"
    if isinstance(error, redis.exceptions.ResponseError) and str(error).startswith("MISCONF"):
        return MISCONF
    return None


StoreUnavailable.reason = staticmethod(unavailable_reason)  # type: ignore[method-assign]


def _gevent_patched() -> bool:
    """True in a process gevent has patched (a server); False in one that blocks for real (``hero
    worker``, RQ's forking worker, a CLI command), where a multiplexer's reader greenlet would never run."""
    from gevent import monkey

    return bool(monkey.is_module_patched("socket"))


class ReportingRetry(Retry):
    """redis-py's Retry, telling ``hooks`` about every failed attempt: the one place every command
    of every client built here passes through when Redis fails."""

    def __init__(self, *args: Any, hooks: list[Callable[[BaseException], None]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hooks = hooks

    def __deepcopy__(self, memo: dict[int, Any]) -> "ReportingRetry":
        # NOTE: redis-py deep-copies its Retry for each connection; the copies share the hooks (which
        # hold bound methods of services, not copyable) and get their own backoff state.
        twin = copy.copy(self)
        twin._backoff = copy.deepcopy(self._backoff, memo)
        return twin

    def call_with_retry(self, do: Callable[[], T], fail: Callable[..., Any], *args: Any, **kwargs: Any) -> T:
        if not self.hooks:
            return super().call_with_retry(do, fail, *args, **kwargs)

        def failed(error: Exception, *more: Any) -> Any:
            for hook in self.hooks:
                hook(error)
            return fail(error, *more)

        return super().call_with_retry(do, failed, *args, **kwargs)


@dataclass
class RedisSettings:
    """The ``redis`` config namespace, typed."""

    url: str | None = None
    prefix: str = "hero:"
    connect_timeout: float = 0.5
    socket_timeout: float = 1.0
    retries: int = 1
    max_connections: int = 64
    pool_timeout: float = 2.0
    #: Read timeout of the client used for pub/sub and blocking pops.
    blocking_socket_timeout: float | None = 30.0
    #: Silence after which the subscriber calls its subscription lost (hero.services.cluster).
    subscriber_health_seconds: float = 10.0
    health_check_interval: int = 30
    #: Hot-path commands pipelined on one shared connection (hero.services.redis_mux).
    multiplex: bool = True

    @classmethod
    def from_mapping(cls, values: Any) -> "RedisSettings":
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in dict(values).items() if key in known})


@dataclass(eq=False)
class RedisStore:
    """The clients of one process: ``client`` for requests, ``blocking()`` for BLPOP and pub/sub.

    With no URL this is the embedded in-process store (fakeredis with Lua), which serves one
    process only; every client built here shares its one ``FakeServer``.
    """

    settings: RedisSettings = field(default_factory=RedisSettings)

    def __post_init__(self) -> None:
        #: Called with each failed Redis call (a connection error or timeout, retried or not): metrics.
        self.error_hooks: list[Callable[[BaseException], None]] = []
        self.embedded = not self.settings.url
        self._fake_server: Any = None
        if self.embedded:
            import fakeredis

            self._fake_server = fakeredis.FakeServer()
        #: Decoded (str) client for hero's own keys: cache, chat, cluster, stats.
        self.client: redis.Redis = self.build(decode_responses=True)
        #: Undecoded client for RQ, which stores pickles and bytes.
        self.raw_client: redis.Redis = self.build(decode_responses=False)
        #: The hot paths' commands (decoded, raw RESP2 replies), in one round trip per call: the
        #: multiplexer on a plain ``redis://`` server, else the decoded client's pipeline.
        self.commands: Commands = self._build_commands()

    def __repr__(self) -> str:
        return f"RedisStore({self.describe()})"

    def describe(self) -> str:
        """Where the store is, for log lines and error texts (no password)."""
        if self.embedded:
            return "embedded in-process store"
        parts = urlsplit(self.settings.url or "")
        path = parts.path or "/0"
        return f"redis at {parts.hostname or '127.0.0.1'}:{parts.port or 6379}{path}"

    def key(self, *parts: str) -> str:
        """A key under the configured prefix: ``key("cache", "x")`` → ``hero:cache:x``."""
        return self.settings.prefix + ":".join(parts)

    def build(self, *, decode_responses: bool = True, blocking: bool = False,
              client_name: str | None = None) -> redis.Redis:
        """A new client. ``blocking=True`` gives one for BLPOP / pub/sub (no short read timeout);
        ``client_name`` names its connections in Redis (``CLIENT LIST``), on every (re)connect."""
        if self.embedded:
            import fakeredis

            return fakeredis.FakeRedis(server=self._fake_server, decode_responses=decode_responses)
        s = self.settings
        retry = ReportingRetry(ExponentialBackoff(cap=0.2, base=0.05), s.retries, hooks=self.error_hooks)
        pool = LeanBlockingConnectionPool.from_url(
            cast(str, s.url),  # NOTE: not embedded, so the url is set
            max_connections=s.max_connections,
            timeout=s.pool_timeout,
            socket_connect_timeout=s.connect_timeout,
            socket_timeout=s.blocking_socket_timeout if blocking else s.socket_timeout,
            socket_keepalive=True,
            retry=retry,
            health_check_interval=s.health_check_interval if blocking else 0,
            decode_responses=decode_responses,
            client_name=client_name,
        )
        return redis.Redis(connection_pool=pool)

    def _build_commands(self) -> Commands:
        s = self.settings
        if self.embedded or not s.multiplex or not (s.url or "").startswith("redis://") or not _gevent_patched():
            return ClientCommands(self.client)
        return RedisMux(cast(str, s.url), connect_timeout=s.connect_timeout, socket_timeout=s.socket_timeout,
                        retries=s.retries, error_hooks=self.error_hooks)

    def blocking(self, *, decode_responses: bool = True) -> redis.Redis:
        """A separate client for calls that block server-side (BLPOP, pub/sub listen)."""
        return self.build(decode_responses=decode_responses, blocking=True)

    def ping(self) -> bool:
        """True when the store answers within its budget."""
        try:
            return cast(bool, gather(self.commands, [self.ping_probe()])[0])
        except STORE_ERRORS:
            return False

    def gather(self, probes: list[Probe]) -> list[Any]:
        """Each probe's answer, read together in one round trip (hero.services.redis_mux.gather)."""
        return gather(self.commands, probes)

    def ping_probe(self) -> Probe:
        """:meth:`ping` as part of a read of several services in one round trip (the status action)."""
        return Probe([("PING",)], lambda replies: replies[0] in ("PONG", b"PONG", True))

    def close(self) -> None:
        if isinstance(self.commands, RedisMux):
            self.commands.close()
        for client in (self.client, self.raw_client):
            try:
                client.close()
            except Exception:  # pragma: no cover - closing never matters more than stopping
                log.debug("closing a redis client failed", exc_info=True)
