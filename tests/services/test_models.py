"""Models (README, Models) on SQLite, PostgreSQL and MariaDB: a session per action, rollback on a
raise, seeds once per cluster, slow queries that do not hold other actions, 503 when the database
is down. The servers are this machine's (127.0.0.1:5432 trust auth, 127.0.0.1:3306 root); each test
gets a scratch database of its own there, dropped afterwards."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
import requests
import sqlalchemy
from gevent.server import StreamServer

from hero.errors import BootError, DatabaseUnavailable
from hero.process import Process
from hero.spec_helper import SpecHelper
from tests.support.apps import free_port, wait_for, write_app
from tests.conftest import APP_ROOT


pytestmark = pytest.mark.timeout(90)

SERVERS = {
    "postgresql": ("postgresql://postgres@127.0.0.1:5432", "test", "pg_isready -h 127.0.0.1"),
    "mariadb": ("mysql://root@127.0.0.1:3306", "test", "mysqladmin -h127.0.0.1 -uroot status"),
}
SLEEP = {"postgresql": "SELECT pg_sleep(1)", "mariadb": "SELECT SLEEP(1)", "sqlite": "SELECT 1"}

APP = {
    "config.py": '''
        general = {"starting_chat_rooms": {}}
    ''',
    "models/item.py": '''
        from sqlalchemy import String
        from sqlalchemy.orm import Mapped, mapped_column

        from hero import Model


        class Item(Model):
            __tablename__ = "items"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(50))

            @classmethod
            def seeds(cls):
                return [{"name": "first"}, {"name": "second"}]
    ''',
    "actions/items.py": '''
        from sqlalchemy import func, select, text

        from hero import Action, Input


        class AddItem(Action):
            name = "addItem"
            inputs = {"name": Input(required=True), "fail": Input(default=False)}

            def run(self, data):
                data.db.add(data.api.models.Item(name=data.params["name"]))
                data.db.flush()
                if data.params["fail"]:
                    raise ValueError("changed my mind")
                return {"added": True}


        class CountItems(Action):
            name = "countItems"

            def run(self, data):
                return {"count": data.db.scalar(select(func.count()).select_from(data.api.models.Item))}


        class SlowQuery(Action):
            name = "slowQuery"
            inputs = {"sql": Input(required=True)}

            def run(self, data):
                data.db.execute(text(data.params["sql"]))
                return {"slept": True}


        class Ping(Action):
            name = "ping"

            def run(self, data):
                return {"pong": True}
    ''',
}


def ci() -> bool:
    return os.environ.get("CI") == "true"


def unreachable(message: str) -> None:
    if ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def scratch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, URL) of an empty database: a SQLite file, or a scratch database on the server."""
    kind = request.param
    if kind == "sqlite":
        yield kind, f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    server, bootstrap, check = SERVERS[kind]
    engine = sqlalchemy.create_engine(f"{server}/{bootstrap}".replace("://", "+psycopg://" if kind == "postgresql"
                                                                          else "+pymysql://", 1),
                                      isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"hero_t_{uuid.uuid4().hex[:12]}"
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    except sqlalchemy.exc.OperationalError as error:
        engine.dispose()
        unreachable(f"no {kind} server answers ({type(error.orig).__name__}); `{check}` should succeed")
    try:
        yield kind, f"{server}/{name}"
    finally:
        with engine.connect() as connection:
            force = " WITH (FORCE)" if kind == "postgresql" else ""
            connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name}{force}"))
        engine.dispose()


ALL = pytest.mark.parametrize("scratch", ["sqlite", "postgresql", "mariadb"], indirect=True)
SERVED = pytest.mark.parametrize("scratch", ["postgresql", "mariadb"], indirect=True)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app", APP)


def helper(app: Path, url: str, **models) -> SpecHelper:
    return SpecHelper.boot(app, overrides={"models": {"url": url, **models}})


@ALL
def test_a_failing_action_is_rolled_back_and_a_good_one_committed(app, scratch):
    kind, url = scratch
    hero = helper(app, url)
    try:
        assert hero.run_action("countItems")["count"] == 2
        assert hero.run_action("addItem", name="kept")["added"] is True
        failed = hero.run_action("addItem", name="dropped", fail=True)
        assert failed["error"] == "changed my mind"
        assert hero.run_action("countItems")["count"] == 3
        with hero.api.models.session() as db:
            names = {item.name for item in db.scalars(sqlalchemy.select(hero.api.models.Item))}
        assert names == {"first", "second", "kept"}
    finally:
        hero.stop()


@ALL
def test_seeds_only_fill_an_empty_table_so_a_second_boot_adds_none(app, scratch):
    kind, url = scratch
    first = helper(app, url)
    assert first.run_action("countItems")["count"] == 2
    first.run_action("addItem", name="third")
    first.stop()
    second = helper(app, url)
    try:
        assert second.run_action("countItems")["count"] == 3
    finally:
        second.stop()


@pytest.mark.parametrize("scratch", ["postgresql"], indirect=True)
def test_two_processes_booting_together_seed_once(app, scratch, redis_url, tmp_path):
    kind, url = scratch
    ports = [free_port(), free_port()]
    logs = [(tmp_path / f"hero-{n}.log").open("wb") for n in range(2)]
    environ = {**os.environ, "HERO_ENV": "test", "REDIS_URL": redis_url, "HERO_MODELS__URL": url,
               "HERO_WEB__ENABLED": "false", "HERO_TASKS__WORKERS": "0", "HERO_TASKS__SCHEDULER": "false"}
    processes = [subprocess.Popen([sys.executable, "-m", "hero", "--root", str(app), "start"],
                                  env={**environ, "HERO_SOCKET_PORT": str(port), "HERO_GENERAL__ID": f"seed-{port}"},
                                  stdout=log, stderr=subprocess.STDOUT, cwd=APP_ROOT)
                 for port, log in zip(ports, logs)]
    try:
        for port, process in zip(ports, processes):
            def listening(port=port, process=process):
                assert process.poll() is None, (tmp_path / "hero-0.log").read_text() + \
                    (tmp_path / "hero-1.log").read_text()
                try:
                    with __import__("socket").create_connection(("127.0.0.1", port), timeout=0.2):
                        return True
                except OSError:
                    return False
            wait_for(listening, timeout=30, interval=0.1)
        engine = sqlalchemy.create_engine(url.replace("://", "+psycopg://", 1))
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("SELECT count(*) FROM items")).scalar() == 2
        engine.dispose()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        for log in logs:
            log.close()


@SERVED
def test_a_slow_query_does_not_hold_other_actions(app, scratch):
    kind, url = scratch
    process = Process(app, env="test", overrides={"models": {"url": url}, "web": {"port": 0},
                                                  "socket": {"enabled": False}, "tasks": {"workers": 0}})
    api = process.start()
    try:
        host, port = api.servers["web"].address[:2]
        base = f"http://{host}:{port}/api"
        started = time.monotonic()
        slow = [gevent.spawn(requests.get, f"{base}/slowQuery", params={"sql": SLEEP[kind]}, timeout=10)
                for _ in range(2)]
        gevent.sleep(0.2)
        pinged = time.monotonic()
        assert requests.get(f"{base}/ping", timeout=5).json()["pong"] is True
        assert time.monotonic() - pinged < 0.5   # served while both queries sleep
        gevent.joinall(slow, timeout=10)
        assert all(greenlet.value.json()["slept"] is True for greenlet in slow)
        assert time.monotonic() - started < 1.9  # the two sleeps overlapped
    finally:
        process.stop()


@pytest.mark.parametrize("scratch", ["postgresql"], indirect=True)
def test_a_full_pool_answers_503_after_pool_timeout(app, scratch):
    kind, url = scratch
    hero = helper(app, url, pool_size=1, max_overflow=0, pool_timeout=0.3)
    try:
        slow = gevent.spawn(hero.run_action, "slowQuery", sql=SLEEP[kind])
        gevent.sleep(0.2)
        waited = time.monotonic()
        answer = hero.run_action("countItems")
        assert answer["error"].startswith("the database is unavailable: no pooled connection was free in time")
        assert time.monotonic() - waited < 1.0
        assert slow.get(timeout=5)["slept"] is True
    finally:
        hero.stop()


class Proxy:
    """A loopback TCP forwarder to a database server, to take the database away mid-test."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.pipes: list = []
        self.server = StreamServer(("127.0.0.1", 0), self.handle)
        self.server.start()
        self.port = self.server.address[1]

    def handle(self, client, address) -> None:
        import socket

        upstream = socket.create_connection(self.target)
        self.pipes += [client, upstream]

        def pump(source, sink):
            try:
                while chunk := source.recv(65536):
                    sink.sendall(chunk)
            except OSError:
                pass
            finally:
                for end in (source, sink):
                    end.close()

        gevent.joinall([gevent.spawn(pump, client, upstream), gevent.spawn(pump, upstream, client)])

    def stop(self) -> None:
        self.server.stop()
        for end in self.pipes:
            end.close()


@pytest.mark.parametrize("scratch", ["postgresql"], indirect=True)
def test_a_database_that_goes_down_answers_503(app, scratch):
    kind, url = scratch
    proxy = Proxy(("127.0.0.1", 5432))
    hero = helper(app, url.replace(":5432/", f":{proxy.port}/"), connect_timeout=1)
    try:
        assert hero.run_action("countItems")["count"] == 2
        proxy.stop()
        answer = hero.run_action("countItems")
        assert answer["error"].startswith("the database is unavailable: ")
        data = hero.api.processor.process(hero.build_connection(), {"action": "countItems"})
        assert data.status == 503
        assert hero.run_action("ping")["pong"] is True  # actions that need no database still work
    finally:
        hero.stop()


def test_a_database_down_at_boot_stops_it_with_a_clear_message(app):
    with pytest.raises(BootError, match=r"models: postgresql\+psycopg://postgres@127.0.0.1:\d+/x: the database is "
                                        r"unavailable: OperationalError"):
        helper(app, f"postgresql://postgres@127.0.0.1:{free_port()}/x", connect_timeout=1)


def test_the_default_database_is_a_sqlite_file_in_the_app_folder(app):
    hero = SpecHelper.boot(app)
    try:
        assert hero.api.models.url == f"sqlite:///{app / 'hero-test.sqlite3'}"
        assert (app / "hero-test.sqlite3").is_file() and hero.run_action("countItems")["count"] == 2
    finally:
        hero.stop()


def test_an_app_without_models_has_them_off(tmp_path):
    hero = SpecHelper.boot(write_app(tmp_path, {"config.py": "general = {}\n"}))
    try:
        assert hero.api.models.off == "this app has no models/ folder" and not hero.api.processor.scopes
        with pytest.raises(DatabaseUnavailable, match="models are off: this app has no models/ folder"):
            hero.api.models.User
    finally:
        hero.stop()


def test_bad_seeds_and_urls_stop_the_boot(app, tmp_path):
    with pytest.raises(BootError, match="config models.url is not a database URL"):
        helper(app, "no such thing")
    broken = write_app(tmp_path / "broken", {**APP, "models/item.py": APP["models/item.py"].replace(
        '{"name": "first"}', '{"colour": "red"}')})
    with pytest.raises(BootError, match="model Item: a seed does not fit the model"):
        helper(broken, f"sqlite:///{tmp_path / 'b.sqlite3'}")


def test_the_example_users_over_http(boot_hero, tmp_path):
    api = boot_hero({"models": {"url": f"sqlite:///{tmp_path / 'users.sqlite3'}"}})
    host, port = api.servers["web"].address[:2]
    base = f"http://{host}:{port}/api"
    listed = requests.get(f"{base}/users", timeout=5).json()["users"]
    assert [user["email"] for user in listed] == ["ann@example.com", "bo@example.com"]
    created = requests.post(f"{base}/users", json={"email": "cy@example.com", "name": "Cy"}, timeout=5)
    assert created.status_code == 200
    user = created.json()["user"]
    assert requests.get(f"{base}/users/{user['id']}", timeout=5).json()["user"] == user
    again = requests.post(f"{base}/users", json={"email": "cy@example.com", "name": "Cy"}, timeout=5)
    assert again.status_code == 409
    assert requests.delete(f"{base}/users/{user['id']}", timeout=5).json()["deleted"] == user["id"]
    assert requests.get(f"{base}/users/{user['id']}", timeout=5).status_code == 404


def test_an_action_that_does_not_touch_data_db_opens_no_session(app, tmp_path):
    hero = helper(app, f"sqlite:///{tmp_path / 'lazy.sqlite3'}")
    try:
        database = hero.api.models._database
        opened = []
        opener = database.sessions
        database.sessions = lambda: opened.append(1) or opener()
        assert hero.run_action("ping")["pong"] is True and opened == []
        assert hero.run_action("countItems")["count"] == 2 and opened == [1]
    finally:
        hero.stop()


def test_without_sqlalchemy_the_example_app_still_boots_with_models_off(monkeypatch, tmp_path):
    import sys

    import hero.services

    monkeypatch.setitem(sys.modules, "sqlalchemy", None)   # as after `pip install -e .` without [models]
    monkeypatch.delitem(sys.modules, "hero.services.orm", raising=False)
    monkeypatch.delattr(hero.services, "orm", raising=False)
    booted = SpecHelper.boot(APP_ROOT, overrides={"models": {"url": f"sqlite:///{tmp_path / 'never.sqlite3'}"}})
    try:
        assert "pip install -e '.[models]'" in booted.api.models.off
        answer = booted.run_action("listUsers")
        assert answer["error"].startswith("models are off: models need SQLAlchemy")
        assert booted.run_action("randomNumber")["version"] == 2
    finally:
        booted.stop()
    monkeypatch.undo()
    with pytest.raises(BootError, match="models need SQLAlchemy"):
        monkeypatch.setitem(sys.modules, "sqlalchemy", None)
        monkeypatch.delitem(sys.modules, "hero.services.orm", raising=False)
        monkeypatch.delattr(hero.services, "orm", raising=False)
        SpecHelper.boot(APP_ROOT, overrides={"models": {"enabled": True}})
    assert not (tmp_path / "never.sqlite3").exists()
