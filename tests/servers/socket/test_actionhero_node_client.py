"""actionhero's own TCP client (npm ``actionhero-node-client``) against a live hero (docs/tcp.md).

The client sends ``paramAdd messageId=<uuid>`` before every line and waits for a reply carrying that
id, so this is the test of the sticky ``messageId``. The package is installed outside the repository,
in ``$HERO_AH_CLIENT_DIR`` (default ``/tmp/hero-actionhero-node-client``); `.ci/run` installs it, and
this test installs it when npm is there and it is missing.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.needs import require_tool

pytestmark = pytest.mark.timeout(120)

CLIENT_DIR = Path(os.environ.get("HERO_AH_CLIENT_DIR", "/tmp/hero-actionhero-node-client"))
PACKAGE = CLIENT_DIR / "node_modules" / "actionhero-node-client"


def actionhero_node_client() -> Path:
    """The installed package's folder; installs it with npm when missing (fails under CI=true if it cannot)."""
    if not (PACKAGE / "package.json").exists():
        npm = require_tool("npm", "actionhero-node-client is installed with npm")
        done = subprocess.run([npm, "install", "--prefix", str(CLIENT_DIR), "--silent", "--no-audit", "--no-fund",
                               "actionhero-node-client@8"], capture_output=True, text=True, timeout=90)
        if done.returncode != 0 or not (PACKAGE / "package.json").exists():
            message = f"installing actionhero-node-client failed: {done.stderr[-500:]}"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
    return PACKAGE


SCRIPT = r"""
const Client = require(process.argv[2]).default;
const port = Number(process.argv[3]);
const results = {};
(async () => {
  const client = new Client();
  const heard = [];
  client.on("say", (message) => heard.push(message.message));
  let disconnecting = false;
  client.on("error", (error) => { if (!disconnecting) results.error = String(error); });
  client.on("end", () => { results.ended = true; });
  const details = await client.connect({host: "127.0.0.1", port, timeout: 4000, reconnectAttempts: 0});
  results.connectedId = client.id;
  results.detailsType = details.data.type;
  const cached = await client.actionWithParams("cacheTest", {key: "nodeKey", value: "nodeValue"});
  results.cacheTest = cached.data.cacheTestResults.loadResp.value;
  results.cacheError = cached.error;
  const random = await client.action("randomNumber");
  results.random = typeof random.data.randomNumber;
  results.randomDelta = typeof random.delta;
  const failed = await client.action("cacheTest");
  results.failedError = failed.error && failed.error.message;
  results.roomAdd = (await client.roomAdd("defaultRoom")).data.status;
  results.say = (await client.say("defaultRoom", "hello from node")).data.status;
  await new Promise((resolve) => setTimeout(resolve, 200));
  results.heard = heard;
  const again = await client.detailsView();
  results.rooms = again.data.rooms;
  results.sameId = client.id === results.connectedId;
  disconnecting = true;
  await client.disconnect();
  await new Promise((resolve) => setTimeout(resolve, 200));
  results.done = true;
  console.log(JSON.stringify(results));
  process.exit(0);
})().catch((error) => { results.failed = String(error && error.stack || error); console.log(JSON.stringify(results)); process.exit(1); });
"""


def run_client(port: int, tmp_path: Path) -> dict[str, Any]:
    node = require_tool("node", "actionhero's node client runs in Node 12+")
    package = actionhero_node_client()
    script = tmp_path / "actionhero_client_test.js"
    script.write_text(SCRIPT)
    done = subprocess.run([node, str(script), str(package), str(port)], capture_output=True, text=True, timeout=60)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    results: dict[str, Any] = json.loads(lines[-1])
    assert "failed" not in results, results
    return results


def test_actionhero_node_client_runs_every_call_against_hero(boot_hero, tmp_path: Path) -> None:
    api = boot_hero({"web": {"enabled": False}})
    port = api.servers["socket"].address[1]
    results = run_client(port, tmp_path)
    assert results["done"] is True and "error" not in results, results
    assert results["ended"] is True  # disconnect(): hero closed the connection after `exit`
    assert results["detailsType"] == "socket" and results["connectedId"] and results["sameId"] is True
    assert results["cacheTest"] == "nodeValue" and results["cacheError"] is None
    assert results["random"] == "number" and results["randomDelta"] == "number"
    assert results["failedError"] == "key is a required parameter for this action"
    assert results["roomAdd"] == "OK" and results["say"] == "OK"
    assert results["heard"] == ["hello from node"]
    assert results["rooms"] == ["defaultRoom"]


def test_the_readme_example_runs(boot_hero, tmp_path: Path) -> None:
    """README, TCP: the actionhero-node-client snippet, as written (its port and require path swapped in)."""
    import re

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    (snippet,) = [code for code in re.findall(r"^```js\n(.*?)^```", readme, re.M | re.S)
                  if "actionhero-node-client" in code]
    api = boot_hero({"web": {"enabled": False}})
    port = api.servers["socket"].address[1]
    package = actionhero_node_client()
    code = snippet.replace('require("actionhero-node-client")', f"require({json.dumps(str(package))})")
    code = code.replace("port: 5000", f"port: {port}")
    script = tmp_path / "readme_client.js"
    script.write_text("(async () => {\n" + code + "\nconsole.log(JSON.stringify(data));\n"
                      "await client.disconnect(); process.exit(0);\n})().catch((e) => { console.log(String(e)); "
                      "process.exit(1); });\n")
    node = require_tool("node", "actionhero's node client runs in Node 12+")
    done = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout.splitlines()[0])
    assert "cacheTestResults" in data, data
    assert data["cacheTestResults"]["loadResp"]["value"] == "hello" and data["context"] == "response"
