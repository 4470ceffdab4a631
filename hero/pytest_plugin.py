"""hero's pytest plugin (registered as ``hero``): fixtures for app authors' tests.

    def test_cache_round_trip(spec_helper):
        response = spec_helper.run_action("cacheTest", key="greeting", value="hello")
        assert response["cacheTestResults"]["loadResp"]["value"] == "hello"

    def test_virtual_request(spec_helper):
        response = spec_helper.request("GET /api/randomNumber")   # through the web app, no socket
        assert response.status == 200 and "randomNumber" in response.body

The app is the one in the current directory, or the ``hero_root`` ini option.
"""
from gevent import monkey

# NOTE: this plugin is an entry point (pytest imports it before any conftest), so it patches.
monkey.patch_all()

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from hero.spec_helper import SpecHelper  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("hero_root", "folder of the hero app under test (default: the rootdir)", default="")


@pytest.fixture(scope="session")
def hero_root(pytestconfig: pytest.Config) -> Path:
    configured = pytestconfig.getini("hero_root")
    return Path(pytestconfig.rootpath, configured) if configured else Path(pytestconfig.rootpath)


@pytest.fixture(scope="session")
def spec_helper(hero_root: Path) -> Iterator[SpecHelper]:
    """The app booted once per session in the test environment, without network listeners."""
    helper = SpecHelper.boot(hero_root)
    yield helper
    helper.stop()
