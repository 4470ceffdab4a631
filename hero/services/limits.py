"""Request limits (docs/limits.md, Request rate): a budget of requests per window, counted in Redis.

    limiter = RateLimiter(store, general.rate_limit)
    api.actions.add_middleware(limiter.middleware())    # only when some budget is configured

Every process of a cluster counts in the same Redis key, so they share one budget. One request
costs at most one round trip: a Lua script increments the window's counter, starts its expiry when
it is new, and returns the count with the time left (no read-then-write race); requests arriving
while a count is on its way go together in the next pipeline. A fixed window: the budget refills
all at once when the window's key expires.

When Redis does not answer, the limiter lets requests through (fails open) and logs it once per
outage: limiting is a protection, not a reason to refuse every client.
"""
from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import AsyncResult
from redis.exceptions import NoScriptError

from hero.core.action import Action, ActionData, ActionRegistry, RequestBudget
from hero.core.connection import Connection
from hero.core.middleware import ActionMiddleware
from hero.errors import BootError, RequestLimitExceeded
from hero.services.store import STORE_ERRORS, RedisStore

log = logging.getLogger(__name__)

#: KEYS[1] the window's counter; ARGV[1] the window in ms. Returns {count, ms left}.
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

#: Who a budget counts: a connection → the key of its counter (None: not counted).
Identify = Callable[[Connection], Any]

#: Connection types never counted: actions run from code (``api.actions.run``, tasks).
EXEMPT_TYPES = frozenset({"in-line-action"})


def _by_ip(connection: Connection) -> Any:
    return connection.remote_ip


def _by_fingerprint(connection: Connection) -> Any:
    return connection.fingerprint


@dataclass(frozen=True)
class Budget:
    """``requests`` per ``per_seconds``, counted per ``by`` (``"ip"``, ``"fingerprint"`` or a function)."""

    requests: int
    per_seconds: float
    identify: Identify
    #: The counter's name: ``*`` for the global budget, the action's name for an action's own.
    scope: str

    @property
    def window_ms(self) -> int:
        return max(1, int(self.per_seconds * 1000))

    @classmethod
    def parse(cls, value: Any, *, where: str, scope: str) -> Budget:
        """A budget from config (``general.rate_limit``) or an action's ``rate_limit``; BootError names ``where``."""
        if not isinstance(value, Mapping):
            raise BootError(f"{where} must be a dict like {{\"requests\": 100, \"per_seconds\": 60}}, got {value!r}")
        unknown = set(value) - {"requests", "per_seconds", "by"}
        if unknown:
            raise BootError(f"{where}: unknown key {sorted(unknown)[0]!r} (requests, per_seconds, by)")
        requests, per_seconds, by = value.get("requests"), value.get("per_seconds"), value.get("by", "ip")
        if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
            raise BootError(f"{where}.requests must be a whole number >= 1, got {requests!r}")
        if isinstance(per_seconds, bool) or not isinstance(per_seconds, (int, float)) or per_seconds <= 0:
            raise BootError(f"{where}.per_seconds must be a number of seconds > 0, got {per_seconds!r}")
        identify: Identify
        if by == "ip":
            identify = _by_ip
        elif by == "fingerprint":
            identify = _by_fingerprint
        elif callable(by):
            identify = by
        else:
            raise BootError(f"{where}.by must be \"ip\", \"fingerprint\" or a function of the connection, got {by!r}")
        return cls(requests=requests, per_seconds=float(per_seconds), identify=identify, scope=scope)


class RateLimiter:
    """The budgets of one process: the global one (``general.rate_limit``) and the actions' own."""

    def __init__(self, store: RedisStore, rate_limit: Any, *, prefix: str = "ratelimit:") -> None:
        self.store = store
        self.prefix = store.key(prefix)
        self.default: Budget | None = (None if rate_limit is None else
                                       Budget.parse(rate_limit, where="config general.rate_limit", scope="*"))
        self._own: dict[int, Budget | None] = {}
        #: The script's SHA1 (Redis answers NOSCRIPT until it is loaded; :meth:`count` loads it then).
        self._sha = hashlib.sha1(COUNT_SCRIPT.encode()).hexdigest()
        #: True while Redis is not answering (logged once per outage).
        self.failing_open = False
        #: A count is on its way; what arrives meanwhile waits here for the next pipeline.
        self._busy = False
        self._waiting: list[tuple[str, int, AsyncResult[tuple[int, int] | None]]] = []

    def __repr__(self) -> str:
        return f"RateLimiter(default={self.default!r})"

    def configure(self, actions: Any) -> bool:
        """Read every action's ``rate_limit`` (BootError names a bad one); True when any budget applies."""
        self._own.clear()
        needed = self.default is not None
        for action in actions:
            own = action.rate_limit
            if own is None or own is True:
                continue
            if own is False:
                self._own[id(action)] = None
                continue
            self._own[id(action)] = Budget.parse(own, where=f"action {action.name} rate_limit", scope=action.name)
            needed = True
        return needed

    def install(self, actions: ActionRegistry) -> None:
        """Add the limiter's middleware when some budget applies (so that without one the pipeline runs
        no code for it); call once the actions are loaded."""
        if self.configure(actions) and "hero.rate_limit" not in actions.middleware:
            actions.add_middleware(self.middleware())

    def budget_for(self, action: Action) -> Budget | None:
        key = id(action)
        if key in self._own:
            return self._own[key]
        return self.default

    def middleware(self) -> ActionMiddleware:
        """The global action middleware that counts each request (first, before other middleware)."""
        return ActionMiddleware("hero.rate_limit", is_global=True, priority=-1_000_000, pre_process=self.check)

    def check(self, data: ActionData) -> None:
        """Count this request; raise RequestLimitExceeded when over its budget. Sets ``data.budget``."""
        connection = data.connection
        action = data.action
        if action is None or connection.type in EXEMPT_TYPES:
            return
        budget = self.budget_for(action)
        if budget is None:
            return
        who = budget.identify(connection)
        if who is None:
            return
        counted = self.count(f"{self.prefix}{budget.scope}:{who}", budget.window_ms)
        if counted is None:
            return
        count, left_ms = counted
        reset = max(1, math.ceil(left_ms / 1000))
        exceeded = count > budget.requests
        data.budget = RequestBudget(budget.requests, max(0, budget.requests - count), reset, exceeded)
        if exceeded:
            raise RequestLimitExceeded(retry_after=reset)

    def count(self, key: str, window_ms: int) -> tuple[int, int] | None:
        """The window's count after this request and its ms left; None when Redis fails.

        One count is on its way to Redis at a time: requests that arrive meanwhile wait and go
        together in one pipeline (one round trip for all of them), so that under load the limiter
        costs less than a round trip per request.
        """
        if self._busy:
            waiter: AsyncResult[tuple[int, int] | None] = AsyncResult()
            self._waiting.append((key, window_ms, waiter))
            return waiter.get()
        self._busy = True
        try:
            (counted,) = self._send([(key, window_ms)])
        finally:
            if self._waiting:
                gevent.spawn(self._drain)
            else:
                self._busy = False
        return counted

    def _drain(self) -> None:
        """Send what waited, batch after batch, until nothing does."""
        batch: list[tuple[str, int, AsyncResult[tuple[int, int] | None]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = self._send([(key, window_ms) for key, window_ms, _ in batch])
                except Exception:
                    results = [None] * len(batch)
                    log.exception("rate limit: counting failed; these requests are not limited")
                for (_, _, waiter), counted in zip(batch, results):
                    waiter.set(counted)
                batch = []
        finally:
            self._busy = False
            # NOTE: killed mid-batch (a stopping process): nobody is left waiting forever
            left, self._waiting = batch + self._waiting, []
            for _, _, waiter in left:
                if not waiter.ready():
                    waiter.set(None)

    def _send(self, items: list[tuple[str, int]]) -> list[tuple[int, int] | None]:
        """One round trip for ``items``; every one None when Redis does not answer (logged once per outage)."""
        client = self.store.client
        try:
            try:
                replies = self._evalsha(client, items)
            except NoScriptError:  # a restarted (or flushed) Redis forgot it: load it, and go on
                self._sha = client.script_load(COUNT_SCRIPT)
                replies = self._evalsha(client, items)
        except STORE_ERRORS as error:
            if not self.failing_open:
                self.failing_open = True
                log.warning("rate limit: %s is not answering (%s); requests are not limited until it does",
                            self.store.describe(), type(error).__name__)
            return [None] * len(items)
        if self.failing_open:
            self.failing_open = False
            log.info("rate limit: %s answers again; requests are counted", self.store.describe())
        return [(int(count), int(left)) for count, left in replies]

    def _evalsha(self, client: Any, items: list[tuple[str, int]]) -> list[Any]:
        # NOTE: EVALSHA straight on the client: redis-py's Script wrapper costs ~40 µs more a call.
        if len(items) == 1:
            return [client.evalsha(self._sha, 1, *items[0])]
        pipeline = client.pipeline(transaction=False)
        for key, window_ms in items:
            pipeline.evalsha(self._sha, 1, key, window_ms)
        return list(pipeline.execute())
