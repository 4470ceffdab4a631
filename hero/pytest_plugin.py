"""hero's pytest plugin (registered as ``hero``): fixtures for app authors' tests.

    def test_status(hero_client):                       # the web app in-process
        assert hero_client.get("/api/status").json()["uptime"] >= 0

    def test_cache_round_trip(spec_helper):             # the action pipeline, no network
        response = spec_helper.run_action("cacheTest", key="greeting", value="hello")
        assert response["cacheTestResults"]["loadResp"]["value"] == "hello"

    def test_virtual_request(spec_helper):
        response = spec_helper.request("GET /api/randomNumber")   # through the web app, no socket
        assert response.status == 200 and "randomNumber" in response.body

    def test_every_transport(hero_server):              # a live server on free ports
        assert hero_server.ws().action("randomNumber")["randomNumber"] < 1

The app is the one in the rootdir, or the ``hero_root`` ini option. Every test starts on an empty
store. hero runs on gevent, which must patch the standard library before the tests import anything:
the plugin patches only in sessions that test a hero app, those whose ini sets ``hero = true`` or
whose ``conftest.py`` calls :func:`use_hero` (as the one ``hero generate project`` writes does), so
that merely having hero installed changes no other project's test runs.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from werkzeug.test import Client

    from hero.spec_helper import LiveServer, SpecHelper


def use_hero() -> None:
    """Patch the standard library for gevent (once): call it first in a hero app's ``conftest.py``."""
    # NOTE: gevent is imported here, not at the top: the plugin loads in every pytest run.
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        monkey.patch_all()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("hero_root", "folder of the hero app under test (default: the rootdir)", default="")
    parser.addini("hero", "this session tests a hero app: patch gevent before any conftest is imported",
                  type="bool", default=False)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    if early_config.getini("hero"):
        use_hero()


def _require_patched() -> None:
    # NOTE: gevent is imported by hero by now (fixtures run after collection)
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        pytest.fail("hero's fixtures need gevent to patch first: set `hero = true` in the pytest ini, or call "
                    "hero.pytest_plugin.use_hero() at the top of the app's conftest.py", pytrace=False)


@pytest.fixture(scope="session")
def hero_root(pytestconfig: pytest.Config) -> Path:
    configured = pytestconfig.getini("hero_root")
    return Path(pytestconfig.rootpath, configured) if configured else Path(pytestconfig.rootpath)


@pytest.fixture(scope="session")
def _hero_session(hero_root: Path) -> Iterator[SpecHelper]:
    """The app booted once per session in the test environment, without network listeners."""
    _require_patched()
    # NOTE: imported once gevent has patched: hero.spec_helper brings gevent, redis and rq.
    from hero.spec_helper import SpecHelper

    helper = SpecHelper.boot(hero_root)
    yield helper
    helper.stop()


@pytest.fixture
def spec_helper(_hero_session: SpecHelper) -> SpecHelper:
    """The booted app (``run_action``, ``run_verb``, ``run_task``...), on an empty store."""
    _hero_session.reset()
    return _hero_session


@pytest.fixture
def hero_client(spec_helper: SpecHelper) -> Client:
    """An in-process HTTP client on the app: ``hero_client.get("/api/status").json()``."""
    return spec_helper.http_client()


@pytest.fixture
def hero_server(hero_root: Path) -> Iterator[LiveServer]:
    """The app serving HTTP, WebSocket and TCP on free loopback ports: ``url``, ``ws()``, ``tcp()``."""
    _require_patched()
    # NOTE: imported once gevent has patched, as above.
    from hero.spec_helper import LiveServer

    server = LiveServer.boot(hero_root)
    server.reset()
    yield server
    server.stop()
