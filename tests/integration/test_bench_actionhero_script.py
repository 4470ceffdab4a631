"""scripts/bench_actionhero.py: the hero side it builds loads under main's layout (no node, no Redis needed), and
its C TCP line client (scripts/linebench.c) compiles and counts what a real line server answers."""
from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import APP_ROOT


def _load(name: str, path: Path):
    loader_path = str(path)
    spec = importlib.util.spec_from_loader(name, importlib.machinery.SourceFileLoader(name, loader_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scripts():
    """``scripts/bench`` and ``scripts/bench_actionhero.py``, as the bench loads them."""
    scripts = Path(APP_ROOT) / "scripts"
    bench = _load("bench_script", scripts / "bench")
    sys.path.insert(0, str(scripts))
    try:
        import bench_actionhero
    finally:
        sys.path.remove(str(scripts))
    return bench, bench_actionhero


def test_the_hero_project_it_builds_loads_every_action(tmp_path):
    bench, bench_actionhero = _scripts()
    servers = bench_actionhero.Servers(bench, argparse.Namespace(ah_redis="redis://127.0.0.1:6379"), tmp_path)
    servers.build_hero()
    probe = ("import importlib.util, pathlib, sys, hero\n"
             "names = []\n"
             "for path in sorted(pathlib.Path(sys.argv[1], 'actions').glob('*.py')):\n"
             "    spec = importlib.util.spec_from_file_location(path.stem, path)\n"
             "    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
             "    names += [v.name for v in vars(module).values()\n"
             "              if isinstance(v, type) and issubclass(v, hero.Action) and v is not hero.Action]\n"
             "print(' '.join(sorted(names)))\n")
    result = subprocess.run([sys.executable, "-c", probe, str(servers.hero_root)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    names = set(result.stdout.split())
    assert {"noInputs", "fiveInputs", "enqueueNoop", "randomNumber", "status", "cacheTest"} <= names


def _line_server():
    """A lock-step line server: a welcome line, then one reply per line, every third an error."""
    from gevent.server import StreamServer

    def handle(sock, _address):
        sock.sendall(b'{"welcome": "hi"}\n')
        count = 0
        for _line in sock.makefile("rb"):
            count += 1
            sock.sendall(b'{"error": "no"}\n' if count % 3 == 0 else b'{"randomNumber": 0.5}\n')

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    return server


def test_the_c_line_client_compiles_and_counts_lock_step_replies_and_errors(tmp_path):
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: the bench uses node's TCP client")
    bench, bench_actionhero = _scripts()
    binary = bench_actionhero.build_line_client(bench, tmp_path)
    assert binary is not None and binary.exists()
    server = _line_server()
    try:
        # NOTE: gevent's subprocess, so the server's greenlet answers while the client runs
        done = subprocess.run([str(binary), str(server.server_port), "4", "1"], capture_output=True, text=True,
                              timeout=30)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["seconds"] == 1 and result["replies"] > 100
    # every third reply of each connection is an error line; the last round may stop anywhere
    assert abs(result["errors"] - result["replies"] / 3) <= 4
    assert 0 <= result["p50"] <= result["p99"] < 1000
