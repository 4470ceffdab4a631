"""Redis blackholed (reliability.md R3): its packets stop, with no RST and no FIN.

A real redis-server runs in a network namespace behind a veth pair; taking the namespace's end
of the link down is the blackhole. redis-py's own default would wait for minutes. hero's request
path must fail within its connect/read/retry budget, with 503, and meanwhile serve what does not
need Redis. Once the link is back up, it must work again.
"""
from __future__ import annotations

import subprocess
import time

import pytest
import redis
import requests

from tests.support.apps import free_port, wait_for
from tests.support.needs import require_tool
from tests.support.netns import ip

pytestmark = pytest.mark.timeout(60)

#: Redis refuses clients off loopback without one (protected mode).
PASSWORD = "hero-blackhole-test"


@pytest.fixture
def blackholed_redis(namespace):
    """A redis-server inside the namespace: its URL, and the namespace."""
    server = require_tool("redis-server", "this test runs its own Redis inside the namespace")
    port = free_port()
    process = subprocess.Popen(
        ["ip", "netns", "exec", namespace.name, server, "--bind", namespace.address, "--port", str(port),
         "--save", "", "--appendonly", "no", "--requirepass", PASSWORD],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://:{PASSWORD}@{namespace.address}:{port}/0"
    try:
        probe = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        wait_for(lambda: _answers(probe))
        probe.close()
        yield url, namespace
    finally:
        process.kill()
        process.wait(timeout=5)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


def test_requests_needing_a_blackholed_redis_fail_fast_and_the_rest_keep_working(boot_hero, blackholed_redis):
    url, namespace = blackholed_redis
    api = boot_hero({"redis": {"url": url}, "socket": {"enabled": False}})
    base = api.servers["web"].url
    save = f"{base}/api/cacheTest?key=greeting&value=hello"
    assert requests.get(save, timeout=5).status_code == 200

    ip("netns", "exec", namespace.name, "ip", "link", "set", namespace.link, "down")
    for _ in range(2):  # a fresh connection (connect timeout) and pooled ones (read timeout)
        started = time.monotonic()
        response = requests.get(save, timeout=15)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert "error" in response.json()
        assert elapsed < 4.0, elapsed  # 1 s read, 0.5 s connect, one retry
    quick = time.monotonic()
    assert requests.get(f"{base}/api/randomNumber", timeout=5).status_code == 200
    assert time.monotonic() - quick < 1.0

    ip("netns", "exec", namespace.name, "ip", "link", "set", namespace.link, "up")
    wait_for(lambda: requests.get(save, timeout=5).status_code == 200, timeout=15, interval=0.5)


def test_the_subscriber_notices_a_silent_redis_and_subscribes_again(boot_hero, blackholed_redis, caplog):
    url, namespace = blackholed_redis
    api = boot_hero({"redis": {"url": url, "subscriber_health_seconds": 2.0},
                     "web": {"enabled": False}, "socket": {"enabled": False}})
    heard: list[str] = []
    api.cluster.register("test.record", heard.append)
    api.cluster.do("test.record", ["before"])
    wait_for(lambda: heard == ["before"])

    ip("netns", "exec", namespace.name, "ip", "link", "set", namespace.link, "down")
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="hero.services.cluster"):
        wait_for(lambda: any("lost the subscription" in record.getMessage() for record in caplog.records),
                 timeout=10, interval=0.2)
    assert time.monotonic() - started < 6.0  # within subscriber_health_seconds and a poll or two

    ip("netns", "exec", namespace.name, "ip", "link", "set", namespace.link, "up")

    def after() -> bool:
        try:
            api.cluster.do("test.record", ["after"])
        except redis.exceptions.RedisError:
            return False
        return "after" in heard

    wait_for(after, timeout=20, interval=1.0)
