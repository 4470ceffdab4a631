"""The README's WebSocket and browser examples, run as a newcomer runs them: against ``python -m hero start``
in the development environment (no HERO_ENV, no Redis), the browser page saved under ``public/``."""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from hero.config import ENVIRONMENTS, load_config
from tests.browser.browser_support import DevHero, Pages, app_with, screenshot
from tests.support.apps import APP_ROOT
from tests.support.needs import require_tool
from tests.test_readme import README, snippets

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips, or fails under CI=true
    expect = None

pytestmark = pytest.mark.timeout(90)

#: The README's one-file browser example: ```html whose first line names where to save it.
PAGE = re.compile(r"^```html\n<!-- (?P<path>public/[\w./-]+) -->\n(?P<html>.*?)^```", re.M | re.S)


def readme_page() -> tuple[str, str]:
    """The README's page: (where it says to save it, its HTML)."""
    match = PAGE.search(README)
    assert match, "the README has no ```html block starting with <!-- public/<file> -->"
    return match["path"], match["html"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_example_app_starts_default_room_in_every_environment(env: str) -> None:
    assert "defaultRoom" in load_config(APP_ROOT, env=env, environ={}).general.starting_chat_rooms


def test_the_websocket_example_against_python_m_hero_start(dev_hero: Callable[..., DevHero]) -> None:
    hero = dev_hero()
    (code,) = snippets("WebSocket")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(code.replace("ws://localhost:8080", f"ws://127.0.0.1:{hero.port}"), {})
    lines = output.getvalue().splitlines()
    assert "Welcome to the hero api" in lines[0]
    assert "randomNumber" in lines[1]
    assert "'status': 'OK'" in lines[2] and "'data': True" in lines[2], lines[2]  # defaultRoom exists
    assert "{'any': 'JSON'}" in lines[-1]


def test_the_browser_example_against_python_m_hero_start(tmp_path: Path, dev_hero: Callable[..., DevHero],
                                                         pages: Callable[..., Pages]) -> None:
    path, html = readme_page()
    hero = dev_hero(app_with(tmp_path, {path: html}))
    page = pages(hero, host="localhost").open(f"/{path}")  # the address the README gives
    out = page.locator("#out")
    expect(out).to_contain_text("members in defaultRoom: 1", timeout=10_000)
    expect(out).to_contain_text('heard "hello" in defaultRoom', timeout=5_000)
    lines = out.inner_text().splitlines()
    assert re.fullmatch(r"over HTTP: 0\.\d+|over HTTP: [01]", lines[0]), lines
    assert lines[1] == "Welcome to the hero api", lines
    assert lines[2].startswith("over the WebSocket: "), lines
    assert not [line for line in lines if line.startswith(("error:", "closed"))], lines
    screenshot(page, "readme-hello")


ESM_PAGE = """<!DOCTYPE html>
<meta charset="utf-8">
<pre id="out"></pre>
<script type="module">
  import HeroClient from "/public/javascript/hero-client.mjs";
  const out = document.getElementById("out");
  const client = new HeroClient();
  const overHttp = await client.action("randomNumber");
  await client.connect();
  await client.roomAdd("defaultRoom");
  out.textContent = JSON.stringify({http: typeof overHttp.randomNumber, rooms: client.rooms});
</script>
"""


def test_the_es_module_build_in_the_browser(tmp_path: Path, dev_hero: Callable[..., DevHero],
                                           pages: Callable[[DevHero], Pages]) -> None:
    hero = dev_hero(app_with(tmp_path, {"public/esm-check.html": ESM_PAGE}))
    page = pages(hero).open("/public/esm-check.html")
    expect(page.locator("#out")).to_have_text('{"http":"number","rooms":["defaultRoom"]}', timeout=10_000)


NODE_SCRIPT = r"""
const HeroClient = require(process.argv[2]);
(async () => {
  const client = new HeroClient({url: process.argv[3]});  // as the README says: the HTTP address follows
  const overHttp = await client.action("randomNumber");
  await client.connect();
  await client.roomAdd("defaultRoom");
  const view = await client.roomView("defaultRoom");
  client.disconnect();
  console.log(JSON.stringify({httpUrl: client.httpUrl, http: typeof overHttp.randomNumber, members: view.membersCount}));
})().catch((error) => { console.log(JSON.stringify({failed: String(error && error.stack || error)})); });
"""


def test_the_client_in_node_against_python_m_hero_start(tmp_path: Path, dev_hero: Callable[..., DevHero]) -> None:
    node = require_tool("node", "the JavaScript client's tests run in Node 20+")
    hero = dev_hero()
    script = tmp_path / "readme_node.js"
    script.write_text(NODE_SCRIPT)
    client = Path(APP_ROOT, "public", "javascript", "hero-client.js")
    done = subprocess.run([node, "--experimental-websocket", "--no-warnings", str(script), str(client), hero.ws_url],
                          capture_output=True, text=True, timeout=30, env={**os.environ, "NODE_NO_WARNINGS": "1"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    assert json.loads(lines[-1]) == {"httpUrl": f"{hero.origin}/api", "http": "number", "members": 1}
