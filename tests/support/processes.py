"""The one way tests start a program as a subprocess: ``python -m hero ... start``, ``worker``,
``start --reload``, or gunicorn (the argv is the caller's).

The child writes its output to a log file, never to a pipe: a pipe nobody reads fills up and blocks
the child, and a file survives for the failure message (and the browser tests' artifacts). A test
waits until the child is ready by reading its lines (``wait_for_line("hero ready")``), by a port
(``wait_for_port``) or by any check (``wait_until``); each wait fails at once, with the output, when
the child exits instead. ``stop()`` sends SIGTERM, waits, then SIGKILLs the child and its children
(RQ's work-horses, the reload supervisor's server); the ``processes`` fixture stops every child still
running after the test.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import requests


def hero_command(*args: str, root: Path | str | None = None) -> list[str]:
    """``python -m hero [--root ROOT] ARGS`` with this interpreter."""
    return [sys.executable, "-m", "hero", *(("--root", str(root)) if root is not None else ()), *args]


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without hero's settings (``HERO_*``, ``REDIS_URL``), plus ``variables``:
    the child is configured by the test, not by the shell that ran pytest."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HERO_") and key != "REDIS_URL"}
    env.update(variables)
    return env


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    """Whether ``GET url`` answers 200."""
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


class Subprocess:
    """One running child, its stdout and stderr appended to ``log`` (stderr to ``stderr_log`` if given)."""

    def __init__(self, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | str | None = None, stderr_log: Path | None = None) -> None:
        self.argv = [str(part) for part in argv]
        self.log = log
        self.stderr_log = stderr_log
        #: The lines read from the log so far (trailing whitespace removed).
        self.lines: list[str] = []
        self._consumed = 0  # lines already looked at by wait_for_line
        log.parent.mkdir(parents=True, exist_ok=True)
        # NOTE: a log may be appended to (a restarted server keeps one file); read only this child's part
        self._start = self._read_at = log.stat().st_size if log.exists() else 0
        self._partial = b""
        environment = dict(os.environ if env is None else env)
        environment.setdefault("PYTHONUNBUFFERED", "1")  # each line in the log as it is printed
        with contextlib.ExitStack() as files:
            out = files.enter_context(log.open("ab"))
            err = files.enter_context(stderr_log.open("wb")) if stderr_log is not None else subprocess.STDOUT
            self.popen = subprocess.Popen(self.argv, cwd=cwd, env=environment, stdout=out, stderr=err)

    def __repr__(self) -> str:
        return f"Subprocess({self.command!r}, pid={self.pid}, returncode={self.popen.returncode})"

    @property
    def command(self) -> str:
        return " ".join(Path(self.argv[0]).name if index == 0 else part for index, part in enumerate(self.argv))

    # --- the Popen interface tests use ---------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout)

    def send_signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def kill(self) -> None:
        self.popen.kill()

    # --- output --------------------------------------------------------------------------------------

    def output(self) -> str:
        """Everything this child has written to its log so far."""
        with self.log.open("rb") as file:
            file.seek(self._start)
            return file.read().decode(errors="replace")

    def errors(self) -> str:
        """What the child wrote to stderr (with ``stderr_log``; else it is in ``output()``)."""
        if self.stderr_log is None or not self.stderr_log.exists():
            return ""
        return self.stderr_log.read_text(errors="replace")

    def tail(self, count: int = 40) -> str:
        return "\n".join((self.output() + self.errors()).splitlines()[-count:])

    def _read_lines(self) -> None:
        """Move the complete lines written since the last call into ``lines`` (all of it once exited)."""
        exited = self.popen.poll() is not None
        with self.log.open("rb") as file:
            file.seek(self._read_at)
            chunk = file.read()
        self._read_at += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        if exited and self._partial:
            complete.append(self._partial)
            self._partial = b""
        self.lines.extend(line.decode(errors="replace").rstrip() for line in complete)

    # --- waiting until ready -------------------------------------------------------------------------

    def wait_for_line(self, text: str, timeout: float = 20.0) -> str:
        """The next line (after the ones an earlier call returned) containing ``text``; fails when the
        child exits or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            exited = self.popen.poll() is not None
            self._read_lines()
            while self._consumed < len(self.lines):
                line = self.lines[self._consumed]
                self._consumed += 1
                if text in line:
                    return line
            if exited:
                raise AssertionError(f"`{self.command}` exited with {self.popen.returncode} before printing "
                                     f"{text!r}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"`{self.command}` printed no line with {text!r} in {timeout} s:\n{self.tail()}")
            time.sleep(0.05)

    def wait_until(self, check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1,
                   what: str = "") -> Any:
        """Poll ``check`` until it returns something truthy and return that; fails when the child exits
        or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise AssertionError(f"`{self.command}` exited with {self.popen.returncode}:\n{self.tail()}")
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"`{self.command}`: {what or check} not true after {timeout} s:\n{self.tail()}")
            time.sleep(interval)

    def wait_for_port(self, port: int, timeout: float = 30.0) -> None:
        """Until the child accepts connections on loopback ``port``."""
        self.wait_until(lambda: port_open(port), timeout, what=f"listening on {port}")

    # --- stopping ------------------------------------------------------------------------------------

    def _children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, ``timeout`` seconds to exit, then SIGKILL; its children (taken before the signal)
        that outlive it are killed too. Returns the exit code."""
        if self.popen.poll() is None:
            family = self._children()
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                family += self._children()
                for child in family:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        child.kill()
                self.popen.kill()
                self.popen.wait(5)
            for child in family:
                with contextlib.suppress(psutil.NoSuchProcess):
                    if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                        child.kill()
        return self.popen.returncode


class Processes:
    """The children of one test (the ``processes`` fixture), each logging to a file under ``logs``."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Subprocess] = []

    def start(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | str | None = None,
              log: Path | None = None, separate_stderr: bool = False, ready: str | None = None,
              ready_timeout: float = 20.0) -> Subprocess:
        """Start ``argv``; with ``ready``, return once it printed a line containing that text."""
        log = log or self.logs / f"{len(self.started) + 1}.log"
        stderr_log = log.with_suffix(".stderr.log") if separate_stderr else None
        process = Subprocess(argv, log=log, env=env, cwd=cwd, stderr_log=stderr_log)
        self.started.append(process)
        if ready is not None:
            process.wait_for_line(ready, ready_timeout)
        return process

    def stop_all(self, timeout: float = 15.0) -> None:
        """Stop every child still running, the last started first (all of them, even if one fails)."""
        failures: list[BaseException] = []
        for process in reversed(self.started):
            try:
                process.stop(timeout)
            except Exception as error:  # noqa: BLE001 - stop the others, then report it
                failures.append(error)
        if failures:
            raise failures[0]
