"""Middleware: named hooks ordered by priority (lower first; ties keep registration order).

Each kind is a small class with named hook points. Subclass it, or build one from functions:

    ActionMiddleware("auth", is_global=True, priority=10, pre_process=check_token)
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from hero.errors import BootError

DEFAULT_PRIORITY = 100


class Middleware:
    """A named set of hooks. Hooks not given keep the class's (no-op) ones."""

    #: Unique within its kind.
    name: str = ""
    #: Lower runs first.
    priority: int = DEFAULT_PRIORITY
    #: The hook names this kind offers.
    hooks: tuple[str, ...] = ()

    def __init__(self, name: str | None = None, *, priority: int | None = None, **hooks: Callable[..., Any]) -> None:
        if name is not None:
            self.name = name
        if priority is not None:
            self.priority = priority
        for hook, function in hooks.items():
            if hook not in self.hooks:
                raise TypeError(f"{type(self).__name__} has no hook {hook!r} (it has {', '.join(self.hooks)})")
            setattr(self, hook, function)
        self.validate()

    def validate(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise BootError(f"{type(self).__name__}: a middleware needs a name")
        if isinstance(self.priority, bool) or not isinstance(self.priority, (int, float)):
            raise BootError(f"middleware {self.name}: priority must be a number")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, priority={self.priority})"


class ActionMiddleware(Middleware):
    """Runs around actions: every action when global, else only actions that list its name."""

    hooks = ("pre_process", "post_process")
    #: Run for every action (else only for actions naming it in ``middleware``).
    is_global: bool = False

    def __init__(self, name: str | None = None, *, is_global: bool | None = None, priority: int | None = None,
                 **hooks: Callable[..., Any]) -> None:
        if is_global is not None:
            self.is_global = is_global
        super().__init__(name, priority=priority, **hooks)

    def pre_process(self, data: Any) -> None:
        """Before scrubbing and validation; sees the raw params. A raise ends the action with that error."""

    def post_process(self, data: Any) -> None:
        """After ``run``; may change ``data.response``. A raise ends the action with that error."""


class ConnectionMiddleware(Middleware):
    """Runs when a connection is made (``create``; a raise refuses it) and when it goes (``destroy``)."""

    hooks = ("create", "destroy")

    def create(self, connection: Any) -> None:
        """A connection was made."""

    def destroy(self, connection: Any) -> None:
        """A connection is going away."""


M = TypeVar("M", bound=Middleware)


class MiddlewareChain(Generic[M]):
    """The middleware of one kind, kept sorted by priority."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: list[M] = []
        self._by_name: dict[str, M] = {}
        #: Bumped on every change, so callers can cache what they derive from the chain.
        self.generation = 0

    def __repr__(self) -> str:
        return f"MiddlewareChain({self.kind!r}, {[m.name for m in self._items]!r})"

    def add(self, middleware: M) -> M:
        middleware.validate()
        if middleware.name in self._by_name:
            raise BootError(f"{self.kind} middleware {middleware.name!r} is already registered")
        self._by_name[middleware.name] = middleware
        self._items.append(middleware)
        # NOTE: sorted() is stable, so equal priorities keep their registration order.
        self._items = sorted(self._items, key=lambda item: item.priority)
        self.generation += 1
        return middleware

    def remove(self, name: str) -> None:
        middleware = self._by_name.pop(name)
        self._items.remove(middleware)
        self.generation += 1

    def get(self, name: str) -> M:
        try:
            return self._by_name[name]
        except KeyError:
            raise BootError(f"{self.kind} middleware {name!r} is not registered") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[M]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
