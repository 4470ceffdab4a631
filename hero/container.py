"""The ``Api`` container: what one running hero process hands to every part, and the lifecycle of those parts.

``hero.process`` builds one Api per process with every service in it (nothing here is ``None``
after boot), then runs the :class:`Initializer` phases. Actions reach it as ``data.api``, tasks as
``worker.api``/``data.api``, initializers as their ``api`` argument, and any code as
``from hero import api`` once a process has booted.

This module sits above the pipeline (``hero.core``), the services and the tasks, and below the
transports: it names their types, and none of them imports it.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, ClassVar, Protocol

from hero.config import Config
from hero.core.sails.registry import SailsActionRegistry
from hero.core.connection import Connections
from hero.core.params.safe import GlobalParams
from hero.core.processor import ActionProcessor
from hero.core.routes import Routes
from hero.errors import BootError
from hero.services.cache import Cache
from hero.services.chat import Chat
from hero.services.cluster import Cluster
from hero.services.metrics import Metrics
from hero.services.i18n import I18n
from hero.services.limits import RateLimiter
from hero.services.models import Models
from hero.services.public import PublicFiles
from hero.services.stats import Stats
from hero.services.store import RedisStore
from hero.tasks.queue import Tasks


class Listener(Protocol):
    """A transport as the Api sees it (the classes live in ``hero.servers``, above this module)."""

    type: ClassVar[str]

    @property
    def url(self) -> str | None: ...

    def start(self) -> None: ...

    def stop(self, timeout: float) -> None: ...


class Requester(Protocol):
    """Virtual requests (``api.request``): the web app without a socket (``hero.servers.http.virtual``)."""

    def __call__(self, address: Any, params: Any = None, headers: Any = None, *, method: str | None = None,
                 body: Any = None) -> Any: ...


class Controller(Protocol):
    """The process running an Api, for code that stops it (``api.process.stop()``)."""

    def stop(self) -> None: ...


class Api:
    """The services of one process. Built whole by ``hero.process``; apps add their own attributes."""

    #: The Api of the process that booted last and has not stopped (``from hero import api``).
    current: ClassVar[Api | None] = None

    def __init__(self, config: Config, *, redis: RedisStore, cache: Cache, stats: Stats,
                 actions: SailsActionRegistry, connections: Connections, processor: ActionProcessor,
                 cluster: Cluster, chat: Chat, tasks: Tasks, public: PublicFiles, server_id: str,
                 limits: RateLimiter, i18n: I18n, models: Models, routes: Routes | None = None) -> None:
        self.config = config
        self.env = config.env
        self.id = server_id
        self.log = logging.getLogger("hero.app")
        self.started_at = int(time.time() * 1000)
        self.running = False
        self.redis = redis
        self.cache = cache
        self.stats = stats
        self.actions = actions
        #: The params every action accepts undeclared (``api.params.add_global_safe``; docs/actions.md).
        self.params = GlobalParams(actions)
        self.connections = connections
        self.processor = processor
        self.cluster = cluster
        self.chat = chat
        self.tasks = tasks
        #: Request limits (docs/limits.md, Request rate); its middleware is added only when a budget is set.
        self.limits = limits
        #: The locale catalogs (docs/actions.md, Localization), behind ``connection.localize``.
        self.i18n = i18n
        #: The app's models by class name (README, Models); ``models.off`` says why when there are none.
        self.models = models
        #: The app's public folders (and its plugins'), for the web server and the ``file`` verb.
        self.public = public
        #: Transports by config namespace (``web``, ``socket``), filled when they are built.
        self.servers: dict[str, Listener] = {}
        #: The process running this api (for stop/restart from code).
        self.process: Controller | None = None
        #: The HTTP route table, with ``route_for`` / ``url_for``.
        self.routes: Routes = routes if routes is not None else Routes.from_config(config.routes, config.web)
        #: What ``request`` runs (set by the wiring: the transports sit above this module).
        self.requester: Requester | None = None
        #: Prometheus metrics, when ``metrics.enabled`` (docs/deployment.md, Metrics); else None.
        self.metrics: Metrics | None = None

    def request(self, address: Any, params: Any = None, headers: Any = None, **options: Any) -> Any:
        """A virtual request, without any socket, through routing, middleware, inputs and exits exactly
        as HTTP would (docs/actions.md, Virtual requests): ``api.request("POST /api/users", params={...})``,
        ``api.request({"url": ..., "method": ..., "params": ..., "headers": ...})``. Returns a
        ``VirtualResponse`` (``status``, ``headers``, ``body``)."""
        if self.requester is None:
            raise RuntimeError("virtual requests need a booted process")
        return self.requester(address, params, headers, **options)

    def __repr__(self) -> str:
        return f"<hero api {self.id} env={self.env} running={self.running}>"


def server_id(config: Config) -> str:
    """``general.id``, else ``host:pid``: how the cluster names this process."""
    return str(config.general.id or f"{socket.gethostname()}:{os.getpid()}")


class Initializer:
    """One part of a process's lifecycle: subclass and override ``initialize``, ``start``, ``stop``.

    hero's own parts are initializers; an app adds its own in ``initializers/``. Within a phase they
    run by ascending priority; stop runs by ascending ``stop_priority`` (hero's servers stop first,
    Redis last).
    """

    name: ClassVar[str] = ""
    load_priority: ClassVar[float] = 1000
    start_priority: ClassVar[float] = 1000
    stop_priority: ClassVar[float] = 1000

    def initialize(self, api: Api) -> None:
        """Build what others need (``api.x = ...``); nothing listens or connects out yet."""

    def start(self, api: Api) -> None:
        """Start working: listen, subscribe, spawn greenlets."""

    def stop(self, api: Api) -> None:
        """Undo ``start``; called once, also after a failed boot for what had started."""

    def __repr__(self) -> str:
        return (f"<Initializer {self.name} load={self.load_priority} start={self.start_priority} "
                f"stop={self.stop_priority}>")

    @classmethod
    def validate(cls) -> None:
        if not cls.name or not isinstance(cls.name, str):
            raise BootError(f"{cls.__name__}: an initializer needs a name")
        for attribute in ("load_priority", "start_priority", "stop_priority"):
            value = getattr(cls, attribute)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise BootError(f"initializer {cls.name}: {attribute} must be a number > 0")
