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
from typing import ClassVar, Protocol

from hero.config import Config
from hero.core.action import ActionRegistry
from hero.core.connection import Connections
from hero.core.params.safe import GlobalParams
from hero.core.processor import ActionProcessor
from hero.errors import BootError
from hero.services.cache import Cache
from hero.services.chat import Chat
from hero.services.cluster import Cluster
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


class Controller(Protocol):
    """The process running an Api, for code that stops it (``api.process.stop()``)."""

    def stop(self) -> None: ...


class Api:
    """The services of one process. Built whole by ``hero.process``; apps add their own attributes."""

    #: The Api of the process that booted last and has not stopped (``from hero import api``).
    current: ClassVar[Api | None] = None

    def __init__(self, config: Config, *, redis: RedisStore, cache: Cache, stats: Stats,
                 actions: ActionRegistry, connections: Connections, processor: ActionProcessor,
                 cluster: Cluster, chat: Chat, tasks: Tasks, public: PublicFiles, server_id: str) -> None:
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
        #: The app's public folders (and its plugins'), for the web server and the ``file`` verb.
        self.public = public
        #: Transports by config namespace (``web``, ``socket``), filled when they are built.
        self.servers: dict[str, Listener] = {}
        #: The process running this api (for stop/restart from code).
        self.process: Controller | None = None

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
