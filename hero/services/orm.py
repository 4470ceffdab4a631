"""Models on SQLAlchemy 2 (README, Models): the engine, the classes of ``models/``, tables, seeds,
and one session per action. Imported only when models are on (it imports SQLAlchemy).

    # models/user.py
    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column
    from hero import Model

    class User(Model):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(String(200))

        @classmethod
        def seeds(cls):
            return [{"email": "ann@example.com"}]

Drivers are ones that yield to gevent, so that a slow query holds only its own action:
``postgresql://`` means psycopg 3 and ``mysql://`` / ``mariadb://`` PyMySQL (pure Python, on
gevent's sockets). SQLite (the default, a file in the app folder) does not yield; hero gives it one
pooled connection, so its actions take turns instead of blocking the loop on SQLite's lock.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, exc, inspect, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

from hero.core.action import ActionData
from hero.errors import BootError, DatabaseUnavailable, HeroError
from hero.runtime.loader import classes_in, iter_modules

log = logging.getLogger(__name__)

#: A URL's backend without a driver → the driver hero uses for it (one that yields to gevent).
DRIVERS = {"postgresql": "psycopg", "postgres": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}


class Model(DeclarativeBase):
    """hero's ready declarative base (``from hero import Model``); an app may bring its own instead.

    Its registry is reset each time a process loads ``models/`` (one app per interpreter).
    """

    def to_dict(self) -> dict[str, Any]:
        """The column values by attribute name (JSON-ready for the usual column types)."""
        return {column.key: getattr(self, column.key) for column in inspect(type(self)).column_attrs}


def database_url(value: Any, root: Path, env: str) -> URL:
    """``models.url`` as SQLAlchemy's URL: default a SQLite file ``hero-<env>.sqlite3`` in the app
    folder; a backend named without a driver gets the gevent-friendly one (:data:`DRIVERS`)."""
    if value is None:
        return make_url(f"sqlite:///{root / f'hero-{env}.sqlite3'}")
    if not isinstance(value, str):
        raise BootError(f"config models.url must be a database URL string, got {value!r}")
    try:
        url = make_url(value)
    except exc.ArgumentError as error:
        raise BootError(f"config models.url is not a database URL: {error}") from None
    if url.drivername in DRIVERS:
        url = url.set(drivername=f"{'postgresql' if url.drivername == 'postgres' else url.drivername}+"
                                 f"{DRIVERS[url.drivername]}")
    return url


def build_engine(url: URL, settings: Mapping[str, Any]) -> Engine:
    """An engine with the pool bounds and timeouts of config ``models``."""
    connect_timeout = settings["connect_timeout"]
    options: dict[str, Any] = {"echo": bool(settings["echo"])}
    if url.get_backend_name() == "sqlite":
        # NOTE: SQLite waits for its lock inside C, holding the gevent loop: one connection that
        # actions take turns on (the pool's wait is cooperative) instead of several that block.
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": connect_timeout}
        if url.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool
        else:
            options.update(pool_size=1, max_overflow=0, pool_timeout=settings["pool_timeout"])
    else:
        connect_args = {"connect_timeout": max(1, int(connect_timeout))}
        options.update(pool_size=settings["pool_size"], max_overflow=settings["max_overflow"],
                       pool_timeout=settings["pool_timeout"], pool_recycle=settings["pool_recycle"],
                       pool_pre_ping=bool(settings["pre_ping"]))
    try:
        return create_engine(url, connect_args=connect_args, **options)
    except (ImportError, exc.ArgumentError) as error:
        raise BootError(f"config models.url: {url.render_as_string(hide_password=True)}: {error}") from None


def find_models(directories: Iterable[tuple[str, Path]]) -> dict[str, type[Any]]:
    """The mapped classes defined in the ``.py`` files below each folder, by class name."""
    # NOTE: a second boot in one interpreter re-executes models/: forget the first boot's classes
    # and tables on hero's base, or SQLAlchemy refuses to define the tables again.
    for mapper in list(Model.registry.mappers):
        Model.registry._dispose_cls(mapper.class_)
    Model.metadata.clear()
    found: dict[str, type[Any]] = {}
    for namespace, directory in directories:
        for module, path in iter_modules(directory, namespace):
            for cls in classes_in(module, object, named_only=False):
                if getattr(cls, "__table__", None) is None or getattr(cls, "__mapper__", None) is None:
                    continue
                if cls.__name__ in found:
                    raise BootError(f"{path}: a model named {cls.__name__} is already defined")
                found[cls.__name__] = cls
    return found


def unavailable(error: BaseException) -> DatabaseUnavailable | None:
    """The 503 for an error that means the database did not answer, else None."""
    if isinstance(error, exc.TimeoutError):
        return DatabaseUnavailable("the database is unavailable: no pooled connection was free in time "
                                   "(models.pool_timeout)")
    if isinstance(error, exc.DBAPIError) and (error.connection_invalidated or error.statement is None):
        return DatabaseUnavailable(f"the database is unavailable: {type(error.orig).__name__}")
    return None


def client_error(error: Exception) -> HeroError | None:
    """What a client may read for a database error (never the SQL or its parameters), else None."""
    problem = unavailable(error)
    if problem is not None:
        return problem
    if isinstance(error, exc.IntegrityError):
        log.info("models: the database refused a change: %s", error.orig)
        return HeroError(f"the database refused the change ({type(error.orig).__name__})", status=409)
    if isinstance(error, exc.SQLAlchemyError):
        log.error("models: %s", error)
        return HeroError(f"database error ({type(getattr(error, 'orig', None) or error).__name__})", status=500)
    return None


def open_database(settings: Mapping[str, Any], folders: Iterable[tuple[str, Path]], *, root: Path,
                  env: str) -> Database:
    """The database of config ``models`` with the classes below ``folders``."""
    return Database(build_engine(database_url(settings["url"], root, env), settings), find_models(folders))


class Database:
    """The engine, the sessions and the boot-time work (tables, seeds) of one process's models."""

    def __init__(self, engine: Engine, classes: Mapping[str, type[Any]]) -> None:
        self.engine = engine
        self.classes = dict(classes)
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    @property
    def url(self) -> str:
        """The URL without its password."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed when the block ends, rolled back on a raise; a down database → 503."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException as error:
            self._abandon(session, error)
            problem = client_error(error) if isinstance(error, Exception) else None
            if problem is not None:
                raise problem from error
            raise
        finally:
            session.close()

    def action_scope(self, data: ActionData) -> ActionScope:
        """The processor's scope around one action: ``data.db`` opens a session on first use (README, Models)."""
        return ActionScope(self, data)

    @staticmethod
    def _abandon(session: Session, error: BaseException) -> None:
        try:
            if isinstance(error, Exception):
                session.rollback()
            else:  # NOTE: a deadline or a kill mid-query: the connection's state is unknown
                session.invalidate()
        except Exception as failure:
            log.warning("models: could not roll back: %s: %s", type(failure).__name__, failure)

    def prepare_once(self, client: Any, key: str, timeout: float) -> dict[str, int]:
        """:meth:`prepare` under a Redis lock, so that the processes of a cluster take turns."""
        return self.prepare(redis_lock(client, key, timeout))

    def close(self) -> None:
        self.engine.dispose()

    def prepare(self, lock: AbstractContextManager[Any]) -> dict[str, int]:
        """Create missing tables and seed empty ones, under ``lock`` (one process of the cluster at a
        time); the rows seeded per model."""
        seeded: dict[str, int] = {}
        with lock:
            try:
                for metadata in {id(cls.metadata): cls.metadata for cls in self.classes.values()}.values():
                    metadata.create_all(self.engine)
                with self.session() as session:
                    for name, cls in self.classes.items():
                        rows = _seeds(name, cls)
                        if rows and session.execute(select(cls).limit(1)).first() is None:
                            session.add_all([_row(name, cls, row) for row in rows])
                            seeded[name] = len(rows)
            except DatabaseUnavailable:
                raise
            except exc.SQLAlchemyError as error:
                problem = unavailable(error)
                what = problem.message if problem is not None else f"{type(error).__name__}: {error}"
                raise BootError(f"models: {self.engine.url.render_as_string(hide_password=True)}: {what}") from None
        for name, count in seeded.items():
            log.info("models: seeded %s with %d rows", name, count)
        return seeded


class ActionScope:
    """One action's session: opened only if the action touches ``data.db``; committed when it returns,
    rolled back when it raises (a database error becomes what a client may read), closed either way."""

    __slots__ = ("database", "data")

    def __init__(self, database: Database, data: ActionData) -> None:
        self.database = database
        self.data = data

    def __enter__(self) -> None:
        self.data.db_opener = self.database.sessions

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        data = self.data
        session, data.db_opener, data.db_session = data.db_session, None, None
        if session is None:
            return
        try:
            failed_commit: Exception | None = None
            if error is None:
                try:
                    session.commit()
                    return
                except Exception as failure:
                    error = failed_commit = failure
            Database._abandon(session, error)
            problem = client_error(error) if isinstance(error, Exception) else None
            if problem is not None:
                raise problem from error
            if failed_commit is not None:
                raise failed_commit
        finally:
            session.close()


def _seeds(name: str, cls: type[Any]) -> list[Mapping[str, Any]]:
    seeds = getattr(cls, "seeds", None)
    if seeds is None:
        return []
    rows = seeds()
    if rows is None:
        return []
    if not isinstance(rows, (list, tuple)) or not all(isinstance(row, Mapping) for row in rows):
        raise BootError(f"model {name}: seeds() must return a list of dicts")
    return list(rows)


def _row(name: str, cls: type[Any], row: Mapping[str, Any]) -> Any:
    try:
        return cls(**row)
    except TypeError as error:
        raise BootError(f"model {name}: a seed does not fit the model: {error}") from None


def redis_lock(client: Any, key: str, timeout: float) -> AbstractContextManager[Any]:
    """A cluster-wide lock for :meth:`Database.prepare` (waits cooperatively up to ``timeout`` s)."""
    # NOTE: thread_local=False: under gevent, threading.local is per greenlet.
    lock = client.lock(key, timeout=max(timeout, 1.0) * 2, blocking_timeout=timeout, thread_local=False)

    @contextmanager
    def held() -> Iterator[None]:
        started = time.monotonic()
        if not lock.acquire():
            raise BootError(f"models: another process held the seeding lock {key} for {timeout:.0f} s "
                            "(models.seed_lock_timeout)")
        log.debug("models: seeding lock taken after %.2f s", time.monotonic() - started)
        try:
            yield
        finally:
            try:
                lock.release()
            except Exception as error:  # NOTE: an expired lock: another process may go ahead
                log.warning("models: seeding lock %s: %s", key, error)

    return held()
