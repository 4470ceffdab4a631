"""``hero start --reload``: restart the server whenever the app's Python files change (development).

A supervisor runs ``hero start`` as a child process, polls the modification times of the app's
``.py`` files, and on a change stops the child gracefully (SIGTERM: in-flight actions finish) and
starts a new one. A whole new process, rather than modules swapped inside a running one
(actionhero's old ``developmentMode``, which its users asked to replace with a restart): no stale
module state, and initializers run again. A child that fails to boot, say on a syntax error, is
reported; the next change starts another.

    $ hero start --reload
    hero reload: watching 14 files under /app; the server restarts when one changes
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from hero.config import DEFAULTS, load_config, plugin_root
from hero.errors import BootError
from hero.runtime.logging import configure_logging

log = logging.getLogger(__name__)

#: Folders never watched: environments, caches, VCS data, and static files (served from disk as they are).
IGNORED_FOLDERS = frozenset({"__pycache__", "node_modules", "public", "venv", "env", "site-packages"})
#: Seconds between two scans of the files.
POLL_SECONDS = 0.5
#: Seconds a stopping server gets beyond ``general.shutdown_timeout`` before it is killed.
STOP_MARGIN = 5.0


def watched_files(root: Path) -> Iterator[Path]:
    """The ``.py`` files under ``root``, skipping hidden and :data:`IGNORED_FOLDERS` folders."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".") and name not in IGNORED_FOLDERS]
        for name in files:
            if name.endswith(".py"):
                yield Path(folder, name)


def snapshot(*roots: Path) -> dict[Path, int]:
    """Each watched file with its modification time (ns); files that vanish meanwhile are skipped."""
    times: dict[Path, int] = {}
    for root in roots:
        for path in watched_files(root):
            try:
                times[path] = path.stat().st_mtime_ns
            except OSError:
                continue
    return times


def changes(before: dict[Path, int], after: dict[Path, int]) -> list[Path]:
    """Files added, removed or modified between two snapshots, sorted."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


class Reloader:
    """Runs ``command`` as a child and restarts it whenever a file under ``roots`` changes (the
    app's folder, then the folders of its plugins)."""

    def __init__(self, roots: Sequence[Path], command: Sequence[str], *, stop_timeout: float) -> None:
        self.roots = list(roots)
        self.root = self.roots[0]
        self.command = list(command)
        self.stop_timeout = stop_timeout
        self.child: subprocess.Popen[bytes] | None = None
        self._stop_requested = False

    def __repr__(self) -> str:
        return f"Reloader({self.root}, child={self.child.pid if self.child else None})"

    def run(self) -> int:
        """Supervise until SIGINT, SIGTERM or SIGHUP; returns the last child's exit code (0 when stopped)."""
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, self._on_signal)
        files = snapshot(*self.roots)
        log.warning("hero reload: watching %d files under %s; the server restarts when one changes",
                    len(files), ", ".join(str(root) for root in self.roots))
        self._start()
        reported_exit = False
        while not self._stop_requested:
            time.sleep(POLL_SECONDS)
            current = snapshot(*self.roots)
            changed = changes(files, current)
            files = current
            if changed:
                names = ", ".join(self._name(path) for path in changed[:3])
                more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
                log.warning("hero reload: %s%s changed; restarting", names, more)
                self._stop_child()
                self._start()
                reported_exit = False
            elif self.child is not None and self.child.poll() is not None and not reported_exit:
                log.warning("hero reload: the server exited with %s; it starts again when a file changes",
                            self.child.returncode)
                reported_exit = True
        return self._stop_child()

    def _name(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self._stop_requested = True

    def _start(self) -> None:
        # NOTE: a session of its own, so a terminal's Ctrl-C reaches only the supervisor, which
        # passes on one SIGTERM: the child would take a second signal as "stop at once".
        self.child = subprocess.Popen(self.command, start_new_session=True)

    def _stop_child(self) -> int:
        """Stop the child gracefully (killed after the stop timeout); its exit code."""
        child = self.child
        if child is None:
            return 0
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("hero reload: the server did not stop within %.0fs; killing it", self.stop_timeout)
                child.kill()
                child.wait()
        return child.returncode or 0


def reload_forever(root: str) -> int:
    """``hero start --reload``: supervise ``hero start`` for the app in ``root``."""
    app_root = Path(root).resolve()
    roots = [app_root]
    shutdown_timeout = DEFAULTS["general"]["shutdown_timeout"]
    try:
        config = load_config(app_root)
        configure_logging(config.logger.level, config.logger.format)
        shutdown_timeout = config.general.shutdown_timeout
        roots += [folder for name, entry in config.plugins.items()
                  if not (folder := plugin_root(name, entry, app_root)).is_relative_to(app_root)]
    except BootError as error:
        configure_logging()
        log.warning("hero reload: %s (the server will say so too)", error.message)
    command = [sys.executable, "-m", "hero", "--root", root, "start"]
    return Reloader(roots, command, stop_timeout=shutdown_timeout + STOP_MARGIN).run()
