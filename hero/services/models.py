"""``api.models``: the app's database models, by class name (README, Models). Light on purpose.

This module never imports SQLAlchemy, so that a process without models pays nothing for them;
:mod:`hero.services.orm` (imported only when models are on) builds the engine, finds the classes
in ``models/``, creates the tables, seeds them and gives each action its session.

    api.models.User                   # a model class from models/
    with api.models.session() as db:  # outside actions (tasks, initializers): committed on success
        db.add(api.models.User(email="ann@example.com"))
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from hero.config import Config
from hero.errors import BootError, DatabaseUnavailable

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session


class Database(Protocol):
    """What :mod:`hero.services.orm` opens (named here without importing SQLAlchemy)."""

    classes: dict[str, type[Any]]
    engine: Engine

    @property
    def url(self) -> str: ...

    def action_scope(self, data: Any) -> AbstractContextManager[Any]: ...

    def session(self) -> AbstractContextManager[Session]: ...

    def prepare_once(self, client: Any, key: str, timeout: float) -> Any: ...

    def close(self) -> None: ...


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
        self._database: Database | None = None

    def __repr__(self) -> str:
        return f"Models({self.off!r})" if self.off else f"Models({self.url!r}, {sorted(self.classes)!r})"

    def __getattr__(self, name: str) -> type[Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        classes = self.__dict__.get("classes", {})
        if name in classes:
            return classes[name]
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

    def open(self, config: Config, scopes: list[Callable[[Any], AbstractContextManager[Any]]]) -> None:
        """At load: when models are on, find the classes, build the engine and add the action scope
        (a session per action) to ``scopes``. Off without a ``models/`` folder; a warning (or, with
        ``models.enabled = True``, a BootError) when SQLAlchemy is not installed."""
        settings = config.models
        enabled = settings.enabled
        if enabled is not None and not isinstance(enabled, bool):
            raise BootError(f"config models.enabled must be true, false or null, got {enabled!r}")
        folders = [(namespace, folder) for namespace, folder in config.sources("models")
                   if folder.is_dir() and any(folder.rglob("*.py"))]
        if enabled is False or (enabled is None and not folders):
            self.off = "models.enabled is false" if enabled is False else "this app has no models/ folder"
            return
        try:
            # NOTE: imported here: SQLAlchemy is an optional extra, loaded only by apps with models.
            from hero.services import orm
        except ImportError as error:
            hint = f"models need SQLAlchemy ({error.name} is missing): pip install -e '.[models]'"
            if enabled:
                raise BootError(hint) from None
            log.warning("models: %s; this app's models/ are off", hint)
            self.off = hint
            return
        database = self._database = orm.open_database(settings, folders, root=config.root, env=config.env)
        self.off, self.classes, self.engine, self.url = None, database.classes, database.engine, database.url
        self._session = database.session
        # NOTE: the scope's class bound to the database, not ``database.action_scope``: the processor
        # calls this once per action, and a partial of a class is called without a Python frame.
        scopes.append(partial(orm.ActionScope, database))

    def prepare(self, client: Any, key: str, timeout: float) -> None:
        """At start: create missing tables and seed empty ones, one process of the cluster at a time."""
        if self._database is not None:
            self._database.prepare_once(client, key, timeout)
            log.info("models: %s on %s", ", ".join(sorted(self.classes)) or "none", self.url)

    def close(self) -> None:
        if self._database is not None:
            self._database.close()
