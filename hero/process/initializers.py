"""hero's own initializers: each service's place in the lifecycle (start, stop), beside the app's."""
from __future__ import annotations

import logging
from pathlib import Path

import gevent

from hero.container import Api, Initializer
from hero.errors import BootError
from hero.process.wiring import build_servers, starting_rooms
from hero.runtime.loader import classes_below, load_actions
from hero.services.store import STORE_ERRORS
from hero.tasks.task import Task

log = logging.getLogger(__name__)

#: hero's own folders of actions and tasks, loaded before the app's.
BUILTIN_ACTIONS = Path(__file__).parent.parent / "builtin_actions"
BUILTIN_TASKS = Path(__file__).parent.parent / "tasks" / "builtin"

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
        if api.metrics is not None:  # NOTE: metrics flush as stats do, so one initializer starts both
            api.metrics.start()

    def stop(self, api: Api) -> None:
        api.stats.stop()
        if api.metrics is not None:
            api.metrics.stop()


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
        api.chat.create_starting_rooms(starting_rooms(api.config))


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
        general = api.config.general
        if general.pagination_defaults:
            api.actions.add_global_safe(["limit", "offset"], {"limit": general.pagination_limit, "offset": 0})
        sources = [("builtin_actions", BUILTIN_ACTIONS), *api.config.sources("actions")]
        load_actions(sources, api.actions)
        api.actions.loader = lambda registry: load_actions(sources, registry)  # api.actions.reload()

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
        api.servers.update(build_servers(api))

    def start(self, api: Api) -> None:
        level = logging.DEBUG if getattr(api.process, "announces", False) else logging.INFO
        for server in api.servers.values():
            server.start()
            log.log(level, "%s server listening on %s", server.type, server.url)

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
