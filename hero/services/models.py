"""``api.models``: the app's database models, by class name (README, Models). Light on purpose.

This module never imports SQLAlchemy, so that a process without models pays nothing for them;
:mod:`hero.services.orm` (imported only when models are on) builds the engine, finds the classes
in ``models/``, creates the tables, seeds them and gives each action its session.

    api.models.User                   # a model class from models/
    with api.models.session() as db:  # outside actions (tasks, initializers): committed on success
        db.add(api.models.User(email="ann@example.com"))
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from hero.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session


class Models:
    """The model classes of one process (attribute access by class name), its engine and sessions.

    When models are off (no ``models/`` folder, or SQLAlchemy is not installed), ``off`` says why
    and any model lookup raises :class:`DatabaseUnavailable` with that reason.
    """

    def __init__(self, off: str | None = "this app has no models/ folder") -> None:
        #: Why models are off; None once they are on.
        self.off = off
        self.classes: dict[str, type[Any]] = {}
        self.engine: Engine | None = None
        self.url = ""
        #: ``session()`` as hero builds it for actions: a context manager that commits on success.
        self._session: Callable[[], AbstractContextManager[Session]] | None = None

    def __repr__(self) -> str:
        return f"Models({self.off!r})" if self.off else f"Models({self.url!r}, {sorted(self.classes)!r})"

    def __getattr__(self, name: str) -> type[Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        classes = self.__dict__.get("classes", {})
        if name in classes:
            return classes[name]  # type: ignore[no-any-return]
        off = self.__dict__.get("off")
        if off:
            raise DatabaseUnavailable(f"models are off: {off}")
        raise AttributeError(f"no model named {name} (models: {', '.join(sorted(classes)) or 'none'})")

    def __iter__(self) -> Iterator[type[Any]]:
        return iter(self.classes.values())

    def __contains__(self, name: object) -> bool:
        return name in self.classes

    def session(self) -> AbstractContextManager[Session]:
        """A session for code outside actions: committed when the block ends, rolled back on a raise."""
        if self._session is None:
            raise DatabaseUnavailable(f"models are off: {self.off}")
        return self._session()
