"""public/javascript/hero-client.js against a live hero, run by Node (its built-in WebSocket and fetch)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.apps import APP_ROOT, free_port
from tests.support.needs import require_tool
from tests.support.ws import WsHero

pytestmark = pytest.mark.timeout(40)

JAVASCRIPT = Path(APP_ROOT) / "public" / "javascript"
CLIENT = JAVASCRIPT / "hero-client.js"
MODULE = JAVASCRIPT / "hero-client.mjs"
BUILD = Path(APP_ROOT) / "scripts" / "build-client"


def run_node(script: str, tmp_path: Path, *args: str, name: str = "client_test.js") -> dict:
    """Run ``script`` in Node with ``args``; the last JSON line it prints, which must not say failed."""
    node = require_tool("node", "the JavaScript client's tests run in Node 20+")
    path = tmp_path / name
    path.write_text(script)
    done = subprocess.run([node, "--experimental-websocket", "--no-warnings", str(path), *args],
                          capture_output=True, text=True, timeout=30, env={**os.environ, "NODE_NO_WARNINGS": "1"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    results = json.loads(lines[-1])
    assert "failed" not in results, results
    return results

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


def test_the_browser_client_works_in_node(ws_hero: Callable[..., WsHero], tmp_path: Path) -> None:
    hero = ws_hero({"max_message_bytes": 4096})
    results = run_node(SCRIPT, tmp_path, str(CLIENT), hero.url)
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


FALLBACK_SCRIPT = r"""
const HeroClient = require(process.argv[2]);
const url = process.argv[3];
const closedPort = process.argv[4];
const results = {};
const log = (key, value) => { results[key] = value; };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Every HTTP request the client makes, with what the server said about its requester.
const requests = [];
async function spyingFetch(address, init) {
  const response = await fetch(address, init);
  const body = await response.clone().json();
  requests.push({url: address, method: init.method, headers: init.headers,
                 fingerprint: (body.requesterInformation || {}).fingerprint,
                 cookie: response.headers.get("set-cookie")});
  return response;
}

(async () => {
  // 1. HTTP first: actions before connect() go to /api/<action> and learn the session's fingerprint.
  const client = new HeroClient({url, minDelay: 50, maxDelay: 200, timeout: 5000, fetch: spyingFetch});
  log("httpUrl", client.httpUrl);
  const before = await client.action("randomNumber");
  log("before", {keys: Object.keys(before).sort(), type: typeof before.randomNumber, state: client.state});
  const learned = client.fingerprint;
  log("learned", learned === requests[0].fingerprint && /^[0-9a-f]{40}$/.test(learned));
  try { await client.action("cacheTest", {key: "abc"}); } catch (error) {
    log("httpError", {message: error.message, status: error.status, context: error.response.context});
  }
  log("httpMessageId", (await client.action("randomNumber", {messageId: "mine"})).messageId);
  log("nested", (await client.action("cacheTest", {key: "abc", value: "hello"})).cacheTestResults.loadResp.value);
  log("sentFingerprint", requests.slice(1).every((r) => r.headers["X-SessionID"] === learned && r.fingerprint === learned));

  // 2. The socket then shares that session, and the same call answers the same shape over it.
  await client.connect();
  log("wsFingerprint", (await client.detailsView()).fingerprint === learned);
  const over = await client.action("randomNumber");
  log("over", {keys: Object.keys(over).sort(), viaHttp: requests.length});

  // 3. Closed by the server (a message over the cap: 1009): while it reconnects, actions go over HTTP.
  await client.roomAdd("defaultRoom");
  try { await client.action("randomNumber", {pad: "x".repeat(5000)}); } catch (error) { log("closed", error.message); }
  const reconnected = new Promise((resolve) => client.on("reconnect", resolve));
  const during = await client.action("randomNumber");
  log("during", {state: client.state, viaHttp: requests.length, keys: Object.keys(during).sort(),
                 fingerprint: requests[requests.length - 1].fingerprint === learned});
  await reconnected;
  await sleep(100);
  log("rejoined", (await client.detailsView()).rooms);

  // 4. disconnect(): actions still answer, over HTTP.
  client.disconnect();
  while (client.state !== "closed") { await sleep(10); }
  const after = await client.action("randomNumber");
  log("after", {type: typeof after.randomNumber, viaHttp: requests.length});

  // 5. Socket first: its fingerprint is learned from the socket, and HTTP carries it.
  requests.length = 0;
  const second = new HeroClient({url, timeout: 5000, fetch: spyingFetch, reconnect: false});
  await second.connect();
  const socketFingerprint = (await second.detailsView()).fingerprint;
  second.disconnect();
  while (second.state !== "closed") { await sleep(10); }
  await second.action("randomNumber");
  log("socketFirst", {same: second.fingerprint === socketFingerprint && requests[0].fingerprint === socketFingerprint,
                      cookie: requests[0].cookie});

  // 6. httpUrl given: no server on the WebSocket address, the HTTP one answers.
  const httpUrl = new URL(url.replace(/^ws/, "http")).origin + "/api";
  const third = new HeroClient({url: "ws://127.0.0.1:" + closedPort + "/ws", httpUrl: httpUrl + "/"});
  log("givenHttpUrl", {httpUrl: third.httpUrl, type: typeof (await third.action("randomNumber")).randomNumber});

  // 7. Nothing answers: a readable rejection.
  const nowhere = new HeroClient({url: "ws://127.0.0.1:" + closedPort + "/ws", timeout: 3000});
  try { await nowhere.action("randomNumber"); } catch (error) { log("unreachable", error.message); }
  log("derived", [HeroClient.httpUrlFor("wss://example.com/ws"), HeroClient.httpUrlFor("ws://h:81/app/ws?x=1"),
                  HeroClient.httpUrlFor("http://h/ws")]);
  console.log(JSON.stringify(results));
})().catch((error) => { console.log(JSON.stringify({failed: String(error && error.stack || error), results})); });
"""


def test_the_client_falls_back_to_http_while_not_connected(ws_hero: Callable[..., WsHero], tmp_path: Path) -> None:
    hero = ws_hero({"max_message_bytes": 4096})
    closed_port = free_port()
    results = run_node(FALLBACK_SCRIPT, tmp_path, str(CLIENT), hero.url, str(closed_port))
    origin = f"http://{hero.host}:{hero.port}"
    assert results["httpUrl"] == f"{origin}/api"
    shape = ["context", "messageId", "randomNumber", "stringRandomNumber", "version"]
    assert results["before"] == {"keys": shape, "type": "number", "state": "closed"}
    assert results["learned"] is True
    assert results["httpError"] == {"message": "value is a required parameter for this action", "status": 422,
                                    "context": "response"}
    assert results["httpMessageId"] == "mine"
    assert results["nested"] == "hello"
    assert results["sentFingerprint"] is True
    assert results["wsFingerprint"] is True
    assert results["over"] == {"keys": shape, "viaHttp": 4}
    assert results["closed"].startswith("the connection closed (1009")
    assert results["during"] == {"state": "closed", "viaHttp": 5, "keys": shape, "fingerprint": True}
    assert results["rejoined"] == ["defaultRoom"]
    assert results["after"] == {"type": "number", "viaHttp": 6}
    assert results["socketFirst"] == {"same": True, "cookie": None}
    assert results["givenHttpUrl"] == {"httpUrl": f"{origin}/api", "type": "number"}
    assert results["unreachable"] == f"could not reach http://127.0.0.1:{closed_port}/api/randomNumber (fetch failed)"
    assert results["derived"] == ["https://example.com/api", "http://h:81/app/api", None]


ESM_SCRIPT = r"""
import HeroClient, {HeroClient as Named} from "MODULE";
const client = new HeroClient({url: process.argv[2]});
const welcome = await client.connect();
const reply = await client.action("randomNumber");
client.disconnect();
console.log(JSON.stringify({same: HeroClient === Named, welcome: welcome.welcome, type: typeof reply.randomNumber}));
"""


def test_the_es_module_build_is_current_and_loads_in_node(ws_hero: Callable[..., WsHero], tmp_path: Path) -> None:
    check = subprocess.run([sys.executable, str(BUILD), "--check"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    hero = ws_hero()
    results = run_node(ESM_SCRIPT.replace("MODULE", MODULE.as_uri()), tmp_path, hero.url, name="esm_test.mjs")
    assert results == {"same": True, "welcome": "Welcome to the hero api", "type": "number"}


def test_the_typescript_declarations_cover_every_method() -> None:
    source = CLIENT.read_text()
    public = {name for name in re.findall(r"HeroClient\.prototype\.(\w+) = ", source) if not name.startswith("_")}
    assert {"action", "connect", "disconnect", "roomAdd", "say"} <= public
    for declarations in ("hero-client.d.ts", "hero-client.d.mts"):
        assert (JAVASCRIPT / declarations).is_file(), declarations
    typed = (JAVASCRIPT / "hero-client.d.ts").read_text()
    missing = sorted(name for name in public | {"httpUrlFor"} if not re.search(rf"\b{name}[<(]", typed))
    assert not missing, f"hero-client.d.ts lacks {missing}"
    options = set(re.findall(r"options\.(\w+)", source))
    assert not sorted(name for name in options if not re.search(rf"\b{name}\?:", typed)), options


TS_MODULE = """
import HeroClient from "./hero-client.mjs";
import { HeroClient as Named } from "./hero-client.mjs";
const client: HeroClient = new Named({ url: "ws://localhost:8080/ws", httpUrl: "http://localhost:8080/api" });
const reply = await client.action<{ randomNumber: number }>("randomNumber");
const n: number = reply.randomNumber;
const id: string | number = reply.messageId;
client.on("say", (m) => { const room: string = m.room; });
client.on("reconnect", (w) => w.welcome.toUpperCase());
const count: number = (await client.roomView("defaultRoom")).membersCount;
const derived: string | null = HeroClient.httpUrlFor("ws://a/ws");
// @ts-expect-error: not an event the client emits
client.on("nope", () => {});
// @ts-expect-error: a room is a string
client.roomAdd(1);
export {};
"""

TS_COMMONJS = """
import HeroClient = require("./hero-client.js");
const client = new HeroClient({ url: "ws://x/ws", reconnect: false });
client.connect().then((welcome) => welcome.welcome.toUpperCase());
export {};
"""

TS_PAGE = """
/// <reference path="./hero-client.d.ts" />
const client = new HeroClient();
client.action("randomNumber").then((reply) => reply.context);
client.on("close", (event) => event.code.toFixed());
"""


def test_the_typescript_declarations_compile(tmp_path: Path) -> None:
    """hero-client.d.ts / .d.mts type an ES module import, a CommonJS require and a page's global."""
    tsc = os.environ.get("HERO_TSC") or require_tool("tsc", "npm install -g typescript@5; .ci/run installs it")
    for name in ("hero-client.js", "hero-client.mjs", "hero-client.d.ts", "hero-client.d.mts"):
        (tmp_path / name).write_text((JAVASCRIPT / name).read_text())
    (tmp_path / "module.mts").write_text(TS_MODULE)
    (tmp_path / "commonjs.cts").write_text(TS_COMMONJS)
    (tmp_path / "page.ts").write_text(TS_PAGE)
    strict = {"strict": True, "noEmit": True, "target": "es2022", "types": []}
    projects = {
        "node.json": {"compilerOptions": {**strict, "module": "nodenext", "moduleResolution": "nodenext",
                                          "lib": ["es2022"]}, "files": ["module.mts", "commonjs.cts"]},
        "page.json": {"compilerOptions": {**strict, "lib": ["es2022", "dom"]}, "files": ["page.ts"]},
    }
    for name, project in projects.items():
        (tmp_path / name).write_text(json.dumps(project))
        done = subprocess.run([tsc, "-p", name], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
