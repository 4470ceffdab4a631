"""public/javascript/hero-client.js against a live hero, run by Node (its built-in WebSocket)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from test_websocket import WsHero, ws_hero  # noqa: F401

pytestmark = pytest.mark.timeout(40)

CLIENT = Path(__file__).resolve().parents[2] / "public" / "javascript" / "hero-client.js"

SCRIPT = r"""
const HeroClient = require(process.argv[2]);
const url = process.argv[3];
const results = {};
const log = (key, value) => { results[key] = value; };

function heard(client) {
  return new Promise((resolve) => { const on = (m) => { client.off("say", on); resolve(m); }; client.on("say", on); });
}

(async () => {
  const alice = new HeroClient({url, minDelay: 50, maxDelay: 200, timeout: 5000});
  const bob = new HeroClient({url: url + "?x=1", sessionID: "bob-session", timeout: 5000});
  let closes = 0, reconnects = 0;
  alice.on("close", () => { closes += 1; });
  alice.on("reconnect", () => { reconnects += 1; });
  log("welcome", (await alice.connect()).welcome);
  await bob.connect();
  log("random", typeof (await alice.action("randomNumber")).randomNumber);
  try { await alice.action("cacheTest", {}); } catch (error) { log("actionError", error.message); }
  log("echoedId", (await alice.action("randomNumber", {messageId: "aaa"})).messageId);
  const slow = alice.action("sleepTest", {sleepDuration: 300});
  const fast = alice.action("randomNumber");
  const order = [];
  await Promise.all([slow.then(() => order.push("slow")), fast.then(() => order.push("fast"))]);
  log("order", order);
  log("details", (await bob.detailsView()).fingerprint);
  log("roomAdd", await alice.roomAdd("defaultRoom"));
  await bob.roomAdd("defaultRoom");
  try { await alice.roomAdd("defaultRoom"); } catch (error) { log("verbError", error.message); }
  log("members", (await alice.roomView("defaultRoom")).membersCount);
  const message = heard(alice);
  await bob.say("defaultRoom", {hello: "world"});
  const said = await message;
  log("say", {message: said.message, room: said.room, context: said.context});
  log("file", (await alice.file("simple.html")).mime);
  // a message over the server's cap closes the socket (1009): the client reconnects and rejoins
  try { await alice.action("randomNumber", {pad: "x".repeat(5000)}); } catch (error) { log("closedError", error.message); }
  await new Promise((resolve) => alice.on("reconnect", resolve));
  await new Promise((resolve) => setTimeout(resolve, 200));
  log("rooms after reconnect", (await alice.detailsView()).rooms);
  const again = heard(alice);
  await bob.say("defaultRoom", "after reconnect");
  log("heard again", (await again).message);
  log("closes", closes);
  log("reconnects", reconnects);
  await bob.roomLeave("defaultRoom");
  log("bob rooms", bob.rooms);
  alice.disconnect();
  bob.disconnect();
  console.log(JSON.stringify(results));
})().catch((error) => { console.log(JSON.stringify({failed: String(error && error.stack || error), results})); });
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_browser_client_works_in_node(ws_hero: Callable[..., WsHero], tmp_path: Path) -> None:
    hero = ws_hero({"max_message_bytes": 4096})
    script = tmp_path / "client_test.js"
    script.write_text(SCRIPT)
    done = subprocess.run(["node", "--experimental-websocket", "--no-warnings", str(script), str(CLIENT), hero.url],
                          capture_output=True, text=True, timeout=30, env={**os.environ, "NODE_NO_WARNINGS": "1"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    results = json.loads(lines[-1])
    assert "failed" not in results, results
    assert results["welcome"] == "Welcome to the hero api"
    assert results["random"] == "number"
    assert results["actionError"] == "key is a required parameter for this action"
    assert results["echoedId"] == "aaa"
    assert results["order"] == ["fast", "slow"]
    assert results["details"] == "bob-session"
    assert results["roomAdd"] is True
    assert results["verbError"] == "connection already in this room (defaultRoom)"
    assert results["members"] == 2
    assert results["say"] == {"message": {"hello": "world"}, "room": "defaultRoom", "context": "user"}
    assert results["file"] == "text/html"
    assert results["closedError"].startswith("the connection closed (1009")
    assert results["rooms after reconnect"] == ["defaultRoom"]
    assert results["heard again"] == "after reconnect"
    assert results["closes"] == 1 and results["reconnects"] == 1
    assert results["bob rooms"] == []
