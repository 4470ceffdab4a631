"""Request limits (docs/limits.md, Request rate): one budget per client shared by every process on
one Redis, 429 + Retry-After on HTTP, the same error reply on WebSocket and TCP, fail-open."""
from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests
import websocket

from hero import Action
from hero.core.action import ActionData
from hero.core.connection import Connection
from hero.errors import BootError, RequestLimitExceeded
from hero.services.limits import Budget, RateLimiter
from hero.services.store import RedisSettings, RedisStore
from tests.support.apps import free_port
from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(60)

LIMIT = {"general": {"rate_limit": {"requests": 3, "per_seconds": 30}}}


def web_url(api: Any) -> str:
    host, port = api.servers["web"].address[:2]
    return f"http://{host}:{port}"


class Unlimited(Action):
    name = "unlimitedProbe"
    rate_limit = False

    def run(self, data):
        return {"ok": True}


class Limited(Action):
    name = "limitedProbe"

    def run(self, data):
        return {"ok": True}


class OwnBudget(Action):
    name = "ownBudgetProbe"
    rate_limit = {"requests": 1, "per_seconds": 30, "by": "fingerprint"}

    def run(self, data):
        return {"ok": True}


def test_http_counts_down_then_answers_429_with_retry_after(boot_hero):
    api = boot_hero(LIMIT, redis=True)
    url = web_url(api) + "/api/randomNumber"
    answers = [requests.get(url, timeout=5) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.json()["requesterInformation"]["RequestsRemaining"] for a in answers] == [2, 1, 0, 0]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["RateLimit-Limit"] == "3" for a in answers)
    last = answers[-1]
    assert last.json()["error"] == "you have exceeded your request limit"
    assert 1 <= int(last.headers["Retry-After"]) <= 30 and last.headers["Retry-After"] == last.headers["RateLimit-Reset"]
    assert "Retry-After" not in answers[0].headers


def test_two_processes_share_one_budget(boot_hero):
    first = boot_hero({**LIMIT, "general": {**LIMIT["general"], "id": "limit-a"}}, redis=True)
    second = boot_hero({**LIMIT, "general": {**LIMIT["general"], "id": "limit-b"}}, redis=True)
    statuses = []
    for api in (first, second, first, second):
        statuses.append(requests.get(web_url(api) + "/api/randomNumber", timeout=5).status_code)
    assert statuses == [200, 200, 200, 429]


def test_actions_opt_out_or_keep_their_own_budget(boot_hero):
    api = boot_hero(LIMIT, redis=True)
    api.actions.add(Unlimited)
    api.actions.add(OwnBudget)
    api.limits.configure(api.actions)
    url = web_url(api)
    assert all(requests.get(url + "/api/unlimitedProbe", timeout=5).status_code == 200 for _ in range(5))
    session = requests.Session()
    own = [session.get(url + "/api/ownBudgetProbe", timeout=5) for _ in range(2)]
    assert [a.status_code for a in own] == [200, 429]
    assert own[0].headers["RateLimit-Limit"] == "1"
    # the global budget was not touched by either
    assert requests.get(url + "/api/randomNumber", timeout=5).json()["requesterInformation"]["RequestsRemaining"] == 2


def test_websocket_and_tcp_get_the_error_reply_and_stay_connected(boot_hero):
    api = boot_hero({"general": {"rate_limit": {"requests": 2, "per_seconds": 30}}}, redis=True)
    host, port = api.servers["web"].address[:2]
    ws = websocket.create_connection(f"ws://{host}:{port}/ws", timeout=5)
    json.loads(ws.recv())
    replies = []
    for number in range(3):
        ws.send(json.dumps({"event": "action", "params": {"action": "randomNumber"}, "messageId": number}))
        replies.append(json.loads(ws.recv()))
    assert "randomNumber" in replies[1] and replies[2]["error"] == "you have exceeded your request limit"
    ws.send(json.dumps({"event": "detailsView", "messageId": "still"}))
    assert json.loads(ws.recv())["messageId"] == "still"
    ws.close()
    # TCP: same IP (127.0.0.1), so the WebSocket spent the budget already
    client = LineClient(api.servers["socket"].address[:2])
    client.send("randomNumber\r\n")
    assert client.read()["error"] == "you have exceeded your request limit"
    client.send("detailsView\r\n")
    assert client.read()["status"] == "OK"


def test_redis_down_fails_open_and_logs_once(caplog):
    store = RedisStore(RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.2, retries=0))
    limiter = RateLimiter(store, {"requests": 1, "per_seconds": 10})
    action = Limited()
    connection = Connection(type="web", remote_ip="10.0.0.1")
    limiter.configure([action])
    with caplog.at_level(logging.WARNING, logger="hero.services.limits"):
        for _ in range(3):
            data = ActionData(connection=connection, params={}, action=action)
            limiter.check(data)  # no raise: fails open
            assert data.budget is None
    warnings = [r for r in caplog.records if "not limited" in r.getMessage()]
    assert len(warnings) == 1


def test_the_embedded_store_counts_too():
    limiter = RateLimiter(RedisStore(RedisSettings(url=None)), {"requests": 1, "per_seconds": 10, "by": lambda c: "x"})
    action = OwnBudget()
    limiter.configure([])
    data = ActionData(connection=Connection(type="websocket"), params={}, action=action)
    limiter.check(data)
    assert data.budget is not None and data.budget.remaining == 0
    with pytest.raises(RequestLimitExceeded):
        limiter.check(ActionData(connection=Connection(type="socket"), params={}, action=action))
    inline = ActionData(connection=Connection(type="in-line-action"), params={}, action=action)
    limiter.check(inline)
    assert inline.budget is None


@pytest.mark.parametrize(("value", "words"), [
    ({"requests": 0, "per_seconds": 1}, "requests must be a whole number"),
    ({"requests": 1, "per_seconds": 0}, "per_seconds must be a number"),
    ({"requests": 1, "per_seconds": 1, "by": "shoe size"}, "by must be"),
    ({"requests": 1, "per_seconds": 1, "burst": 3}, "unknown key 'burst'"),
    ([1, 2], "must be a dict"),
])
def test_a_bad_budget_stops_the_boot_naming_the_key(value, words):
    with pytest.raises(BootError, match=words) as raised:
        Budget.parse(value, where="config general.rate_limit", scope="*")
    assert "general.rate_limit" in str(raised.value)


def test_without_a_budget_no_middleware_runs(boot_hero):
    api = boot_hero()
    assert "hero.rate_limit" not in api.actions.middleware
    chain = api.actions.middleware_for(api.actions.find("randomNumber"))
    assert "hero.rate_limit" not in [middleware.name for middleware in chain]


def test_a_redis_that_forgot_the_script_gets_it_again(redis_url):
    store = RedisStore(RedisSettings(url=redis_url))
    limiter = RateLimiter(store, {"requests": 5, "per_seconds": 30})
    assert limiter.count("hero:ratelimit:test", 30_000)[0] == 1
    store.client.script_flush()
    count, left = limiter.count("hero:ratelimit:test", 30_000)
    assert count == 2 and 0 < left <= 30_000
    store.close()


def test_concurrent_requests_share_round_trips_and_count_exactly(redis_url):
    import gevent

    store = RedisStore(RedisSettings(url=redis_url))
    limiter = RateLimiter(store, {"requests": 5, "per_seconds": 30})
    sizes = []
    send = limiter._evalsha
    limiter._evalsha = lambda client, items: sizes.append(len(items)) or send(client, items)
    greenlets = [gevent.spawn(limiter.count, "hero:ratelimit:together", 30_000) for _ in range(40)]
    gevent.joinall(greenlets, timeout=10)
    assert sorted(greenlet.value[0] for greenlet in greenlets) == list(range(1, 41))
    assert sum(sizes) == 40 and len(sizes) < 40 and max(sizes) > 1   # batched, none lost or counted twice
    assert not limiter._busy and not limiter._waiting
    store.close()


def test_concurrent_requests_fail_open_together():
    import gevent

    store = RedisStore(RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.2, retries=0))
    limiter = RateLimiter(store, {"requests": 1, "per_seconds": 10})
    greenlets = [gevent.spawn(limiter.count, "hero:ratelimit:down", 10_000) for _ in range(10)]
    gevent.joinall(greenlets, timeout=10)
    assert [greenlet.value for greenlet in greenlets] == [None] * 10 and limiter.failing_open
    assert not limiter._busy
