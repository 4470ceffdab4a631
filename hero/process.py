"""The one place that wires a hero process together: boot, start, stop, signals.

    process = Process("path/to/app")   # the folder holding config.py, actions/, ...
    process.start()                    # initialize + start every initializer, servers listen
    process.stop()                     # servers drain, then everything stops in order
"""
from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event

from hero.core.action import ActionRegistry
from hero.services.cache import Cache
from hero.config import Config, load_config
from hero.core.connection import Connections
from hero.errors import BootError, HeroError
from hero.runtime.initializer import Initializer, load_initializers
from hero.runtime.logging import configure_logging
from hero.runtime.monitor import watch_hub
from hero.core.processor import ActionProcessor
from hero.services.store import STORE_ERRORS, RedisSettings, RedisStore
from hero.services.stats import Stats

log = logging.getLogger(__name__)

#: hero's own initializers beyond the ones in this file, as import paths; each module adds its part
#: of ``api`` (chat, cluster, tasks). A path whose module does not exist yet is skipped.
EXTRA_INITIALIZERS: tuple[str, ...] = (
    "hero.services.cluster:ClusterInitializer",
    "hero.services.chat:ChatInitializer",
    "hero.tasks.queue:TasksInitializer",
)

#: Transports by config namespace (each is started when ``<namespace>.enabled``).
SERVER_CLASSES: dict[str, str] = {
    "web": "hero.servers.http.server:WebServer",
    "socket": "hero.servers.socket.server:SocketServer",
}


def import_path(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


class Api:
    """What a running process exposes to initializers, actions (``data.api``) and ``from hero import api``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.env = config.env
        self.id: str = config.general.id or f"{socket.gethostname()}:{os.getpid()}"
        self.log = logging.getLogger("hero.app")
        self.started_at = int(time.time() * 1000)
        self.running = False
        self.redis: RedisStore = None  # type: ignore[assignment]  # set by the redis initializer
        self.cache: Cache = None  # type: ignore[assignment]
        self.stats: Stats = None  # type: ignore[assignment]
        self.actions = ActionRegistry(missing_param_checks=config.general.missing_param_checks,
                                      scrub_params=not config.general.disable_param_scrubbing)
        self.connections = Connections()
        self.processor = ActionProcessor(
            self, self.actions,
            simultaneous_actions=config.general.simultaneous_actions,
            action_timeout=config.general.action_timeout,
            filtered_params=tuple(config.general.filtered_params),
        )
        self.actions.runner = self.processor.run_inline
        self.servers: dict[str, Any] = {}
        self.chat: Any = None
        self.cluster: Any = None
        self.tasks: Any = None
        #: The process running this api (for stop/restart from code).
        self.process: Process | None = None

    def __repr__(self) -> str:
        return f"<hero api {self.id} env={self.env} running={self.running}>"


# --- hero's own initializers ----------------------------------------------------------------------


class RedisInitializer(Initializer):
    name = "redis"
    load_priority = 200
    start_priority = 101
    stop_priority = 99_999

    def initialize(self, api: Api) -> None:
        api.redis = RedisStore(RedisSettings.from_mapping(api.config.redis))
        if api.redis.embedded:
            log.warning("redis: no REDIS_URL; using the embedded in-process store, which serves this one "
                        "process only (set REDIS_URL to share chat, cache and tasks across processes)")

    def start(self, api: Api) -> None:
        try:
            api.redis.client.ping()
        except STORE_ERRORS as error:
            raise BootError(f"{api.redis.describe()} is unavailable: {error}") from None

    def stop(self, api: Api) -> None:
        api.redis.close()


class CacheInitializer(Initializer):
    name = "cache"
    load_priority = 300
    start_priority = 300
    stop_priority = 900

    def initialize(self, api: Api) -> None:
        general = api.config.general
        api.cache = Cache(api.redis.client, prefix=api.redis.key(general.cache_prefix),
                          lock_prefix=api.redis.key(general.lock_prefix),
                          lock_duration_ms=general.lock_duration_ms, lock_name=api.id)
        api.stats = Stats(api.redis)
        # NOTE: "actions:<connection type>", beside the transports' own counters such as "web:requests"
        api.processor.listeners.append(lambda data: api.stats.increment(f"actions:{data.connection.type}"))

    def start(self, api: Api) -> None:
        api.stats.start()

    def stop(self, api: Api) -> None:
        api.stats.stop()


class ActionsInitializer(Initializer):
    name = "actions"
    load_priority = 410

    def initialize(self, api: Api) -> None:
        builtin = Path(__file__).parent / "builtin_actions"
        api.actions.load_directory(builtin, namespace="builtin_actions")
        for namespace, directory in api.config.sources("actions"):
            count = api.actions.load_directory(directory, namespace=namespace)
            log.debug("loaded %d actions from %s", count, directory)

    def start(self, api: Api) -> None:
        api.actions.check_middleware()


class ServersInitializer(Initializer):
    name = "servers"
    load_priority = 599
    start_priority = 900
    stop_priority = 100

    def initialize(self, api: Api) -> None:
        for namespace, path in SERVER_CLASSES.items():
            if api.config[namespace]["enabled"]:
                server_class = import_path(path)
                api.servers[namespace] = server_class(api, api.config[namespace])

    def start(self, api: Api) -> None:
        for server in api.servers.values():
            server.start()
            log.info("%s server listening on %s", server.type, server.url)

    def stop(self, api: Api) -> None:
        timeout = api.config.general.shutdown_timeout
        greenlets = [gevent.spawn(server.stop, timeout) for server in api.servers.values()]
        gevent.joinall(greenlets, timeout=timeout + 5)


CORE_INITIALIZERS: tuple[type[Initializer], ...] = (
    RedisInitializer, CacheInitializer, ActionsInitializer, ServersInitializer,
)


def _extra_initializers() -> list[Initializer]:
    found = []
    for path in EXTRA_INITIALIZERS:
        module_name = path.partition(":")[0]
        if importlib.util.find_spec(module_name) is None:
            continue
        found.append(import_path(path)())
    return found


# --- the process ----------------------------------------------------------------------------------

#: The api of the process that booted last (``from hero import api``).
CURRENT: list[Api] = []


class Process:
    """Boot, run and stop one hero process for the app in ``root``."""

    def __init__(self, root: str | Path = ".", *, env: str | None = None,
                 overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.root = Path(root).resolve()
        self.env = env
        self.overrides = overrides
        self.environ = environ
        self.api: Api | None = None
        self.initializers: list[Initializer] = []
        self.started: list[Initializer] = []
        self.stopped = Event()
        self._stopping = False

    def __repr__(self) -> str:
        return f"<hero Process {self.root} {'running' if self.api and self.api.running else 'stopped'}>"

    @property
    def config(self) -> Config:
        assert self.api is not None, "the process has not been initialized"
        return self.api.config

    def initialize(self) -> Api:
        """Load config and code, and run every initializer's ``initialize``; nothing listens yet."""
        config = load_config(self.root, env=self.env, environ=self.environ, overrides=self.overrides)
        configure_logging(config.logger.level, config.logger.format, propagate=config.env == "test")
        api = self.api = Api(config)
        api.process = self
        CURRENT[:] = [api]
        self.initializers = [cls() for cls in CORE_INITIALIZERS] + _extra_initializers()
        for namespace, directory in config.sources("initializers"):
            self.initializers += load_initializers(directory, namespace=namespace)
        self._run_phase("initialize", "load_priority", self.initializers)
        return api

    def start(self) -> Api:
        """Initialize when needed, then start every initializer by ``start_priority``."""
        if self.api is None:
            self.initialize()
        assert self.api is not None
        self._stopping = False
        self.stopped.clear()
        self._run_phase("start", "start_priority", self.initializers, track=True)
        watch_hub(self.config.general.max_blocking_time)
        self.api.running = True
        self.api.processor.stopping = False
        log.info("%s started (env %s, id %s)", self.config.general.server_name, self.config.env, self.api.id)
        return self.api

    def stop(self) -> None:
        """Refuse new actions, let servers drain, stop every started initializer. Safe to call twice."""
        if self._stopping or self.api is None:
            return
        self._stopping = True
        api = self.api
        api.processor.stopping = True
        log.info("hero stopping (%d connections, %d actions in flight)", len(api.connections), api.processor.in_flight)
        for initializer in sorted(reversed(self.started), key=lambda item: item.stop_priority):
            try:
                initializer.stop(api)
            except Exception as error:
                log.error("initializer %s failed to stop: %s", initializer.name, error,
                          exc_info=self.config.general.debug)
        self.started = []
        api.running = False
        self.stopped.set()
        log.info("hero stopped")

    def _run_phase(self, phase: str, priority: str, initializers: list[Initializer], *, track: bool = False) -> None:
        assert self.api is not None
        for initializer in sorted(initializers, key=lambda item: getattr(item, priority)):
            try:
                getattr(initializer, phase)(self.api)
            except Exception as error:
                if track:
                    self.started.append(initializer)  # a half-started initializer gets its stop() too
                self._stopping = False
                self.stop()
                if isinstance(error, HeroError):
                    raise BootError(f"{initializer.name}: {error.message}") from error
                raise BootError(f"initializer {initializer.name} failed in {phase}: "
                                f"{type(error).__name__}: {error}") from error
            if track:
                self.started.append(initializer)

    def run_forever(self, on_ready: Callable[[Api], None] | None = None) -> int:
        """Start, then block until SIGINT, SIGTERM or SIGHUP (a second signal stops at once); 0 on a clean stop.

        SIGHUP stops gracefully too: its default would end the process on the spot (a closed
        terminal, a stray ``kill -HUP``), dropping in-flight actions; hero has no config to reload
        and logs to stderr, so there is no file to reopen.
        """
        self.start()
        assert self.api is not None
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                log.info("signal received; stopping (a second signal stops at once)")
                gevent.spawn(self.stop)
            else:
                log.warning("second signal; exiting now")
                os._exit(1)

        handlers = [gevent.signal_handler(number, on_signal)
                    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
        try:
            if on_ready is not None:
                on_ready(self.api)
            self.stopped.wait()
        finally:
            for handler in handlers:
                handler.cancel()
        return 0
