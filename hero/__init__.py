"""hero: actionhero for Python. Write an action once; serve it over HTTP, WebSockets and TCP.

    from hero import Action, Input

    class Hello(Action):
        name = "hello"
        inputs = {"name": Input(default="world")}

        def run(self, data):
            return {"greeting": f"hello {data.params['name']}"}
"""
from __future__ import annotations

from typing import Any

from hero.core.action import Action, action
from hero.core.connection import Connection
from hero.errors import HeroError
from hero.runtime.initializer import Initializer
from hero.core.middleware import ActionMiddleware, ConnectionMiddleware
from hero.core.params.spec import Input
from hero.tasks.task import Task, TaskMiddleware

__version__ = "0.1.0"

__all__ = [
    "Action", "ActionMiddleware", "Connection", "ConnectionMiddleware", "HeroError", "Initializer", "Input",
    "Task", "TaskMiddleware", "action", "api", "__version__",
]


class _ApiProxy:
    """``from hero import api``: the api of the process that booted, once it has."""

    def _target(self) -> Any:
        from hero.process import CURRENT

        if not CURRENT:
            raise RuntimeError("hero has not booted yet: `api` exists once a Process is initialized")
        return CURRENT[0]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __repr__(self) -> str:
        from hero.process import CURRENT

        return repr(CURRENT[0]) if CURRENT else "<hero api (not booted)>"


api: Any = _ApiProxy()
