"""Helpers for tests: the example app, throwaway apps written into a folder, free ports, polling."""
from __future__ import annotations

import os
import socket
import subprocess
import textwrap
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gevent
import redis

#: The example app at the repository root: what the tests boot.
APP_ROOT = str(Path(os.path.abspath(__file__)).parents[2])


def write_app(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: source}`` under ``root`` (sources are dedented); return ``root``."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
    return root


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` (cooperatively) until it returns something truthy; return that, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        gevent.sleep(interval)


def start_redis(port: int) -> subprocess.Popen:
    """A redis-server of the test's own on ``port`` (to stop and restart at will), once it answers."""
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 5
    while True:
        try:
            client.ping()
            return process
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            gevent.sleep(0.05)
