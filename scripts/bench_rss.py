"""``scripts/bench rss``: the memory of one idle server process, then after a short load (issue 17).

hero runs the bench app of ``scripts/bench actionhero`` (the example app's small actions) in production
(``hero start``, tasks.workers 0, Redis at ``--redis-url``, that database FLUSHED); actionhero 29.3.5
runs its own minimal project beside it when node is installed (``--ah-cache`` keeps its npm install).
The servers run one after the other, so neither disturbs the other's figures.

Per server: RSS, USS and PSS (``/proc/<pid>/smaps_rollup``) once it has idled ``--idle`` seconds after
it listens, then after ``wrk -c<connections> -d<seconds>`` on ``/api/randomNumber`` and two quiet
seconds, and again six seconds later (hero trims its heap once a busy spell is over). Target (issue 17): hero's idle RSS <= 0.6x actionhero's. It measures; it asserts nothing.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType


def memory_mib(pid: int) -> dict[str, float]:
    """RSS, PSS and USS (private clean + dirty) of ``pid`` in MiB, from smaps_rollup (Linux 4.14+)."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {"rss": fields.get("Rss", 0) / 1024, "pss": fields.get("Pss", 0) / 1024, "uss": uss / 1024}


def _line(name: str, when: str, figures: dict[str, float]) -> str:
    return (f"  {name:<10} {when:<11} RSS {figures['rss']:6.1f} MiB   USS {figures['uss']:6.1f}   "
            f"PSS {figures['pss']:6.1f}")


def _flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def _measure(bench: ModuleType, servers: object, args: argparse.Namespace, name: str, command: list[str],
             env: dict[str, str], cwd: Path, web: int, tcp: int) -> dict[str, dict[str, float]]:
    _flush(args.redis_url)
    with servers.serve(command, web, env, cwd, False) as process:  # type: ignore[attr-defined]
        bench.wait_for_port(tcp, process)
        time.sleep(args.idle)
        idle = memory_mib(process.pid)
        print(_line(name, "idle", idle), flush=True)
        subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s",
                        f"http://127.0.0.1:{web}/api/randomNumber"], capture_output=True, check=False)
        time.sleep(2)
        loaded = memory_mib(process.pid)
        print(_line(name, "after load", loaded), flush=True)
        time.sleep(6)
        quiet = memory_mib(process.pid)
        print(_line(name, "8s later", quiet), flush=True)
    return {"idle": idle, "load": loaded, "quiet": quiet}


def bench_rss(args: argparse.Namespace, bench: ModuleType) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_actionhero

    if shutil.which("wrk") is None:
        print("bench rss: wrk is not installed; nothing measured")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        servers = bench_actionhero.Servers(bench, args, Path(tmp))
        servers.build_hero()
        print(f"bench rss: one process each, idle {args.idle}s, then wrk -c{args.connections} -d{args.seconds}s "
              f"on /api/randomNumber; Redis {args.redis_url} (flushed)")
        results: dict[str, dict[str, dict[str, float]]] = {}
        web, tcp = bench.free_port(), bench.free_port()
        hero_env = {**servers.hero_env(web, tcp), "REDIS_URL": args.redis_url}
        results["hero"] = _measure(bench, servers, args, "hero",
                                   [sys.executable, "-m", "hero", "--root", str(servers.hero_root), "start"],
                                   hero_env, bench.ROOT, web, tcp)
        if shutil.which("node") and shutil.which("npm"):
            servers.build_actionhero()
            web, tcp = bench.free_port(), bench.free_port()
            ah_env = {**servers.ah_env(web, tcp), "REDIS_URL": args.redis_url}
            results["actionhero"] = _measure(
                bench, servers, args, "actionhero",
                ["node", str(servers.ah_root / "node_modules" / "actionhero" / "dist" / "server.js")],
                ah_env, servers.ah_root, web, tcp)
        else:
            print("  actionhero: node/npm not installed; hero alone")
        _flush(args.redis_url)
    if "actionhero" in results:
        for when, label in (("idle", "idle"), ("load", "after load"), ("quiet", "8s later")):
            hero, ah = results["hero"][when]["rss"], results["actionhero"][when]["rss"]
            print(f"hero/actionhero RSS {label:<10} {hero / ah:5.2f}x   {hero:.1f} vs {ah:.1f} MiB"
                  f"{'   (target <= 0.60x)' if when == 'idle' else ''}")
    return 0
