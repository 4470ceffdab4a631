"""Build one process's Api: every service, each handed what it needs (no service reaches for ``api``).

    api = build_api(config)          # nothing connects or listens yet
    web = build_web_server(api)      # the web server, with the WebSocket endpoint attached
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hero.config import Config, Namespace
from hero.container import Api, server_id
from hero.core.connection import Connections
from hero.core.processor import ActionProcessor
from hero.core.sails.registry import SailsActionRegistry
from hero.errors import BootError
from hero.runtime.deadlines import Deadlines
from hero.runtime.loader import classes_below
from hero.servers.app_server import AppServer
from hero.servers.base import Server
from hero.servers.http.server import WebServer
from hero.servers.socket.server import SocketServer
from hero.servers.websocket.endpoint import WebSocketEndpoint
from hero.services.cache import Cache
from hero.runtime.tracing import build_tracer
from hero.services.chat import Chat
from hero.services.i18n import I18n
from hero.services.limits import RateLimiter
from hero.services.models import Models
from hero.services.metrics import build_metrics
from hero.services.cluster import Cluster, cluster_channel
from hero.services.public import public_files
from hero.services.signing import DEVELOPMENT_SECRET, MessageSigner
from hero.services.stats import Stats
from hero.services.store import RedisSettings, RedisStore
from hero.tasks.queue import Tasks
from hero.tasks.task import TaskRegistry

if TYPE_CHECKING:
    from hero.servers.http.virtual import VirtualRequests, VirtualResponse

log = logging.getLogger(__name__)


class LazyVirtualRequests:
    """``api.request`` (docs/actions.md, Virtual requests): a
    :class:`~hero.servers.http.virtual.VirtualRequests`, built on the first virtual request."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.built: VirtualRequests | None = None

    def __repr__(self) -> str:
        return f"LazyVirtualRequests({self.built!r})"

    def __call__(self, address: Any, params: Any = None, headers: Any = None, *, method: str | None = None,
                 body: Any = None) -> VirtualResponse:
        if self.built is None:
            # NOTE: lazy: an idle server makes no virtual request (issue 17: idle memory)
            from hero.servers.http.virtual import VirtualRequests

            self.built = VirtualRequests(self.api)
        return self.built(address, params, headers, method=method, body=body)

def build_api(config: Config) -> Api:
    """Every service of one process, each given what it needs; nothing connects or listens yet."""
    general = config.general
    identity = server_id(config)
    store = RedisStore(RedisSettings.from_mapping(config.redis))
    actions = SailsActionRegistry(missing_param_checks=general.missing_param_checks,
                                  scrub_params=not general.disable_param_scrubbing)
    connections = Connections()
    i18n = I18n(config.i18n.default_locale, [directory for _, directory in config.sources("locales")])
    processor = ActionProcessor(actions, deadlines=Deadlines(), simultaneous_actions=general.simultaneous_actions,
                                action_timeout=general.action_timeout,
                                filtered_params=tuple(general.filtered_params),
                                expose_errors=config.env != "production" if general.expose_errors is None
                                else bool(general.expose_errors),
                                max_log_string_length=config.logger.max_log_string_length)
    actions.runner = processor.run_inline
    i18n.install(actions, connections)
    processor.tracer = build_tracer(config.otel)
    signer = MessageSigner(cluster_secret(config, store), window=general.cluster_message_window)
    cluster = Cluster(store, connections, channel=cluster_channel(general.channel, store), signer=signer,
                      server_id=identity, rpc_timeout=general.rpc_timeout,
                      heartbeat_interval=general.peer_heartbeat_interval)
    connections.reach = cluster.apply_to_connection
    chat = Chat(store.client, connections, cluster, key=store.key, server_id=identity,
                max_rooms_per_connection=general.max_rooms_per_connection)
    _wire_chat(chat, cluster, connections, starting_rooms=starting_rooms(config))
    tasks = Tasks(TaskRegistry(missing_param_checks=general.missing_param_checks), store, config.tasks,
                  context=None, server_id=identity, shutdown_timeout=general.shutdown_timeout)
    api = Api(
        config, redis=store, connections=connections, actions=actions, processor=processor,
        cache=Cache(store.client, prefix=store.key(general.cache_prefix), lock_prefix=store.key(general.lock_prefix),
                    lock_duration_ms=general.lock_duration_ms, lock_name=identity, commands=store.commands),
        stats=Stats(store), cluster=cluster, chat=chat, tasks=tasks,
        public=public_files([directory for _, directory in config.sources("public")], config.web),
        server_id=identity, limits=RateLimiter(store, general.rate_limit), i18n=i18n, models=Models(),
    )
    processor.api = tasks.api = api
    api.requester = LazyVirtualRequests(api)
    # NOTE: "actions:<connection type>", beside the transports' own counters such as "web:requests"
    processor.listeners.append(api.stats.count_action)
    if (metrics := build_metrics(config.metrics)) is not None:  # NOTE: when off, no listener at all
        api.metrics = metrics
        processor.listeners.append(metrics.on_action)
        chat.listeners.append(metrics.on_chat)
        tasks.listeners.append(metrics.on_task)
        store.error_hooks.append(metrics.on_redis_error)
        metrics.connection_counts, metrics.in_flight = connections.count_by_type, lambda: processor.in_flight
        metrics.queue_depths = lambda: {name: tasks.queue(name).count for name in tasks.queue_names()}
    return api


def starting_rooms(config: Config) -> list[str]:
    """The rooms that exist from boot: ``general.starting_chat_rooms`` and ``socket.default_room``."""
    rooms = [str(room) for room in config.general.starting_chat_rooms or ()]
    default = config.socket.default_room
    if default and default not in rooms:
        rooms.append(str(default))
    return rooms


def cluster_secret(config: Config, store: RedisStore) -> str:
    """The secret cluster messages are signed with: ``general.cluster_secret`` (``HERO_CLUSTER_SECRET``).

    Without one, a process on the embedded store needs none (no other process can hear it: a random
    one serves), development and test share a built-in secret so local processes still form a
    cluster, and production on a shared Redis refuses to boot.
    """
    secret = config.general.cluster_secret
    if secret:
        return str(secret)
    if store.embedded:
        return secrets.token_hex(32)
    if config.env == "production":
        raise BootError("general.cluster_secret (or HERO_CLUSTER_SECRET) must be set in production with a shared "
                        "Redis: every process of the cluster signs its messages with it")
    log.warning("cluster: no general.cluster_secret; signing cluster messages with hero's development secret "
                "(set HERO_CLUSTER_SECRET before sharing this Redis with anything you do not trust)")
    return DEVELOPMENT_SECRET


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


def build_servers(api: Api) -> dict[str, Server]:
    """The transports enabled in config, by namespace (each started when ``<namespace>.enabled``),
    then the app's and its plugins' own servers (docs/servers.md), by type."""
    built: dict[str, Server] = {}
    if api.config.web.enabled:
        built["web"] = build_web_server(api)
    if api.config.socket.enabled:
        built["socket"] = SocketServer(api, api.config.socket)
    built.update(build_app_servers(api))
    return built


def build_app_servers(api: Api) -> dict[str, Server]:
    """Each :class:`AppServer` below the app's ``servers/`` folder and its plugins', built with
    ``config.servers[<type>]`` over its ``default_config``; one whose entry says ``enabled: False`` is skipped."""
    built: dict[str, Server] = {}
    entries = api.config.servers
    if entries.get("enabled", True) is False:
        return built  # NOTE: `servers = {"enabled": False}`: none of the app's servers (the spec helper)
    for namespace, directory in api.config.sources("servers"):
        for server_class, path in classes_below(directory, namespace, AppServer, named_only=False):
            try:
                server_class.validate(set(built))
            except BootError as error:
                raise BootError(f"{path}: {error.message}") from error
            entry = entries.get(server_class.type)
            if entry is not None and not isinstance(entry, Mapping):
                raise BootError(f"config servers.{server_class.type} must be a dict, got {type(entry).__name__}")
            values = {**server_class.default_config, **(entry.to_dict() if isinstance(entry, Namespace) else {})}
            if not values.get("enabled", True):
                log.info("server %s is disabled (config servers.%s.enabled)", server_class.type, server_class.type)
                continue
            built[server_class.type] = server_class(api, Namespace(f"servers.{server_class.type}", values))
    unknown = set(entries) - set(built) - {"enabled"} - {name for name, entry in entries.items()
                                            if isinstance(entry, Mapping) and entry.get("enabled") is False}
    if unknown:
        raise BootError(f"config servers: no server of type {', '.join(sorted(unknown))} in the app or its plugins")
    return built
