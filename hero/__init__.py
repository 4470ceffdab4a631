"""hero: actionhero for Python. Write an action once; serve it over HTTP, WebSockets and TCP.

    from hero import Action, Input

    class Hello(Action):
        name = "hello"
        inputs = {"name": Input(default="world")}

        def run(self, data):
            return {"greeting": f"hello {data.params['name']}"}

Every name an app needs is here; apps import nothing else. The pipeline's names load at once;
the ones that bring in gevent, Redis or RQ (``Api``, ``Initializer``, ``ChatMiddleware``) load on
first use, so that ``import hero`` stays cheap and imports nothing an entry point must patch first.
``Exit`` (Sails-style machine actions) loads on first use too: a server with no such action never
imports :mod:`hero.core.sails.machine` (issue 17: idle memory).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hero.core.action import Action, ActionData, action
from hero.core.connection import Connection
from hero.core.lazy import lazy_attributes
from hero.core.middleware import ActionMiddleware, ConnectionMiddleware
from hero.core.params.spec import Input
from hero.core.stream import SSEEvent
from hero.errors import (
    ActionTimeout,
    BlockedConnectionType,
    BootError,
    ChatError,
    CodedError,
    ConfigError,
    DatabaseUnavailable,
    HeroError,
    InvalidParam,
    MissingParam,
    ObjectLocked,
    ObjectNotFound,
    RequestLimitExceeded,
    RpcTimeout,
    ServerShuttingDown,
    StoreUnavailable,
    TaskError,
    TaskNotFound,
    TooManyPendingActions,
    UnknownAction,
    VerbNotAllowed,
)
from hero.tasks.task import Task, TaskData, TaskMiddleware

if TYPE_CHECKING:
    from hero.container import Api, Initializer
    from hero.core.sails.machine import Exit
    from hero.servers.app_server import AppServer
    from hero.services.chat import ChatMiddleware
    from hero.services.orm import Model

__version__ = "0.1.0"

__all__ = [
    "Action", "ActionData", "ActionMiddleware", "ActionTimeout", "Api", "AppServer", "BlockedConnectionType", "BootError",
    "ChatError", "ChatMiddleware", "CodedError", "ConfigError", "Connection", "ConnectionMiddleware",
    "DatabaseUnavailable", "Exit", "HeroError", "Initializer", "Input", "InvalidParam", "MissingParam", "Model",
    "ObjectLocked", "ObjectNotFound", "RequestLimitExceeded", "RpcTimeout", "SSEEvent", "ServerShuttingDown", "StoreUnavailable",
    "Task", "TaskData", "TaskError", "TaskMiddleware", "TaskNotFound", "TooManyPendingActions", "UnknownAction",
    "VerbNotAllowed", "__version__", "action", "api",
]

#: Names that load on first use, and the module each comes from.
_LAZY = {"Api": "hero.container", "Initializer": "hero.container", "ChatMiddleware": "hero.services.chat",
         "AppServer": "hero.servers.app_server", "Model": "hero.services.orm", "Exit": "hero.core.sails.machine"}


# NOTE: imported on first use, not at the top: these modules import gevent, redis and rq, which the entry
# points (the CLI, the gunicorn worker) must monkey-patch before anything imports them; and lazy: an
# idle server never needs Exit's machine actions (issue 17: idle memory).
__getattr__ = lazy_attributes("hero", globals(), _LAZY)


class _ApiProxy:
    """``from hero import api``: the Api of the process that booted, once it has."""

    def _target(self) -> Api:
        from hero.container import Api  # NOTE: lazily, for the reason in __getattr__

        if Api.current is None:
            raise RuntimeError("hero has not booted yet: `api` exists once a Process is initialized")
        return Api.current

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __repr__(self) -> str:
        try:
            return repr(self._target())
        except RuntimeError:
            return "<hero api (not booted)>"


api: Any = _ApiProxy()
