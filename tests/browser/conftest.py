"""The example app as a newcomer runs it (``python -m hero start``, development environment), and a
real headless Chromium (Debian's, driven by Playwright; no browser download) to look at its pages.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.browser_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    DevHero,
    Pages,
    missing,
)
from tests.support.apps import APP_ROOT


@pytest.fixture(scope="session", autouse=True)
def fresh_artifacts() -> None:
    """Screenshots and logs of this run only: a stale picture must not pass for a current one."""
    if ARTIFACTS.is_dir():
        for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log")]:
            old.unlink()


@pytest.fixture
def dev_hero(request: pytest.FixtureRequest) -> Iterator[Callable[..., DevHero]]:
    """Return ``start(root=APP_ROOT) -> DevHero``: an app started as the README says; stopped after the test."""
    started: list[DevHero] = []

    def start(root: str = APP_ROOT) -> DevHero:
        name = f"{request.node.name}-{len(started)}".replace("/", "_")
        hero = DevHero(root=str(root), name=name)
        hero.log_path.unlink(missing_ok=True)
        started.append(hero.start())
        return hero

    yield start
    for hero in started:
        hero.stop()


# NOTE: per module, not per session: Playwright's driver and event loop are gone before the
# rest of the suite (gevent servers in this process) runs.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium, launched by Playwright (``executable_path``: nothing downloaded)."""
    executable = os.environ.get("HERO_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        missing("chromium is not installed (apt-get install -y chromium; .ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def pages(chromium: Any) -> Iterator[Callable[..., Pages]]:
    """Return ``pages(hero, host="127.0.0.1") -> Pages``; after the test, no page may have loaded anything
    from elsewhere or thrown an uncaught error."""
    made: list[Pages] = []

    def make(hero: DevHero, host: str = "127.0.0.1") -> Pages:
        made.append(Pages(chromium, f"http://{host}:{hero.port}"))
        return made[-1]

    yield make
    for each in made:
        each.close()
    for each in made:
        assert each.outside == [], f"pages loaded from outside {each.origin}: {each.outside}"
        assert each.page_errors == [], each.page_errors


def pytest_terminal_summary(terminalreporter: Any) -> None:
    shots = sorted(ARTIFACTS.glob("*.png")) if ARTIFACTS.is_dir() else []
    if shots:
        terminalreporter.write_line(f"browser screenshots ({len(shots)}): {ARTIFACTS}")
