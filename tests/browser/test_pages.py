"""The example pages in a real Chromium, against ``python -m hero start`` in the development environment.

Each test leaves screenshots in tests/artifacts/browser/ (see conftest.py); the ``pages`` fixture fails a
test whose pages asked for anything outside the server or threw an uncaught error.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.browser_support import DevHero, Pages, app_with, screenshot

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips, or fails under CI=true
    expect = None

pytestmark = pytest.mark.timeout(120)

STYLESHEET = "/public/css/hero.css"
PHONE = {"width": 390, "height": 844, "mobile": True}


def chat_message(page: Any, text: str) -> None:
    page.fill("#message", text)
    page.press("#message", "Enter")


def operation(page: Any, method: str, path: str) -> Any:
    """The docs page's block of one operation."""
    return (page.locator("details.op").filter(has=page.locator(f".method.{method}"))
            .filter(has=page.locator(".path", has_text=re.compile(f"^{re.escape(path)}$"))))


def fits_the_width(page: Any) -> bool:
    """True when nothing sticks out sideways (no horizontal scrolling)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_index_shows_the_live_status_of_the_server(dev_hero: Callable[[], DevHero],
                                                   pages: Callable[[DevHero], Pages]) -> None:
    hero = dev_hero()
    browser = pages(hero)
    page = browser.open("/")
    expect(page.locator("#health")).to_have_text("healthy", timeout=10_000)
    expect(page.locator("h1")).to_have_text("Your hero server is running")
    expect(page.locator("#fact-name")).to_contain_text("hero — hero's example application")
    expect(page.locator("#fact-version")).to_have_text("1.0.0 (hero 0.1.0)")
    assert page.locator("#fact-id").inner_text().strip() != "–"
    first = page.locator("#fact-uptime").inner_text()
    expect(page.locator("#fact-uptime")).not_to_have_text(first, timeout=8_000)  # it is live: it moves
    assert f"{hero.origin}{STYLESHEET}" in browser.requests
    screenshot(page, "index")

    hero.stop()
    expect(page.locator("#health")).to_have_text("unreachable", timeout=10_000)
    expect(page.locator("h1")).to_have_text("Your hero server is not answering")
    expect(page.locator("#status-error strong")).to_have_text("Cannot reach the server")
    expect(page.locator("#status-error .detail")).to_contain_text("Retrying every 2 s")
    screenshot(page, "index-server-down")

    hero.start()
    expect(page.locator("#health")).to_have_text("healthy", timeout=10_000)
    expect(page.locator("#status-error")).to_be_hidden()


def test_chat_in_two_pages_shares_one_room(dev_hero: Callable[[], DevHero],
                                           pages: Callable[[DevHero], Pages]) -> None:
    hero = dev_hero()
    browser = pages(hero)
    alice = browser.open("/public/chat.html")
    bob = browser.open("/public/chat.html")
    for page in (alice, bob):
        expect(page.locator("#state")).to_have_text("connected", timeout=10_000)
        expect(page.locator("#current-room")).to_have_text("defaultRoom", timeout=10_000)
        expect(page.locator("#members")).to_have_text("2 members", timeout=10_000)

    chat_message(alice, "hello from alice")
    expect(bob.locator("#log .line:not(.mine) .text")).to_have_text(["hello from alice"], timeout=5_000)
    expect(alice.locator("#log .mine .text")).to_have_text(["hello from alice"], timeout=5_000)
    expect(alice.locator("#message")).to_have_value("")
    chat_message(bob, "hi alice, bob here")
    expect(alice.locator("#log .line:not(.mine) .text")).to_have_text(["hi alice, bob here"], timeout=5_000)
    assert alice.locator("#log .line:not(.mine) .who").inner_text().startswith("guest ")
    chat_message(bob, "<b>markup stays text</b>")
    expect(alice.locator("#log .line:not(.mine) .text").last).to_have_text("<b>markup stays text</b>", timeout=5_000)
    screenshot(alice, "chat")

    # an error, as a person reads it: what failed, the server's words, and what to do
    bob.fill("#room", "noSuchRoom")
    bob.click("#join button")
    notice = bob.locator("#log .notice.error").last
    expect(notice.locator("strong")).to_have_text("Could not join noSuchRoom", timeout=5_000)
    expect(notice.locator(".detail")).to_contain_text("Room does not exist. Rooms are made by the server")
    expect(bob.locator("#current-room")).to_have_text("defaultRoom")
    screenshot(bob, "chat-error")
    assert f"{hero.origin}{STYLESHEET}" in browser.requests


def test_chat_reconnects_after_the_server_restarts_and_rejoins_its_room(
        dev_hero: Callable[[], DevHero], pages: Callable[[DevHero], Pages]) -> None:
    hero = dev_hero()
    browser = pages(hero)
    alice = browser.open("/public/chat.html")
    bob = browser.open("/public/chat.html")
    for page in (alice, bob):
        expect(page.locator("#members")).to_have_text("2 members", timeout=10_000)

    hero.stop()
    for page in (alice, bob):
        expect(page.locator("#state")).to_have_text("reconnecting …", timeout=10_000)
    screenshot(alice, "chat-reconnecting")
    hero.start()
    for page in (alice, bob):
        expect(page.locator("#state")).to_have_text("connected", timeout=20_000)
        expect(page.locator("#log .system").last).to_have_text("reconnected; back in defaultRoom", timeout=10_000)
        assert page.locator("#log .system", has_text="connection lost").count() == 1  # one line per outage
        expect(page.locator("#members")).to_have_text("2 members", timeout=10_000)

    chat_message(alice, "still here after the restart")
    expect(bob.locator("#log .line:not(.mine) .text")).to_have_text(["still here after the restart"], timeout=5_000)
    screenshot(bob, "chat-after-restart")


def test_docs_lists_the_operations_and_tries_one(dev_hero: Callable[[], DevHero],
                                                 pages: Callable[[DevHero], Pages]) -> None:
    hero = dev_hero()
    document = requests.get(f"{hero.origin}/api/swagger", timeout=5).json()
    operations = sum(1 for item in document["paths"].values() for method in item if method != "parameters")
    browser = pages(hero)
    page = browser.open("/public/docs.html")
    expect(page.locator("details.op")).to_have_count(operations, timeout=10_000)
    expect(page.locator("#info")).to_contain_text(f"{operations} operations")
    expect(page.locator("#title")).to_have_text("hero 1.0.0")

    random = operation(page, "get", "/api/randomNumber")
    random.locator("summary").first.click()
    random.locator("details.try > summary").click()
    random.locator("form.try button").click()
    expect(random.locator(".answer.ok .status")).to_have_text("200 OK", timeout=5_000)
    expect(random.locator(".answer pre")).to_contain_text('"randomNumber":')

    cache = operation(page, "post", "/api/cacheTest")
    cache.locator("summary").first.click()
    cache.locator("details.try > summary").click()
    cache.locator("form.try textarea").fill('{"key": "abc", "value": ""}')
    cache.locator("form.try button").click()
    expect(cache.locator(".answer.bad .status")).to_have_text(
        "422 Unprocessable Entity: value is a required parameter for this action", timeout=5_000)
    cache.locator("form.try textarea").fill("{not json")
    cache.locator("form.try button").click()
    expect(cache.locator(".answer.bad .status")).to_have_text("The body is not valid JSON")
    screenshot(page, "docs")

    page.fill("#filter", "cachetest")
    expect(page.locator("details.op:visible")).to_have_count(5)  # every verb simple routing answers
    assert f"{hero.origin}{STYLESHEET}" in browser.requests


@pytest.mark.parametrize("path", ["/", "/public/chat.html", "/public/docs.html"], ids=["index", "chat", "docs"])
def test_the_pages_fit_a_phone(path: str, dev_hero: Callable[[], DevHero],
                               pages: Callable[[DevHero], Pages]) -> None:
    hero = dev_hero()
    page = pages(hero).open(path, **PHONE)
    ready = {"/": ("#health", "healthy"), "/public/chat.html": ("#members", "1 member"),
             "/public/docs.html": ("#info", "operations")}[path]
    expect(page.locator(ready[0])).to_contain_text(ready[1], timeout=10_000)
    if path == "/public/docs.html":
        page.locator("details.op summary").first.click()
    assert page.evaluate("window.innerWidth") == PHONE["width"]
    assert fits_the_width(page), page.evaluate("document.documentElement.scrollWidth")
    name = {"/": "index", "/public/chat.html": "chat", "/public/docs.html": "docs"}[path]
    screenshot(page, f"{name}-phone")


OUTSIDE = """<!DOCTYPE html>
<meta charset="utf-8">
<link rel="stylesheet" href="/public/css/hero.css">
<img src="http://cdn.example.invalid/logo.png" alt="">
<script>document.title = "loaded";</script>
"""


def test_a_request_outside_the_server_is_caught(tmp_path: Path, dev_hero: Callable[..., DevHero],
                                                pages: Callable[[DevHero], Pages]) -> None:
    """The check every page test relies on: a page that loads from elsewhere is seen (and refused)."""
    hero = dev_hero(app_with(tmp_path, {"public/outside.html": OUTSIDE}))
    browser = pages(hero)
    page = browser.open("/public/outside.html")
    expect(page).to_have_title("loaded")
    page.wait_for_load_state("load")
    assert browser.outside == ["http://cdn.example.invalid/logo.png"]
    assert f"{hero.origin}/public/css/hero.css" in browser.requests
    browser.outside.clear()  # seen; the fixture's own check would fail the test otherwise
