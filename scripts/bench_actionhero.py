"""``scripts/bench actionhero`` and ``scripts/bench actionhero-cluster``: hero beside actionhero itself.

actionhero 29.3.5 and its ``actionhero-socket-server`` plugin are installed from the npm registry into a
temporary folder, with a minimal project written here (the same small actions hero's side runs:
``randomNumber``, ``status``, ``cacheTest``, ``noInputs`` / ``fiveInputs``, ``enqueueNoop``,
``createChatRoom``). Both servers use the real Redis (``--ah-redis``, default 127.0.0.1:6379): hero on
database 6, actionhero on database 7, both FLUSHED at start.

Single process (``actionhero``): each server pinned to core 0, load generators (wrk, node clients) on
core 1 (TCP's clients are ``scripts/linebench.c``, compiled here, or node's without a C compiler);
per workload, interleaved rounds hero, actionhero, hero, ... each started only when the machine
is quiet (``--quiet-busy``: busy share of all cores over 1 s, checked before every round). Printed:
rate, p50/p99 where the client measures them, server CPU per reply, and hero/actionhero.

Several processes (``actionhero-cluster``): hero under ``gunicorn -k hero.gunicorn.Worker`` with 1 and 2
workers against actionhero under node's cluster with 2 workers, nothing pinned; HTTP and TCP
``randomNumber``. CPU per reply counts every process of the server's tree.

It measures; it asserts nothing. Figures on a shared 2-core machine swing by ±20%: CPU per reply is
the steadier figure.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

ACTIONHERO_VERSION = "29.3.5"
SOCKET_SERVER_VERSION = "3.0.1"
#: The WebSocket client for Primus (actionhero's WebSocket transport) needs ``ws`` beside ``primus``.
NPM_PACKAGES = [f"actionhero@{ACTIONHERO_VERSION}", f"actionhero-socket-server@{SOCKET_SERVER_VERSION}", "ws@8"]

# --- the actionhero project ----------------------------------------------------------------------

AH_CONFIG: dict[str, str] = {
    "general.js": r"""
const path = require("path");
const root = process.env.PROJECT_ROOT;
exports.DEFAULT = {
  general: () => ({
    serverName: "ahbench",
    paths: {
      action: [path.join(root, "actions")],
      task: [path.join(root, "tasks")],
      server: [path.join(root, "servers")],
      cli: [path.join(root, "bin")],
      initializer: [path.join(root, "initializers")],
      public: [path.join(root, "public")],
      pid: [path.join(root, "pids")],
      log: [path.join(root, "log")],
      plugin: [path.join(root, "node_modules")],
      test: [path.join(root, "__tests__")],
      src: path.join(root, "src"),
      dist: path.join(root, "dist"),
    },
  }),
};
""",
    "plugins.js": r"""
const path = require("path");
exports.DEFAULT = {
  plugins: () => ({
    "actionhero-socket-server": { path: path.join(process.env.PROJECT_ROOT, "node_modules", "actionhero-socket-server") },
  }),
};
""",
    "socket.js": r"""
exports.DEFAULT = {
  socket: () => ({
    enabled: true, secure: false, serverOptions: {}, port: Number(process.env.AH_SOCKET_PORT),
    bindIP: "127.0.0.1", setKeepAlive: false, delimiter: "\n", maxDataLength: 0,
  }),
};
""",
    # Only warnings and worse, to the console: hero's side logs at "warning" in production too.
    "logger.js": r"""
const winston = require("winston");
exports.DEFAULT = {
  logger: () => ({
    loggers: [() => winston.createLogger({ level: "warning", levels: winston.config.syslog.levels,
                                          transports: [new winston.transports.Console()] })],
  }),
};
""",
    # The same response shape as hero's side: no padding, server and requester information on.
    "web.js": r"""
exports.DEFAULT = {
  web: () => ({
    bindIP: "127.0.0.1", port: Number(process.env.PORT), padding: null, automaticRoutes: ["get"],
    metadataOptions: { serverInformation: true, requesterInformation: true },
  }),
};
exports.production = exports.DEFAULT;
""",
    "routes.js": r"""
exports.DEFAULT = { routes: () => ({ get: [{ path: "/random", action: "randomNumber" }] }) };
""",
    "tasks.js": r"""
exports.DEFAULT = { tasks: () => ({ scheduler: false, queues: ["default"], minTaskProcessors: 0, maxTaskProcessors: 0 }) };
""",
}

AH_ACTIONS: dict[str, str] = {
    "randomNumber.js": r"""
const { Action } = require("actionhero");
exports.RandomNumber = class RandomNumber extends Action {
  constructor() { super(); this.name = "randomNumber"; this.description = "a random number"; }
  async run() {
    const randomNumber = Math.random();
    return { randomNumber, stringRandomNumber: `Your random number is ${randomNumber}` };
  }
};
""",
    # actionhero's own status action, as shipped in 29.3.5.
    "status.js": r"""
const { Action, api, task, id, actionheroVersion } = require("actionhero");
exports.Status = class Status extends Action {
  constructor() { super(); this.name = "status"; this.description = "basic information about the API"; }
  async run() {
    let nodeStatus = "Node Healthy";
    const problems = [];
    const consumedMemoryMB = Math.round((process.memoryUsage().heapUsed / 1024 / 1024) * 100) / 100;
    if (consumedMemoryMB > 500) { nodeStatus = "Node Unhealthy"; problems.push("Using more than 500 MB of RAM/HEAP"); }
    const details = await task.details();
    let length = 0;
    Object.keys(details.queues).forEach((q) => { length += details.queues[q].length; });
    if (length > 1000) { nodeStatus = "Node Unhealthy"; problems.push("Resque Queues over 1000 jobs"); }
    return { id, actionheroVersion, name: "ahbench", description: "bench", version: "1.0.0",
             uptime: new Date().getTime() - api.bootTime, consumedMemoryMB, resqueTotalQueueLength: length,
             nodeStatus, problems };
  }
};
""",
    # actionhero's own cacheTest action, as shipped in 29.3.5.
    "cacheTest.js": r"""
const { Action, cache } = require("actionhero");
const stringFormatter = (s) => String(s);
const stringValidator = (s) => (s.length < 3 ? "inputs should be at least 3 letters long" : true);
exports.CacheTest = class CacheTest extends Action {
  constructor() {
    super(); this.name = "cacheTest"; this.description = "the cache functions";
    this.inputs = { key: { required: true, formatter: stringFormatter, validator: stringValidator },
                    value: { required: true, formatter: stringFormatter, validator: stringValidator } };
  }
  async run({ params }) {
    const key = `cacheTest_${params.key}`;
    return { cacheTestResults: { saveResp: await cache.save(key, params.value, 5000), sizeResp: await cache.size(),
                                 loadResp: await cache.load(key), deleteResp: await cache.destroy(key) } };
  }
};
""",
    "noInputs.js": r"""
const { Action } = require("actionhero");
exports.NoInputs = class NoInputs extends Action {
  constructor() { super(); this.name = "noInputs"; this.description = "echoes its params"; }
  async run({ params }) { return { a: params.a, b: params.b, c: params.c, d: params.d, e: params.e }; }
};
""",
    # Five declared inputs, each with a default, a formatter and a validator.
    "fiveInputs.js": r"""
const { Action } = require("actionhero");
const toInt = (v) => parseInt(v, 10);
const nonNegative = (v) => (v >= 0 ? true : "must not be negative");
const input = (d) => ({ required: false, default: d, formatter: toInt, validator: nonNegative });
exports.FiveInputs = class FiveInputs extends Action {
  constructor() {
    super(); this.name = "fiveInputs"; this.description = "five declared inputs";
    this.inputs = { a: input(1), b: input(2), c: input(3), d: input(4), e: input(5) };
  }
  async run({ params }) { return { a: params.a, b: params.b, c: params.c, d: params.d, e: params.e }; }
};
""",
    "enqueueNoop.js": r"""
const { Action, task } = require("actionhero");
exports.EnqueueNoop = class EnqueueNoop extends Action {
  constructor() { super(); this.name = "enqueueNoop"; this.description = "enqueues a no-op task"; }
  async run() { return { enqueued: await task.enqueue("noop", {}, "default") }; }
};
""",
    "createChatRoom.js": r"""
const { Action, chatRoom } = require("actionhero");
exports.CreateChatRoom = class CreateChatRoom extends Action {
  constructor() { super(); this.name = "createChatRoom"; this.description = "makes a room";
                  this.inputs = { name: { required: true } }; }
  async run({ params }) {
    let didCreate = false;
    if (!(await chatRoom.exists(params.name))) { await chatRoom.add(params.name); didCreate = true; }
    return { name: params.name, didCreate };
  }
};
""",
}

AH_TASKS = {
    "noop.js": r"""
const { Task } = require("actionhero");
exports.Noop = class Noop extends Task {
  constructor() { super(); this.name = "noop"; this.description = "nothing"; this.frequency = 0; this.queue = "default"; }
  async run() { return null; }
};
""",
}

#: node's cluster module around actionhero's server: the workers share the HTTP and TCP listeners.
AH_CLUSTER = r"""
const cluster = require("cluster");
const workers = Number(process.env.AH_WORKERS || 2);
if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  const stop = () => { for (const id in cluster.workers) cluster.workers[id].process.kill("SIGTERM"); process.exit(0); };
  process.on("SIGTERM", stop); process.on("SIGINT", stop);
} else {
  require(require("path").join(process.env.PROJECT_ROOT, "node_modules", "actionhero", "dist", "server.js"));
}
"""

# --- the hero app (the example app's actions, plus the bench's own) ------------------------------

HERO_ACTIONS = {
    "no_inputs.py": '''
from hero import Action


class NoInputs(Action):
    name = "noInputs"
    description = "echoes its params"

    def run(self, data):
        params = data.params
        return {"a": params.get("a"), "b": params.get("b"), "c": params.get("c"), "d": params.get("d"),
                "e": params.get("e")}
''',
    "five_inputs.py": '''
from hero import Action, Input


def non_negative(value):
    return value >= 0 or "must not be negative"


def _input(default):
    return Input(default=default, formatter=int, validator=non_negative)


class FiveInputs(Action):
    name = "fiveInputs"
    description = "five declared inputs"
    inputs = {"a": _input(1), "b": _input(2), "c": _input(3), "d": _input(4), "e": _input(5)}

    def run(self, data):
        params = data.params
        return {"a": params["a"], "b": params["b"], "c": params["c"], "d": params["d"], "e": params["e"]}
''',
    "enqueue_noop.py": '''
from hero import Action


class EnqueueNoop(Action):
    name = "enqueueNoop"
    description = "enqueues a no-op task"

    def run(self, data):
        return {"enqueued": data.api.tasks.enqueue("noop", {}, "default")}
''',
}

# --- node load generators --------------------------------------------------------------------------

#: Lock-step WebSocket clients: ``plain`` (node's WebSocket, hero) or ``primus`` (actionhero).
WS_CLIENT = r"""
const [kind, url, clients, seconds] = [process.argv[1], process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
let Socket = null;
if (kind === "primus") {
  const Primus = require("primus");
  Socket = Primus.createSocket({ transformer: "websockets", pathname: "/primus", parser: "JSON" });
}
function open(onMessage, onClose) {
  if (Socket) {
    const s = new Socket(url, { reconnect: { retries: 0 }, strategy: false });
    s.on("data", onMessage); s.on("end", onClose); s.on("error", () => {});
    return { send: (m) => s.write(m), close: () => s.end() };
  }
  const ws = new WebSocket(url);
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = onClose; ws.onerror = () => {};
  return { send: (m) => ws.send(JSON.stringify(m)), close: () => ws.close() };
}
let replies = 0, errors = 0, open_ = 0;
const latencies = [];
const deadline = Date.now() + seconds * 1000;
for (let i = 0; i < clients; i++) {
  let welcomed = false, messageId = 0, sent = 0, conn = null, done = false;
  open_++;
  const next = () => {
    if (Date.now() < deadline) { sent = process.hrtime.bigint();
      conn.send({ event: "action", params: { action: "randomNumber" }, messageId: ++messageId }); }
    else if (!done) { done = true; conn.close(); }
  };
  conn = open((m) => {
    if (!welcomed) { welcomed = true; return next(); }
    if (m.context !== "response") return;
    replies++; latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
    if (m.error) errors++;
    next();
  }, () => { if (--open_ === 0) finish(); });
}
function finish() {
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN;
  console.log(JSON.stringify({ replies, errors, seconds, p50: pct(0.5), p99: pct(0.99) }));
  process.exit(0);
}
setTimeout(finish, (seconds + 15) * 1000);
"""

#: Lock-step TCP line clients with latencies (both servers send a welcome line first).
TCP_CLIENT = r"""
const net = require("net");
const [port, clients, seconds] = process.argv.slice(1).map(Number);
let replies = 0, errors = 0, open = 0;
const latencies = [];
const deadline = Date.now() + seconds * 1000;
for (let i = 0; i < clients; i++) {
  const sock = net.connect(port, "127.0.0.1");
  sock.setNoDelay(true);
  let buffered = "", welcomed = false, sent = 0n;
  open++;
  sock.on("data", (chunk) => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (welcomed) { replies++; latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
                      if (line.includes('"error"')) errors++; }
      welcomed = true;
      if (Date.now() < deadline) { sent = process.hrtime.bigint(); sock.write("randomNumber\n"); } else sock.end();
    }
  });
  sock.on("close", () => { if (--open === 0) finish(); });
  sock.on("error", () => { errors++; });
}
function finish() {
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] : NaN;
  console.log(JSON.stringify({ replies, errors, seconds, p50: pct(0.5), p99: pct(0.99) }));
  process.exit(0);
}
setTimeout(finish, (seconds + 15) * 1000);
"""

#: ``members`` WebSocket clients join one room; ``senders`` of them say in lock-step (the next say
#: goes when the sender's own copy arrives). Counts the chat messages every member received.
SAY_CLIENT = r"""
const [kind, url, members, senders, seconds, room] = [process.argv[1], process.argv[2], Number(process.argv[3]),
  Number(process.argv[4]), Number(process.argv[5]), process.argv[6]];
let Socket = null;
if (kind === "primus") {
  const Primus = require("primus");
  Socket = Primus.createSocket({ transformer: "websockets", pathname: "/primus", parser: "JSON" });
}
function open(onMessage) {
  if (Socket) {
    const s = new Socket(url, { reconnect: { retries: 0 }, strategy: false });
    s.on("data", onMessage); s.on("error", () => {});
    return { send: (m) => s.write(m), close: () => s.end() };
  }
  const ws = new WebSocket(url);
  ws.onmessage = (e) => onMessage(JSON.parse(e.data)); ws.onerror = () => {};
  return { send: (m) => ws.send(JSON.stringify(m)), close: () => ws.close() };
}
let joined = 0, delivered = 0, errors = 0, started = 0, deadline = 0, measuring = false;
const conns = [];
// The message is a string: actionhero joins a say's words into one.
const says = (i, n) => conns[i].send({ event: "say", room, message: `${i}:${n}`, messageId: n });
for (let i = 0; i < members; i++) {
  let welcomed = false, n = 0;
  const c = open((m) => {
    if (!welcomed) { welcomed = true; c.send({ event: "roomAdd", room, messageId: "join" }); return; }
    if (m.context === "response") {
      if (m.messageId === "join") {
        if (m.error) { errors++; console.error("roomAdd", JSON.stringify(m)); }
        if (++joined === members) begin();
      } else if (m.error) { errors++; }
      return;
    }
    if (m.context !== "user") return;
    if (measuring) delivered++;
    if (i < senders && String(m.message).startsWith(`${i}:`)) {
      if (Date.now() < deadline) says(i, ++n); else stop();
    }
  });
  conns.push(c);
}
function begin() {
  started = Date.now(); deadline = started + seconds * 1000; measuring = true;
  for (let i = 0; i < senders; i++) says(i, 1);
}
let stopped = false;
function stop() {
  if (stopped) return; stopped = true;
  const elapsed = (Date.now() - started) / 1000;
  setTimeout(() => {
    console.log(JSON.stringify({ delivered, errors, seconds: elapsed, joined }));
    for (const c of conns) c.close();
    process.exit(0);
  }, 200);
}
setTimeout(() => { console.log(JSON.stringify({ delivered, errors, seconds: Math.max(1, (Date.now() - started) / 1000), joined })); process.exit(0); }, (seconds + 20) * 1000);
"""


# --- the machinery ---------------------------------------------------------------------------------


def _busy_share(seconds: float) -> float:
    """Share of all cores busy over ``seconds`` (Linux /proc/stat)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_quiet(max_busy: float, timeout: float) -> str:
    """Wait (at most ``timeout`` s) until the machine is quiet: two consecutive 1 s windows below
    ``max_busy`` of all cores. Returns a note for the round's line when it never got quiet."""
    deadline = time.monotonic() + timeout
    quiet_windows, share = 0, 0.0
    while time.monotonic() < deadline:
        share = _busy_share(1.0)
        quiet_windows = quiet_windows + 1 if share <= max_busy else 0
        if quiet_windows >= 2:
            return ""
    return f"  (not quiet: {share:.0%} busy)"


def tree_pids(pid: int) -> list[int]:
    """``pid`` and every descendant (gunicorn's workers, node cluster's workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_cpu(pid: int) -> float:
    total = 0.0
    for each in tree_pids(pid):
        try:
            with open(f"/proc/{each}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return total


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _run_json(command: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "NODE_PATH": str(cwd / "node_modules")}
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"bench: client failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(lines[-1])


class Servers:
    """The temp folder, both projects, and the running servers."""

    def __init__(self, bench: ModuleType, args: argparse.Namespace, workdir: Path) -> None:
        self.bench, self.args, self.workdir = bench, args, workdir
        self.ah_root = workdir / "actionhero"
        self.hero_root = workdir / "hero"

    # building

    @functools.cached_property
    def line_client(self) -> Path | None:
        """The compiled TCP line client (:func:`build_line_client`), built on first use."""
        return build_line_client(self.bench, self.workdir)

    def build_actionhero(self) -> None:
        root = self.ah_root
        for folder in ("config", "actions", "tasks", "servers", "initializers", "bin", "public", "pids", "log"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "package.json").write_text(json.dumps({"name": "ahbench", "version": "1.0.0", "private": True}))
        for folder, files in (("config", AH_CONFIG), ("actions", AH_ACTIONS), ("tasks", AH_TASKS)):
            for name, text in files.items():
                (root / folder / name).write_text(text.lstrip())
        (root / "cluster.js").write_text(AH_CLUSTER.lstrip())
        cache = self.args.ah_cache
        if cache and (Path(cache) / "node_modules" / "actionhero" / "package.json").exists():
            shutil.copytree(Path(cache) / "node_modules", root / "node_modules", symlinks=True)
            print(f"  actionhero: node_modules copied from {cache}")
            return
        print(f"  actionhero: npm install {' '.join(NPM_PACKAGES)} into {root}")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *NPM_PACKAGES],
                       cwd=root, check=True, stdout=subprocess.DEVNULL, timeout=600)
        if cache:
            Path(cache).mkdir(parents=True, exist_ok=True)
            shutil.copytree(root / "node_modules", Path(cache) / "node_modules", symlinks=True, dirs_exist_ok=True)

    def build_hero(self) -> None:
        root = self.hero_root
        for folder in ("actions", "tasks", "initializers", "public"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        example = self.bench.ROOT
        for name in ("random_number.py", "status.py", "cache_test.py", "create_chat_room.py"):
            shutil.copy(example / "actions" / name, root / "actions" / name)
        shutil.copy(example / "tasks" / "noop.py", root / "tasks" / "noop.py")
        for name, text in HERO_ACTIONS.items():
            (root / "actions" / name).write_text(text.lstrip())
        (root / "config.py").write_text('general = {"server_name": "herobench"}\n')

    # environments
    def redis_url(self, db: int) -> str:
        return f"{self.args.ah_redis.rstrip('/')}/{db}"

    def hero_env(self, web_port: int, tcp_port: int) -> dict[str, str]:
        return {"HERO_ENV": "production", "PORT": str(web_port), "HERO_SOCKET_PORT": str(tcp_port),
                "REDIS_URL": self.redis_url(6), "HERO_TASKS__WORKERS": "0", "HERO_WEB__PADDING": "null",
                "HERO_WEB__METADATA": '{"server_information": true, "requester_information": true}',
                "HERO_ROOT": str(self.hero_root),
                # NOTE: warnings and worse only, as actionhero's side logs (its logger.js above)
                "HERO_LOGGER__LEVEL": "warning",
                # production refuses to start on a shared Redis without a cluster secret (docs/deployment.md)
                "HERO_CLUSTER_SECRET": "bench-only-secret"}

    def ah_env(self, web_port: int, tcp_port: int) -> dict[str, str]:
        return {"NODE_ENV": "production", "PORT": str(web_port), "AH_SOCKET_PORT": str(tcp_port),
                "PROJECT_ROOT": str(self.ah_root), "ACTIONHERO_CONFIG": str(self.ah_root / "config"),
                "REDIS_URL": self.redis_url(7)}

    def flush(self) -> None:
        import redis

        for db in (6, 7):
            client = redis.Redis.from_url(self.redis_url(db))
            client.flushdb()
            client.close()

    @contextmanager
    def serve(self, command: list[str], port: int, env: dict[str, str], cwd: Path, pin: bool) -> Iterator[subprocess.Popen]:
        full = self.bench.pinned(0, command) if pin else command
        log = open(self.workdir / f"server-{port}.log", "wb")
        process = subprocess.Popen(full, cwd=cwd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            self.bench.wait_for_port(port, process, timeout=60)
            yield process
        except SystemExit:
            log.flush()
            sys.stderr.write((self.workdir / f"server-{port}.log").read_text()[-3000:])
            raise
        finally:
            try:
                os.killpg(process.pid, 15)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
            log.close()


def _median(runs: list[dict[str, float]], key: str) -> float:
    values = [run[key] for run in runs if key in run and run[key] == run[key]]
    return statistics.median(values) if values else float("nan")


def interleaved(args: argparse.Namespace, title: str, unit: str,
                sides: dict[str, tuple[int, Callable[[int], dict[str, float]]]]) -> dict[str, dict[str, float]]:
    """Rounds of ``measure(seconds)`` per side, interleaved, each after the machine is quiet. Each side is
    (pid of its server, measure); measure returns ``rate`` (per second) and maybe p50/p99 (ms), errors."""
    print(f"{title}")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for _, measure in sides.values():
        measure(2)  # warm up
    for round_number in range(1, args.rounds + 1):
        for name, (pid, measure) in sides.items():
            note = wait_quiet(args.quiet_busy, args.quiet_timeout)
            before = tree_cpu(pid)
            result = measure(args.seconds)
            count = result["rate"] * args.seconds
            result["cpu_us"] = (tree_cpu(pid) - before) / count * 1e6 if count else float("nan")
            results[name].append(result)
            latency = (f"  p50 {result['p50']:6.2f} ms  p99 {result['p99']:6.2f} ms"
                       if result.get("p99", float("nan")) == result.get("p99", float("nan")) and "p99" in result else "")
            errors = f"  errors {int(result['errors'])}" if result.get("errors") else ""
            print(f"  round {round_number} {name:<11} {result['rate']:>9.0f} {unit}/s{latency}  "
                  f"{result['cpu_us']:7.1f} us CPU/{unit}{errors}{note}")
    medians = {name: {key: _median(runs, key) for key in ("rate", "p50", "p99", "cpu_us")}
               for name, runs in results.items()}
    for name, median in medians.items():
        latency = f"  p99 {median['p99']:6.2f} ms" if median["p99"] == median["p99"] else ""
        print(f"  median {name:<10} {median['rate']:>9.0f} {unit}/s{latency}  {median['cpu_us']:7.1f} us CPU/{unit}")
    return medians


#: wrk script: ``{n}`` in the path becomes a fresh number per request (a cache key no other client uses).
WRK_SCRIPT = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local counter = 0
function request()
  counter = counter + 1
  local path = string.gsub(wrk.path, "{n}", tostring(tid) .. "x" .. tostring(counter) .. "x" .. tostring(os.time()))
  return wrk.format(nil, path)
end
"""


def _wrk(bench: ModuleType, url: str, connections: int, pin: bool, workdir: Path | None = None) -> Callable[[int], dict[str, float]]:
    import re

    def measure(seconds: int) -> dict[str, float]:
        command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
        if "{n}" in url and workdir is not None:
            script = workdir / "fresh.lua"
            script.write_text(WRK_SCRIPT)
            command += ["-s", str(script)]
        command.append(url)
        output = subprocess.run(bench.pinned(1, command) if pin else command, capture_output=True, text=True,
                                check=True).stdout
        result = {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
        for p in ("50", "99"):
            found = re.search(rf"^\s+{p}%\s+([\d.]+(?:us|ms|s))\s*$", output, re.M)
            result[f"p{p}"] = bench._ms(found.group(1)) if found else float("nan")
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        result["errors"] = float(errors.group(1)) if errors else 0.0
        return result
    return measure


def _node(bench: ModuleType, cwd: Path, script: str, argv: list[str], pin: bool, key: str = "replies",
          seconds_arg: int = -1) -> Callable[[int], dict[str, float]]:
    def measure(seconds: int) -> dict[str, float]:
        values = [str(seconds) if a == "{seconds}" else a for a in argv]
        command = ["node", "--experimental-websocket", "--no-warnings", "-e", script, *values]
        result = _run_json(bench.pinned(1, command) if pin else command, cwd, seconds + 60)
        out = {"rate": result[key] / result["seconds"], "errors": float(result.get("errors", 0))}
        for p in ("p50", "p99"):
            if result.get(p) is not None:
                out[p] = float(result[p])
        return out
    return measure


def build_line_client(bench: ModuleType, workdir: Path) -> Path | None:
    """``scripts/linebench.c`` compiled into ``workdir``; None without a C compiler (node's client then)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    binary = workdir / "linebench"
    done = subprocess.run([compiler, "-O2", "-o", str(binary), str(bench.ROOT / "scripts" / "linebench.c")],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"bench: linebench.c did not compile ({done.stderr.strip()[-300:]}); TCP clients run on node")
        return None
    return binary


def _tcp_clients(bench: ModuleType, servers: Servers, port: int, connections: int,
                 pin: bool) -> Callable[[int], dict[str, float]]:
    """Lock-step TCP line clients on ``port``: the C client when it compiled (about half node's CPU per
    reply, which on two shared cores is what limits the several-process figures), else node's."""
    if servers.line_client is None:
        return _node(bench, servers.ah_root, TCP_CLIENT, [str(port), str(connections), "{seconds}"], pin)
    client = str(servers.line_client)

    def measure(seconds: int) -> dict[str, float]:
        command = [client, str(port), str(connections), str(seconds)]
        result = _run_json(bench.pinned(1, command) if pin else command, servers.workdir, seconds + 60)
        return {"rate": result["replies"] / result["seconds"], "errors": float(result["errors"]),
                "p50": float(result["p50"]), "p99": float(result["p99"])}
    return measure


def _ratio_line(name: str, medians: dict[str, dict[str, float]], unit: str, a: str = "hero", b: str = "actionhero") -> str:
    ratio = medians[a]["rate"] / medians[b]["rate"] if medians[b]["rate"] else float("nan")
    p99 = (f"   p99 {medians[a]['p99']:6.2f} vs {medians[b]['p99']:6.2f} ms"
           if medians[a]["p99"] == medians[a]["p99"] else "")
    return f"{name:<34} {ratio:5.2f}x   {medians[a]['cpu_us']:7.1f} vs {medians[b]['cpu_us']:7.1f} us CPU/{unit}{p99}"


def _http_get(url: str) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return {"error": f"{error.code} from {url}: {error.read()[:300]!r}"}


def _check(bench: ModuleType, hero_web: int, ah_web: int) -> None:
    """Each server answers each workload's action without an error (a bench of errors measures nothing)."""
    paths = ["randomNumber", "status", "cacheTest?key=abc&value=hello", "noInputs?a=1&b=2&c=3",
             "fiveInputs?a=1&b=2&c=3", "enqueueNoop", "createChatRoom?name=bench"]
    for port, side in ((hero_web, "hero"), (ah_web, "actionhero")):
        for path in paths:
            reply = _http_get(f"http://127.0.0.1:{port}/api/{path}")
            if reply.get("error"):
                raise SystemExit(f"bench: {side} /api/{path} answered an error: {reply['error']}")


def bench_actionhero(args: argparse.Namespace, bench: ModuleType) -> int:
    missing = [tool for tool in ("node", "npm", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"bench actionhero: {', '.join(missing)} not installed; nothing measured")
        return 1
    pin = shutil.which("taskset") is not None
    with tempfile.TemporaryDirectory(prefix="bench-ah-") as tmp, ExitStack() as stack:
        servers = Servers(bench, args, Path(tmp))
        print(f"bench actionhero: actionhero {ACTIONHERO_VERSION} + socket server {SOCKET_SERVER_VERSION}; "
              f"{args.rounds} interleaved rounds of {args.seconds}s, c{args.connections}; servers on core 0, "
              f"clients on core 1{'' if pin else ' (no taskset: unpinned)'}; Redis dbs 6 (hero) and 7 (actionhero) flushed")
        servers.build_actionhero()
        servers.build_hero()
        servers.flush()
        ports = {name: bench.free_port() for name in ("hero_web", "hero_tcp", "ah_web", "ah_tcp")}
        hero = stack.enter_context(servers.serve(
            [sys.executable, "-m", "hero", "--root", str(servers.hero_root), "start"], ports["hero_web"],
            servers.hero_env(ports["hero_web"], ports["hero_tcp"]), bench.ROOT, pin))
        ah = stack.enter_context(servers.serve(
            ["node", str(servers.ah_root / "node_modules" / "actionhero" / "dist" / "server.js")], ports["ah_web"],
            servers.ah_env(ports["ah_web"], ports["ah_tcp"]), servers.ah_root, pin))
        bench.wait_for_port(ports["hero_tcp"], hero)
        bench.wait_for_port(ports["ah_tcp"], ah)
        time.sleep(2)
        idle = {"hero": rss_mib(hero.pid), "actionhero": rss_mib(ah.pid)}
        _check(bench, ports["hero_web"], ports["ah_web"])
        pids = {"hero": hero.pid, "actionhero": ah.pid}
        hero_http, ah_http = f"http://127.0.0.1:{ports['hero_web']}/api/", f"http://127.0.0.1:{ports['ah_web']}/api/"
        c = args.connections
        workloads: list[tuple[str, str, dict[str, Callable[[int], dict[str, float]]]]] = []
        for label, path in (("HTTP randomNumber", "randomNumber"), ("HTTP status", "status"),
                            ("HTTP cacheTest (save, size, load, delete)", "cacheTest?key={n}&value=hello"),
                            ("HTTP noInputs", "noInputs?a=1&b=2&c=3"),
                            ("HTTP fiveInputs (default+formatter+validator)", "fiveInputs?a=1&b=2&c=3")):
            workloads.append((label, "req", {"hero": _wrk(bench, hero_http + path, c, pin, servers.workdir),
                                             "actionhero": _wrk(bench, ah_http + path, c, pin, servers.workdir)}))
        workloads.append(("TCP randomNumber", "reply", {
            "hero": _tcp_clients(bench, servers, ports["hero_tcp"], c, pin),
            "actionhero": _tcp_clients(bench, servers, ports["ah_tcp"], c, pin)}))
        workloads.append(("WebSocket randomNumber", "reply", {
            "hero": _node(bench, servers.ah_root, WS_CLIENT,
                          ["plain", f"ws://127.0.0.1:{ports['hero_web']}/ws", str(c), "{seconds}"], pin),
            "actionhero": _node(bench, servers.ah_root, WS_CLIENT,
                                ["primus", f"http://127.0.0.1:{ports['ah_web']}", str(c), "{seconds}"], pin)}))
        members, senders = 100, args.say_senders
        workloads.append((f"say to a room of {members} WebSocket members ({senders} senders)", "msg", {
            "hero": _node(bench, servers.ah_root, SAY_CLIENT,
                          ["plain", f"ws://127.0.0.1:{ports['hero_web']}/ws", str(members), str(senders),
                           "{seconds}", "bench"], pin, key="delivered"),
            "actionhero": _node(bench, servers.ah_root, SAY_CLIENT,
                                ["primus", f"http://127.0.0.1:{ports['ah_web']}", str(members), str(senders),
                                 "{seconds}", "bench"], pin, key="delivered")}))
        workloads.append(("HTTP enqueueNoop (task enqueue)", "req", {
            "hero": _wrk(bench, hero_http + "enqueueNoop", c, pin),
            "actionhero": _wrk(bench, ah_http + "enqueueNoop", c, pin)}))
        only = set(args.only.split(",")) if args.only else None
        summary: list[str] = []
        for number, (label, unit, measures) in enumerate(workloads, 1):
            if only and str(number) not in only:
                continue
            medians = interleaved(args, f"[{number}] {label}", unit,
                                  {name: (pids[name], measure) for name, measure in measures.items()})
            summary.append(_ratio_line(label, medians, unit))
        after = {"hero": rss_mib(hero.pid), "actionhero": rss_mib(ah.pid)}
    print("\nhero / actionhero (median rates; CPU per unit and p99, hero vs actionhero):")
    for line in summary:
        print("  " + line)
    print(f"  {'RSS idle':<34} {idle['hero'] / idle['actionhero']:5.2f}x   "
          f"{idle['hero']:.1f} vs {idle['actionhero']:.1f} MiB")
    print(f"  {'RSS after load':<34} {after['hero'] / after['actionhero']:5.2f}x   "
          f"{after['hero']:.1f} vs {after['actionhero']:.1f} MiB")
    return 0


def bench_actionhero_cluster(args: argparse.Namespace, bench: ModuleType) -> int:
    missing = [tool for tool in ("node", "npm", "wrk") if shutil.which(tool) is None]
    if missing:
        print(f"bench actionhero-cluster: {', '.join(missing)} not installed; nothing measured")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-ahc-") as tmp, ExitStack() as stack:
        servers = Servers(bench, args, Path(tmp))
        print(f"bench actionhero-cluster: hero under gunicorn (1 and 2 workers) vs actionhero under node cluster "
              f"(2 workers), unpinned; {args.rounds} interleaved rounds of {args.seconds}s, c{args.connections}")
        servers.build_actionhero()
        servers.build_hero()
        servers.flush()
        sides: dict[str, tuple[int, int, int]] = {}  # name → (pid, web port, tcp port)
        for workers in (1, 2):
            web, tcp = bench.free_port(), bench.free_port()
            command = [sys.executable, "-m", "gunicorn", "-k", "hero.gunicorn.Worker", "-w", str(workers),
                       "-b", f"127.0.0.1:{web}", "--no-control-socket", "--chdir", str(servers.hero_root),
                       "hero.gunicorn:app"]
            process = stack.enter_context(servers.serve(command, web, servers.hero_env(web, tcp), bench.ROOT, False))
            bench.wait_for_port(tcp, process)
            sides[f"hero-gunicorn-{workers}"] = (process.pid, web, tcp)
        web, tcp = bench.free_port(), bench.free_port()
        process = stack.enter_context(servers.serve(["node", str(servers.ah_root / "cluster.js")], web,
                                                    {**servers.ah_env(web, tcp), "AH_WORKERS": "2"},
                                                    servers.ah_root, False))
        bench.wait_for_port(tcp, process)
        sides["actionhero-cluster-2"] = (process.pid, web, tcp)
        time.sleep(3)
        c = args.connections
        summary = []
        for label, unit, make in (
                ("HTTP randomNumber", "req",
                 lambda w, t: _wrk(bench, f"http://127.0.0.1:{w}/api/randomNumber", c, False)),
                ("TCP randomNumber", "reply",
                 lambda w, t: _tcp_clients(bench, servers, t, c, False))):
            medians = interleaved(args, label, unit, {name: (pid, make(w, t)) for name, (pid, w, t) in sides.items()})
            one, two, ah = (medians[n]["rate"] for n in sides)
            summary.append(f"{label:<20} gunicorn 2/1 workers {two / one:5.2f}x   hero-2/actionhero-cluster-2 "
                           f"{two / ah:5.2f}x   hero-1/actionhero-cluster-2 {one / ah:5.2f}x")
    print("\nseveral processes (median rates):")
    for line in summary:
        print("  " + line)
    return 0
