"""Redis goes away mid-traffic and comes back (reliability.md R2): actions that need it answer a clear
503 within the retry budget, the rest keep working, and hero recovers without a restart."""
from __future__ import annotations

import time

import pytest
import requests

from tests.support.apps import free_port, start_redis, wait_for
from tests.support.needs import require_tool

pytestmark = pytest.mark.timeout(60)


def test_an_outage_gives_fast_503s_and_hero_recovers_by_itself(boot_hero):
    require_tool("redis-server", "this test stops and restarts its own Redis")
    port = free_port()
    server = start_redis(port)
    try:
        api = boot_hero({"redis": {"url": f"redis://127.0.0.1:{port}/0"}, "tasks": {"workers": 0, "scheduler": False}})
        base = api.servers["web"].url
        cache_test = f"{base}/api/cacheTest?key=abc&value=hello"
        assert requests.get(cache_test, timeout=5).status_code == 200

        server.terminate()
        server.wait(5)
        started = time.monotonic()
        response = requests.get(cache_test, timeout=10)
        assert time.monotonic() - started < 3.0  # the request-path retry budget, not redis-py's 4.7 s default
        assert response.status_code == 503
        assert response.json()["error"].startswith("the backing store (redis) is unavailable")
        assert "Traceback" not in response.text
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 503
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{base}/api/randomNumber", timeout=5).status_code == 200  # needs no store

        server = start_redis(port)
        wait_for(lambda: requests.get(cache_test, timeout=5).status_code == 200, timeout=10, interval=0.2)
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(5)
