"""Two real hero processes (`python -m hero start`) on one real Redis: chat and cluster RPC cross them.

The app is tests/integration/cluster_app (its `clusterProbe` action drives `api.cluster.do` from a
TCP client); the processes talk to each other only through Redis.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gevent
import pytest
import redis

from tests.support.apps import APP_ROOT, free_port, wait_for
from tests.support.lines import LineClient
from tests.support.processes import Processes, Subprocess, clean_env, hero_command

pytestmark = pytest.mark.timeout(90)

APP = Path(__file__).parent / "cluster_app"


@dataclass
class ClusterHero:
    """`python -m hero --root cluster_app start` with its TCP server on a known port."""

    process: Subprocess
    port: int

    def client(self) -> LineClient:
        return LineClient(("127.0.0.1", self.port))


def start_cluster_hero(processes: Processes, redis_url: str, log: Path) -> ClusterHero:
    port = free_port()
    env = clean_env(HERO_ENV="test", REDIS_URL=redis_url, HERO_SOCKET_PORT=str(port), PORT=str(free_port()),
                    HERO_WEB__ENABLED="false", HERO_TASKS__WORKERS="0", HERO_TASKS__SCHEDULER="false")
    return ClusterHero(processes.start(hero_command("start", root=APP), env=env, cwd=APP_ROOT, log=log), port)


@pytest.fixture
def two_processes(redis_url: str, processes: Processes, tmp_path: Path) -> Iterator[tuple[ClusterHero, ClusterHero]]:
    first = start_cluster_hero(processes, redis_url, tmp_path / "a.log")
    second = start_cluster_hero(processes, redis_url, tmp_path / "b.log")
    try:
        first.process.wait_for_port(first.port, timeout=30)
        second.process.wait_for_port(second.port, timeout=30)
        yield first, second
    finally:
        codes = [second.process.stop(), first.process.stop()]
    assert codes == [0, 0], (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()


def probe(client: LineClient, **params) -> dict:
    return client.ask(json.dumps({"action": "clusterProbe", "params": params}))


def test_chat_and_rpc_cross_two_processes(two_processes, redis_url: str) -> None:
    process_a, process_b = two_processes
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    on_a, on_b = process_a.client(), process_b.client()
    id_a, id_b = on_a.ask("detailsView")["data"]["id"], on_b.ask("detailsView")["data"]["id"]

    # a member on A hears a say from B; roomView counts members on both
    assert on_a.ask("roomAdd defaultRoom")["data"] is True
    assert on_b.ask("roomAdd defaultRoom")["data"] is True
    assert on_a.ask("roomView defaultRoom")["data"]["membersCount"] == 2
    assert set(on_b.ask("roomView defaultRoom")["data"]["members"]) == {id_a, id_b}
    on_b.send("say defaultRoom hello from b\n")
    heard = on_a.read()
    while heard.get("context") != "user":
        heard = on_a.read()
    assert heard["message"] == "hello from b" and heard["from"] == id_b and heard["room"] == "defaultRoom"

    # which process is which, as the cluster sees them
    server_a = probe(on_a, mode="whoami", connectionId=id_a)["holder"]
    server_b = probe(on_a, mode="whoami", connectionId=id_b)["holder"]
    assert server_a != server_b

    # cluster.do reaches both processes
    assert probe(on_a, mode="all", token="everyone")["sent"] is True
    wait_for(lambda: sorted(store.lrange("hero:probe:everyone", 0, -1)) == sorted([server_a, server_b]))

    # a targeted call reaches only the holder of the connection
    probe(on_a, mode="targeted", token="only-b", connectionId=id_b)
    wait_for(lambda: store.lrange("hero:probe:only-b", 0, -1) == [server_b])
    gevent.sleep(0.3)
    assert store.lrange("hero:probe:only-b", 0, -1) == [server_b]

    # a waited call to a connection nobody holds times out
    started = time.monotonic()
    assert probe(on_a, mode="missing")["error"] == "RPC Timeout"
    assert 0.9 < time.monotonic() - started < 5

    # a connection closing on B leaves its rooms, as A sees it
    on_b.close()
    wait_for(lambda: on_a.ask("roomView defaultRoom")["data"]["membersCount"] == 1)
    on_a.close()
