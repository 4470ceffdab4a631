"""The status action's seed 001 numbers (docs/actions.md, status), over HTTP, TCP and WebSockets,
on Redis, and computed without a SCAN of the keyspace."""
from __future__ import annotations

import json

import pytest
import redis
import requests
import websocket

from tests.support.apps import wait_for
from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(60)


def test_status_reports_seed_001_stats_on_every_transport(boot_hero, redis_url: str) -> None:
    api = boot_hero(redis=True)
    web = api.servers["web"].url
    host, port = api.servers["web"].address
    for n in range(3):
        api.cache.save(f"seed001-{n}", n)
    api.cache.save("short-lived", 1, ttl_ms=1)
    api.tasks.enqueue_in(60_000, "noop", {})
    for _ in range(2):
        requests.get(f"{web}/api/randomNumber")
    tcp = LineClient(api.servers["socket"].address)
    ws = websocket.create_connection(f"ws://{host}:{port}/ws", timeout=5)
    try:
        json.loads(ws.recv())
        tcp.ask("randomNumber")
        ws.send(json.dumps({"event": "action", "params": {"action": "randomNumber"}, "messageId": 1}))
        json.loads(ws.recv())

        database = int(redis.Redis.from_url(redis_url).connection_pool.connection_kwargs.get("db", 0))
        monitor = redis.Redis.from_url(redis_url).monitor()
        commands: list[str] = []
        with monitor:
            over_http = requests.get(f"{web}/api/status").json()["stats"]
            while True:  # what the status request sent to Redis, up to a marker
                redis.Redis.from_url(redis_url).echo("status-done")
                seen = monitor.next_command()
                command = seen["command"]
                if "status-done" in command:
                    break
                if int(seen.get("db", -1)) == database:  # NOTE: MONITOR shows every database of the server
                    commands.append(command)
        assert not any(command.upper().startswith(("SCAN", "KEYS")) for command in commands), commands

        stats = tcp.ask("status")["stats"]
        ws.send(json.dumps({"event": "action", "params": {"action": "status"}, "messageId": 2}))
        over_ws = json.loads(ws.recv())["stats"]
    finally:
        tcp.close()
        ws.close()

    for numbers in (over_http, stats, over_ws):
        assert numbers["id"] == api.id and numbers["uptimeSeconds"] >= 0
        assert numbers["memoryConsumption"] > 1_000_000
        assert numbers["cache"] == {"numberOfObjects": 3}  # the 1 ms value has expired
        assert numbers["queue"] == {"queueLength": 0, "delayedTasks": 1}
        assert numbers["peers"] == [api.id]
        assert numbers["socketServer"]["numberOfLocalActiveSocketClients"] == 1
        assert numbers["webSocketServer"]["numberOfLocalActiveWebSocketClients"] == 1
    assert over_http["webServer"]["numberOfLocalWebRequests"] >= 3
    assert stats["socketServer"]["numberOfLocalSocketRequests"] == 1  # the status line counts once it ends
    assert over_ws["webSocketServer"]["numberOfLocalWebSocketRequests"] == 1
    api.stats.flush()
    final = wait_for(lambda: requests.get(f"{web}/api/status").json()["stats"])
    assert final["webServer"]["numberOfGlobalWebRequests"] >= final["webServer"]["numberOfLocalWebRequests"] - 1
    assert final["socketServer"]["numberOfGlobalSocketRequests"] == 2

