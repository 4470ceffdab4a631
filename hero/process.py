"""The one place that wires a hero process together: build every service, boot, start, stop, signals.

    process = Process("path/to/app")   # the folder holding config.py, actions/, ...
    process.start()                    # initialize + start every initializer, servers listen
    process.stop()                     # servers drain, then everything stops in order

:func:`build_api` makes each service and hands it what it needs (no service reaches for ``api``);
hero's own initializers below give them their place in the lifecycle, beside the app's.
"""
from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event

from hero.config import Config, load_config
from hero.container import Api, Initializer, server_id
from hero.core.action import Action, ActionRegistry
from hero.core.connection import Connections
from hero.core.processor import ActionProcessor
from hero.errors import BootError, HeroError
from hero.runtime.deadlines import Deadlines
from hero.runtime.loader import classes_below
from hero.runtime.logging import configure_logging
from hero.runtime.monitor import watch_hub
from hero.servers.base import Server
from hero.servers.http.server import WebServer
from hero.servers.socket.server import SocketServer
from hero.servers.websocket.endpoint import WebSocketEndpoint
from hero.services.cache import Cache
from hero.services.chat import Chat
from hero.services.cluster import Cluster, cluster_channel
from hero.services.i18n import I18n
from hero.services.limits import RateLimiter
from hero.services.models import Models
from hero.services.public import public_files
from hero.services.stats import Stats
from hero.services.store import STORE_ERRORS, RedisSettings, RedisStore
from hero.tasks.queue import Tasks
from hero.tasks.task import Task, TaskRegistry

log = logging.getLogger(__name__)

#: hero's own folders of actions and tasks, loaded before the app's.
BUILTIN_ACTIONS = Path(__file__).parent / "builtin_actions"
BUILTIN_TASKS = Path(__file__).parent / "tasks" / "builtin"


def build_api(config: Config) -> Api:
    """Every service of one process, each given what it needs; nothing connects or listens yet."""
    general = config.general
    identity = server_id(config)
    store = RedisStore(RedisSettings.from_mapping(config.redis))
    actions = ActionRegistry(missing_param_checks=general.missing_param_checks,
                             scrub_params=not general.disable_param_scrubbing)
    connections = Connections()
    i18n = I18n(config.i18n.default_locale, [directory for _, directory in config.sources("locales")])
    processor = ActionProcessor(actions, deadlines=Deadlines(), simultaneous_actions=general.simultaneous_actions,
                                action_timeout=general.action_timeout,
                                filtered_params=tuple(general.filtered_params))
    actions.runner = processor.run_inline
    i18n.install(actions, connections)
    cluster = Cluster(store, connections, channel=cluster_channel(general.channel, store),
                      token=general.server_token, server_id=identity, rpc_timeout=general.rpc_timeout,
                      heartbeat_interval=general.peer_heartbeat_interval)
    connections.reach = cluster.apply_to_connection
    chat = Chat(store.client, connections, cluster, key=store.key, server_id=identity,
                max_rooms_per_connection=general.max_rooms_per_connection)
    _wire_chat(chat, cluster, connections, starting_rooms=general.starting_chat_rooms)
    tasks = Tasks(TaskRegistry(missing_param_checks=general.missing_param_checks), store, config.tasks,
                  context=None, server_id=identity, shutdown_timeout=general.shutdown_timeout)
    api = Api(
        config, redis=store, connections=connections, actions=actions, processor=processor,
        cache=Cache(store.client, prefix=store.key(general.cache_prefix), lock_prefix=store.key(general.lock_prefix),
                    lock_duration_ms=general.lock_duration_ms, lock_name=identity),
        stats=Stats(store), cluster=cluster, chat=chat, tasks=tasks,
        public=public_files([directory for _, directory in config.sources("public")], config.web),
        server_id=identity, limits=RateLimiter(store, general.rate_limit), i18n=i18n, models=Models(),
    )
    processor.api = tasks.api = api
    # NOTE: "actions:<connection type>", beside the transports' own counters such as "web:requests"
    processor.listeners.append(lambda data: api.stats.increment(f"actions:{data.connection.type}"))
    return api


def _wire_chat(chat: Chat, cluster: Cluster, connections: Connections, *, starting_rooms: Any) -> None:
    """Chat rides on the cluster: its messages, its remote membership calls, and recovery."""
    cluster.handlers["chat"] = chat.deliver
    cluster.register("chat.add_member", chat.add_member)
    cluster.register("chat.remove_member", chat.remove_member)
    cluster.register("chat.evict", chat.evict)
    connections.destroy_hooks.append(chat.leave_all)
    cluster.reconnect_hooks.append(lambda: chat.restore(starting_rooms))
    cluster.peer_lost_hooks.append(chat.forget_host)


def build_web_server(api: Api) -> WebServer:
    """The web server, with the WebSocket endpoint on ``websocket.path`` when WebSockets are enabled
    (also used by the gunicorn worker, which listens on gunicorn's socket instead)."""
    web = WebServer(api, api.config.web)
    if api.config.websocket.enabled:
        web.attach_websocket(WebSocketEndpoint(api, api.config.websocket, web))
    return web


def _build_servers(api: Api) -> dict[str, Server]:
    """The transports enabled in config, by namespace (each started when ``<namespace>.enabled``)."""
    built: dict[str, Server] = {}
    if api.config.web.enabled:
        built["web"] = build_web_server(api)
    if api.config.socket.enabled:
        built["socket"] = SocketServer(api, api.config.socket)
    return built


# --- hero's own initializers ----------------------------------------------------------------------


class RedisInitializer(Initializer):
    name = "redis"
    load_priority = 200
    start_priority = 101
    stop_priority = 99_999

    def initialize(self, api: Api) -> None:
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


class StatsInitializer(Initializer):
    name = "stats"
    load_priority = 300
    start_priority = 300
    stop_priority = 900

    def start(self, api: Api) -> None:
        api.stats.start()

    def stop(self, api: Api) -> None:
        api.stats.stop()


class ClusterInitializer(Initializer):
    name = "cluster"
    load_priority = 350
    start_priority = 150
    stop_priority = 950

    def start(self, api: Api) -> None:
        api.cluster.start()

    def stop(self, api: Api) -> None:
        api.cluster.stop()


class ChatInitializer(Initializer):
    name = "chat"
    load_priority = 360
    start_priority = 200
    stop_priority = 940

    def start(self, api: Api) -> None:
        api.chat.create_starting_rooms(api.config.general.starting_chat_rooms)


class ModelsInitializer(Initializer):
    name = "models"  # README, Models: found at load; tables and seeds at start, once per cluster
    load_priority = 380
    start_priority = 250
    stop_priority = 1050  # NOTE: after the app's initializers (1000), which may still use the database

    def initialize(self, api: Api) -> None:
        api.models.open(api.config, api.processor.scopes)

    def start(self, api: Api) -> None:
        api.models.prepare(api.redis.client, api.redis.key("models:prepare"), api.config.models.seed_lock_timeout)

    def stop(self, api: Api) -> None:
        api.models.close()


class ActionsInitializer(Initializer):
    name = "actions"
    load_priority = 410

    def initialize(self, api: Api) -> None:
        for namespace, directory in [("builtin_actions", BUILTIN_ACTIONS), *api.config.sources("actions")]:
            count = 0
            for action_class, path in classes_below(directory, namespace, Action):
                api.actions.add(action_class, source=str(path))
                count += 1
            log.debug("loaded %d actions from %s", count, directory)

    def start(self, api: Api) -> None:
        api.limits.install(api.actions)
        api.actions.check_middleware()


class TasksInitializer(Initializer):
    """Loads ``tasks/`` (and the built-in tasks) into ``api.tasks``; starts the scheduler and workers."""

    name = "tasks"
    load_priority = 420
    #: After the app's initializers (default 1000): jobs may need what they start.
    start_priority = 1100
    #: Before the app's initializers stop: running jobs may still need them.
    stop_priority = 200

    def initialize(self, api: Api) -> None:
        for namespace, directory in [("builtin_tasks", BUILTIN_TASKS), *api.config.sources("tasks")]:
            count = 0
            for task_class, path in classes_below(directory, namespace, Task):
                api.tasks.registry.add(task_class, source=str(path))
                count += 1
            log.debug("loaded %d tasks from %s", count, directory)

    def start(self, api: Api) -> None:
        api.tasks.registry.check_middleware()
        api.tasks.start()

    def stop(self, api: Api) -> None:
        api.tasks.stop()


class ServersInitializer(Initializer):
    name = "servers"
    load_priority = 599
    start_priority = 900
    stop_priority = 100

    def initialize(self, api: Api) -> None:
        api.servers.update(_build_servers(api))

    def start(self, api: Api) -> None:
        for server in api.servers.values():
            server.start()
            log.info("%s server listening on %s", server.type, server.url)

    def stop(self, api: Api) -> None:
        timeout = api.config.general.shutdown_timeout
        greenlets = [gevent.spawn(server.stop, timeout) for server in api.servers.values()]
        gevent.joinall(greenlets, timeout=timeout + 5)


HERO_INITIALIZERS: tuple[type[Initializer], ...] = (
    RedisInitializer, StatsInitializer, ClusterInitializer, ChatInitializer, ModelsInitializer, ActionsInitializer,
    TasksInitializer, ServersInitializer,
)


def app_initializers(directory: Path, namespace: str) -> list[Initializer]:
    """Instances of every Initializer subclass defined below ``directory`` (an app's or a plugin's)."""
    found: list[Initializer] = []
    for initializer_class, path in classes_below(directory, namespace, Initializer, named_only=False):
        try:
            initializer_class.validate()
        except BootError as error:
            raise BootError(f"{path}: {error.message}") from error
        found.append(initializer_class())
    return found


# --- the process ----------------------------------------------------------------------------------

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
        api = self.api = build_api(config)
        api.process = self
        Api.current = api
        self.initializers = [cls() for cls in HERO_INITIALIZERS]
        for namespace, directory in config.sources("initializers"):
            self.initializers += app_initializers(directory, namespace)
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
        if Api.current is api:
            Api.current = None
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
