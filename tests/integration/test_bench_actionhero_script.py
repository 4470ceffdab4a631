"""scripts/bench_actionhero.py: the hero side it builds loads under main's layout (no node, no Redis needed)."""
from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path

from tests.conftest import APP_ROOT


def _load(name: str, path: Path):
    loader_path = str(path)
    spec = importlib.util.spec_from_loader(name, importlib.machinery.SourceFileLoader(name, loader_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hero_project_it_builds_loads_every_action(tmp_path):
    scripts = Path(APP_ROOT) / "scripts"
    bench = _load("bench_script", scripts / "bench")
    sys.path.insert(0, str(scripts))
    try:
        import bench_actionhero
    finally:
        sys.path.remove(str(scripts))
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
