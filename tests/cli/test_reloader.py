"""The reloader's file watching, in this process: which files it sees change, and which folders it watches.
``hero start --reload`` itself, as a developer runs it, is tested in tests/integration/test_reload.py."""
from __future__ import annotations

import os
import time

from hero.cli.reloader import changes, snapshot
from tests.support.apps import write_app


def test_snapshots_notice_added_changed_and_removed_files(tmp_path):
    root = write_app(tmp_path, {"actions/a.py": "A = 1\n", "actions/b.py": "B = 1\n", "public/x.py": "",
                                ".venv/lib/c.py": "", "__pycache__/d.py": ""})
    before = snapshot(root)
    assert sorted(path.relative_to(root).as_posix() for path in before) == ["actions/a.py", "actions/b.py"]
    (root / "actions/a.py").write_text("A = 2  # longer\n")
    os.utime(root / "actions/a.py", ns=(time.time_ns(), before[root / "actions/a.py"] + 1_000_000))
    (root / "actions/b.py").unlink()
    (root / "initializers").mkdir()
    (root / "initializers/e.py").write_text("")
    assert [path.relative_to(root).as_posix() for path in changes(before, snapshot(root))] == [
        "actions/a.py", "actions/b.py", "initializers/e.py"]


def test_the_folders_of_plugins_outside_the_app_are_watched_too(tmp_path):
    from hero.cli.reloader import Reloader

    app = write_app(tmp_path / "app", {"actions/a.py": "", "config.py": "plugins = {'p': {'path': '../plugin'}}\n"})
    plugin = write_app(tmp_path / "plugin", {"actions/b.py": ""})
    watched = snapshot(app, plugin)
    assert {path.name for path in watched} == {"a.py", "b.py", "config.py"}
    reloader = Reloader([app, plugin], ["true"], stop_timeout=1)
    assert reloader._name(app / "actions/a.py") == "actions/a.py"
    assert reloader._name(plugin / "actions/b.py") == str(plugin / "actions/b.py")
