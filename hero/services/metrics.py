"""Prometheus metrics (docs/deployment.md, Metrics): served at ``/metrics`` by the web server.

Built only when ``metrics.enabled`` (on by default when ``prometheus-client`` is installed: the
``hero[metrics]`` extra); when off, nothing below runs and the action path carries no listener.

An action costs one dict update here (:meth:`Metrics.on_action`); a greenlet folds those counts
into prometheus-client's counters and histogram every ``metrics.flush_interval`` seconds and before
every scrape, and refreshes the gauges (connections, pending actions, queue depth) then. Rarer
events (chat, tasks, Redis errors, event-loop blocks) go straight to prometheus-client.

Under gunicorn (or any set of processes sharing ``PROMETHEUS_MULTIPROC_DIR``) every process writes
its values to files in that folder and a scrape of any one process reads them all
(prometheus-client's multiprocess mode); ``hero.gunicorn`` sets the folder up when it is unset.
"""
from __future__ import annotations

import logging
import os
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import gevent

from hero.errors import ConfigError
from hero.runtime.monitor import BLOCK_HOOKS

if TYPE_CHECKING:
    from hero.core.action import ActionData

log = logging.getLogger(__name__)

#: The ``action`` label of a request naming no known action (never the client's text: it would let
#: any client create series without bound).
UNKNOWN_ACTION = "(unknown)"
#: prometheus-client's switch into multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: The attributes :meth:`Metrics._build` sets.
_PROM_ATTRIBUTES = frozenset({"_prom", "registry", "actions", "durations", "connections", "pending", "chat", "tasks",
                              "queue_depth", "redis_errors", "loop_blocks"})
#: (action, transport, status) → [count, seconds, per-bucket counts]
Pending = dict[tuple[str, str, int], list[Any]]


def installed() -> bool:
    """True when ``prometheus-client`` can be imported."""
    import importlib.util

    return importlib.util.find_spec("prometheus_client") is not None


def build_metrics(settings: Mapping[str, Any]) -> Metrics | None:
    """The metrics of one process, or None when ``metrics.enabled`` is off (or unset and
    prometheus-client is not installed)."""
    enabled = settings["enabled"]
    if enabled is False:
        return None
    if not installed():
        if enabled:
            raise ConfigError("config metrics.enabled is true but prometheus-client is not installed "
                              "(pip install 'hero[metrics]')")
        return None
    return Metrics(buckets=tuple(float(bound) for bound in settings["buckets"]),
                   flush_interval=float(settings["flush_interval"]))


class Metrics:
    """hero's Prometheus metrics for one process."""

    #: prometheus-client's objects (its module, the registry, the counters, histogram and gauges):
    #: built by :meth:`_build` on first use, not at boot (issue 17: an idle server's memory).
    _prom: Any
    registry: Any
    actions: Any
    durations: Any
    connections: Any
    pending: Any
    chat: Any
    tasks: Any
    queue_depth: Any
    redis_errors: Any
    loop_blocks: Any

    def __init__(self, *, buckets: tuple[float, ...], flush_interval: float) -> None:
        self.directory = os.environ.get(MULTIPROC_ENV) or None
        self.flush_interval = flush_interval
        self.bounds = sorted(buckets)
        self._built = False
        self._pending: Pending = {}
        #: (task, event) → its labelled hero_tasks counter.
        self._task_counters: dict[tuple[str, str], Any] = {}
        self._transports: set[str] = set()
        #: Set by the wiring: ``() -> {transport: open connections}``, ``() -> actions running``,
        #: ``() -> {queue: depth}``.
        self.connection_counts: Callable[[], Mapping[str, int]] = dict
        self.in_flight: Callable[[], int] = int
        self.queue_depths: Callable[[], Mapping[str, int]] | None = None
        self._flusher: gevent.Greenlet | None = None
        if self.directory:
            # NOTE: multiprocess mode: the other processes' scrapes read this one's files, which
            # must exist from the start.
            self._build()

    def __getattr__(self, name: str) -> Any:
        # NOTE: only reached for attributes not set yet: the prometheus-client objects before
        # their first use. Anything else is a plain AttributeError.
        if name not in _PROM_ATTRIBUTES or self.__dict__.get("_built", True):
            raise AttributeError(name)
        self._build()
        return self.__dict__[name]

    def _build(self) -> None:
        # NOTE: prometheus-client is the optional extra hero[metrics]: imported only when metrics are on,
        # and then with the first action, event or scrape.
        import prometheus_client as prom

        self._built = True
        self._prom = prom
        #: Where the metrics are registered: a registry of our own (never prometheus-client's global one).
        self.registry = prom.CollectorRegistry(auto_describe=True)
        r = self.registry
        self.actions = prom.Counter("hero_actions", "Actions run, by action, transport and status",
                                    ["action", "transport", "status"], registry=r)
        self.durations = prom.Histogram("hero_action_duration_seconds", "Action latency, by action and transport",
                                        ["action", "transport"], buckets=self.bounds, registry=r)
        self.connections = prom.Gauge("hero_connections", "Open connections, by transport", ["transport"],
                                      registry=r, multiprocess_mode="livesum")
        self.pending = prom.Gauge("hero_pending_actions", "Actions running now", registry=r,
                                  multiprocess_mode="livesum")
        self.chat = prom.Counter("hero_chat_messages", "Chat messages, said (published) and delivered (to a member)",
                                 ["event"], registry=r)
        self.tasks = prom.Counter("hero_tasks", "Tasks enqueued, run (processed or skipped) and failed, by task",
                                  ["task", "event"], registry=r)
        self.queue_depth = prom.Gauge("hero_task_queue_depth", "Jobs waiting in each task queue", ["queue"],
                                      registry=r, multiprocess_mode="livemax")
        self.redis_errors = prom.Counter("hero_redis_errors", "Failed Redis calls (connection errors, timeouts)",
                                         registry=r)
        self.loop_blocks = prom.Counter("hero_event_loop_blocks", "Times the hub monitor saw the event loop blocked",
                                        registry=r)

    def __repr__(self) -> str:
        mode = f"multiprocess in {self.directory}" if self.directory else "one process"
        return f"Metrics({mode})"

    # --- the hot path -----------------------------------------------------------------------------

    def on_action(self, data: ActionData) -> None:
        """A finished action (a processor listener): one dict update, folded in by :meth:`flush`."""
        action = data.action
        key = (action.name if action is not None else UNKNOWN_ACTION, data.connection.type, data.status)
        seconds = data.duration_ms / 1000.0
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = [0, 0.0, [0] * (len(self.bounds) + 1)]
        entry[0] += 1
        entry[1] += seconds
        entry[2][bisect_left(self.bounds, seconds)] += 1

    # --- rarer events -----------------------------------------------------------------------------

    def on_chat(self, event: str, count: int) -> None:
        """``said`` once per message published; ``delivered`` per member handed one."""
        if count:
            self.chat.labels(event).inc(count)

    def on_task(self, event: str, task: str) -> None:
        """``enqueued``, ``processed``, ``skipped`` or ``failed``; processed and skipped count as ``run``."""
        # NOTE: counted at once, not folded in by flush(): a forked work-horse counts its run and exits.
        # The labelled child is kept: labels() takes a lock and builds its key on every call.
        counter = self._task_counters.get((task, event))
        if counter is None:
            counter = self._task_counters[(task, event)] = self.tasks.labels(
                task, "run" if event in ("processed", "skipped") else event)
        counter.inc()

    def on_redis_error(self, error: BaseException) -> None:
        self.redis_errors.inc()

    def on_loop_block(self, seconds: float) -> None:
        self.loop_blocks.inc()

    # --- flushing and scraping --------------------------------------------------------------------

    def flush(self) -> None:
        """Fold the actions counted since the last flush into prometheus-client; refresh the gauges."""
        pending, self._pending = self._pending, {}
        for (action, transport, status), (count, seconds, buckets) in pending.items():
            self.actions.labels(action, transport, str(status)).inc(count)
            histogram = self.durations.labels(action, transport)
            # NOTE: prometheus-client's Histogram adds one observation at a time; its per-bucket
            # values and sum (``_buckets``, ``_sum``: a bucket holds the observations above the one
            # before, as ``bisect_left`` on the same bounds) take the batch in one step each.
            histogram._sum.inc(seconds)
            for index, amount in enumerate(buckets):
                if amount:
                    histogram._buckets[index].inc(amount)
        counts = self.connection_counts()
        for transport in self._transports | set(counts):
            self.connections.labels(transport).set(counts.get(transport, 0))
        self._transports |= set(counts)
        self.pending.set(self.in_flight())
        if self.queue_depths is not None:
            try:
                for queue, depth in self.queue_depths().items():
                    self.queue_depth.labels(queue).set(depth)
            except Exception as error:  # a scrape must answer even when Redis does not
                log.debug("metrics: queue depths unavailable: %s", error)

    def render(self) -> tuple[str, bytes]:
        """``(content type, body)`` of a scrape: this process's metrics, or every process's in
        multiprocess mode."""
        self.flush()
        prom = self._prom
        if self.directory:
            # NOTE: prometheus_client.multiprocess is needed only to scrape in multiprocess mode.
            from prometheus_client import multiprocess

            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.directory)
            return prom.CONTENT_TYPE_LATEST, prom.generate_latest(registry)
        return prom.CONTENT_TYPE_LATEST, prom.generate_latest(self.registry)

    def start(self) -> None:
        if self._flusher is None:
            self._flusher = gevent.spawn(self._run)
            BLOCK_HOOKS.append(self.on_loop_block)

    def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.kill()
            self._flusher = None
            BLOCK_HOOKS.remove(self.on_loop_block)
        if self._built or self._pending:
            self.flush()
        if self.directory:
            # NOTE: multiprocess mode only: this pid's live gauges leave the sum once it stops.
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), self.directory)

    def _run(self) -> None:
        while True:
            gevent.sleep(self.flush_interval)
            if not self._built and not self._pending:
                # NOTE: nothing to fold in, and the gauges are read only by a scrape, which flushes
                # first: an idle server does not load prometheus-client.
                continue
            try:
                self.flush()
            except Exception:
                log.exception("metrics: flush failed")
