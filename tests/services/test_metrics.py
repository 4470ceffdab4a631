"""Prometheus metrics: /metrics answers Prometheus' text format (checked by promtool), requests on
every transport move the counters, and the action path stays cheap."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import time

import pytest
import requests
import websocket

from tests.support.apps import wait_for
from tests.support.needs import require_tool


def scrape(api) -> str:
    response = requests.get(f"{api.servers['web'].url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` in a scrape (labels in any order), 0 when absent."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if found == labels:
            return float(match.group(3))
    return 0.0


def test_metrics_output_passes_promtool(boot_hero):
    promtool = require_tool("promtool", "apt-get install prometheus (.ci/run installs it)")
    api = boot_hero()
    requests.get(f"{api.servers['web'].url}/api/randomNumber", timeout=5)
    requests.get(f"{api.servers['web'].url}/api/noSuchAction", timeout=5)
    checked = subprocess.run([promtool, "check", "metrics"], input=scrape(api), capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_requests_on_every_transport_move_the_counters(boot_hero):
    api = boot_hero()
    web = api.servers["web"].url
    before = scrape(api)
    assert requests.get(f"{web}/api/randomNumber", timeout=5).status_code == 200
    assert requests.get(f"{web}/api/no-such-{time.time()}", timeout=5).status_code == 404
    ws = websocket.create_connection(web.replace("http", "ws") + "/ws", timeout=5)
    ws.recv()
    ws.send(json.dumps({"event": "action", "params": {"action": "randomNumber"}, "messageId": 1}))
    assert "randomNumber" in json.loads(ws.recv())
    ws.send(json.dumps({"event": "roomAdd", "room": "defaultRoom", "messageId": 2}))
    ws.recv()
    ws.send(json.dumps({"event": "say", "room": "defaultRoom", "message": "hi", "messageId": 3}))
    ws.recv(), ws.recv()
    host, port = api.servers["socket"].url.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as tcp:
        lines = tcp.makefile("rb")
        lines.readline()
        tcp.sendall(b"randomNumber\r\n")
        assert b"randomNumber" in lines.readline()
        during = scrape(api)
        lines.close()
    ws.close()
    wait_for(lambda: len(api.connections) == 0)
    after = scrape(api)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("hero_actions_total", action="randomNumber", transport="web", status="200") == 1
    assert moved("hero_actions_total", action="(unknown)", transport="web", status="404") == 1
    assert moved("hero_actions_total", action="randomNumber", transport="websocket", status="200") == 1
    assert moved("hero_actions_total", action="randomNumber", transport="socket", status="200") == 1
    assert moved("hero_action_duration_seconds_count", action="randomNumber", transport="web") == 1
    assert moved("hero_action_duration_seconds_bucket", action="randomNumber", transport="web", le="+Inf") == 1
    assert value(after, "hero_action_duration_seconds_sum", action="randomNumber", transport="web") > 0
    assert moved("hero_chat_messages_total", event="said") == 1
    assert moved("hero_chat_messages_total", event="delivered") == 1
    assert value(during, "hero_connections", transport="socket") == 1
    assert value(during, "hero_connections", transport="websocket") == 1
    assert value(after, "hero_connections", transport="socket") == 0
    assert value(after, "hero_pending_actions") == 0


def test_tasks_count_enqueued_run_and_failed_with_queue_depth(boot_hero, monkeypatch):
    api = boot_hero({"tasks": {"workers": 0, "scheduler": False}})
    api.tasks.warn_without_workers = False
    assert api.tasks.enqueue("noop", {})
    text = scrape(api)
    assert value(text, "hero_tasks_total", task="noop", event="enqueued") == 1
    assert value(text, "hero_task_queue_depth", queue=api.tasks.registry.find("noop").queue) == 1
    api.tasks.run_inline("noop", {})
    assert value(scrape(api), "hero_tasks_total", task="noop", event="run") == 1

    def fail(params, worker):
        raise RuntimeError("boom")

    monkeypatch.setattr(api.tasks.registry.find("noop"), "run", fail)
    with pytest.raises(RuntimeError):
        api.tasks.run_inline("noop", {})
    assert value(scrape(api), "hero_tasks_total", task="noop", event="failed") == 1


def test_metrics_off_leaves_no_route_and_no_listener(boot_hero):
    api = boot_hero({"metrics": {"enabled": False}})
    assert api.metrics is None
    assert len(api.processor.listeners) == 1  # the stats counter only
    assert requests.get(f"{api.servers['web'].url}/metrics", timeout=5).status_code == 404


def test_an_unknown_action_name_never_becomes_a_label(boot_hero):
    api = boot_hero()
    for index in range(20):
        requests.get(f"{api.servers['web'].url}/api/random-{index}", timeout=5)
    assert "random-" not in scrape(api)


BLOCKING_APP = {
    "actions/block.py": '''
        from gevent import monkey

        from hero import Action


        class Block(Action):
            name = "block"

            def run(self, data):
                monkey.get_original("time", "sleep")(0.5)  # a CPU-bound or unpatched call holding the hub
                return {}
    ''',
    "config.py": 'general = {"max_blocking_time": 0.1}\n',
}


@pytest.mark.timeout(60)
def test_a_blocked_event_loop_is_counted(tmp_path, processes):
    # NOTE: in a process of its own: the hub watch is one per hub, and this test session's hub has
    # served many processes before this one.
    from tests.support.apps import free_port, write_app
    from tests.support.processes import clean_env, hero_command

    root = write_app(tmp_path, BLOCKING_APP)
    port = free_port()
    server = processes.start(hero_command("start", root=root), cwd=root,
                             env=clean_env(PORT=str(port), HERO_SOCKET__ENABLED="false", HERO_ENV="test"),
                             ready="hero ready")
    base = f"http://127.0.0.1:{port}"

    def blocks() -> float:
        text = requests.get(f"{base}/metrics", timeout=5).text
        found = re.search(r"^hero_event_loop_blocks_total (\S+)$", text, re.M)
        return float(found[1]) if found else 0.0

    assert blocks() == 0
    assert requests.get(f"{base}/api/block", timeout=10).status_code == 200
    wait_for(lambda: blocks() == 1, timeout=10, interval=0.2)
    server.stop()


def test_redis_errors_are_counted(boot_hero):
    api = boot_hero()
    api.redis.error_hooks[0](ConnectionError("refused"))
    assert value(scrape(api), "hero_redis_errors_total") == 1


def test_a_dead_redis_counts_its_errors(boot_hero):
    from hero.services.store import STORE_ERRORS, RedisSettings, RedisStore
    from tests.support.apps import free_port

    store = RedisStore(RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", retries=1, connect_timeout=0.2))
    seen: list[BaseException] = []
    store.error_hooks.append(seen.append)
    with pytest.raises(STORE_ERRORS):
        store.client.get("x")
    assert len(seen) == 2  # the call and its one retry
    store.close()


def test_the_action_path_costs_under_two_microseconds(boot_hero):
    """The listener on the action path: one dict update (measured, the closing note quotes it)."""
    from hero.core.action import ActionData
    from hero.core.connection import Connection

    api = boot_hero()
    data = ActionData(connection=Connection(type="web", remote_ip="1", remote_port=1), params={})
    data.action = api.actions.find("randomNumber", None)
    data.duration_ms = 1.2
    rounds = 100_000
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            api.metrics.on_action(data)
        best = min(best, (time.perf_counter() - started) / rounds)
    api.metrics.flush()
    print(f"metrics cost per action: {best * 1e6:.2f} µs")
    assert best < 2e-6


def test_metrics_on_a_real_redis(boot_hero):
    """redis-py copies its Retry per connection: the one that reports errors must copy with its hooks."""
    api = boot_hero(redis=True)
    assert requests.get(f"{api.servers['web'].url}/api/cacheTest?key=abc&value=hello", timeout=5).status_code == 200
    text = scrape(api)
    assert value(text, "hero_actions_total", action="cacheTest", transport="web", status="200") == 1
    assert value(text, "hero_redis_errors_total") == 0


def test_prometheus_objects_are_built_on_first_use_and_then_count_everything():
    from hero.services.metrics import Metrics

    metrics = Metrics(buckets=(0.1, 1.0), flush_interval=60.0)
    assert "registry" not in vars(metrics)  # an idle server has not built them (issue 17)
    metrics.on_chat("said", 2)
    assert "registry" in vars(metrics)
    content_type, body = metrics.render()
    assert content_type.startswith("text/plain")
    assert re.search(rb'^hero_chat_messages_total\{event="said"\} 2\.0$', body, re.M)
