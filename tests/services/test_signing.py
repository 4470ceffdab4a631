"""Cluster messages are signed with the cluster's secret: anyone who can publish on Redis cannot
forge, alter, replay or delay one, and production refuses to run a shared Redis without a secret."""
from __future__ import annotations

import logging
import time

import gevent
import pytest

from hero.errors import BootError
from hero.process import Process
from hero.runtime.json import dumps, loads
from hero.services.signing import DEVELOPMENT_SECRET, MessageSigner, Refused
from tests.support.apps import wait_for
from tests.conftest import APP_ROOT

NO_SERVERS = {"web": {"enabled": False}, "socket": {"enabled": False}, "tasks": {"workers": 0, "scheduler": False}}


def test_a_sealed_message_opens_once() -> None:
    signer = MessageSigner("s3cret")
    wire = signer.seal({"messageType": "do", "method": "x"})
    assert signer.open(wire)["method"] == "x"
    with pytest.raises(Refused, match="replayed"):
        signer.open(wire)


@pytest.mark.parametrize("tamper", ["other secret", "altered", "unsigned", "stale", "future", "not an object"])
def test_what_is_refused(tamper: str) -> None:
    signer = MessageSigner("s3cret", window=30)
    wire = signer.seal({"messageType": "do", "method": "x", "args": ["mine"]})
    mac, _, body = wire.partition(b".")
    if tamper == "other secret":
        wire = MessageSigner("guess").seal({"messageType": "do", "method": "x"})
    elif tamper == "altered":
        wire = mac + b"." + body.replace(b"mine", b"evil")
    elif tamper == "unsigned":
        wire = body
    elif tamper in ("stale", "future"):
        message = loads(body)
        message["sentAt"] = time.time() + (-31 if tamper == "stale" else 31)
        forged = dumps(message)
        wire = signer._mac(forged).encode() + b"." + forged  # signed right, but outside the window
    else:
        wire = signer._mac(b"[1]").encode() + b".[1]"
    with pytest.raises(Refused):
        signer.open(wire)


def test_the_nonce_memory_is_bounded() -> None:
    signer = MessageSigner("s3cret", max_remembered=100)
    for _ in range(1000):
        signer.open(signer.seal({"messageType": "peer"}))
    assert len(signer._seen) <= 100


def test_a_replayed_rpc_runs_once(boot_hero) -> None:
    api = boot_hero(NO_SERVERS, redis=True)
    calls: list[str] = []
    api.cluster.register("test.record", calls.append)
    heard: list[bytes] = []
    pubsub = api.redis.client.pubsub()
    pubsub.subscribe(api.cluster.channel)
    api.cluster.do("test.record", ["once"])
    wait_for(lambda: calls == ["once"])

    def capture() -> bool:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            heard.append(message["data"])
        return bool(heard)

    wait_for(capture)
    api.redis.client.publish(api.cluster.channel, heard[0])  # an eavesdropper sends it again
    gevent.sleep(0.2)
    assert calls == ["once"] and api.cluster.dropped == 1
    pubsub.close()


def test_production_on_a_shared_redis_needs_a_secret(redis_url: str) -> None:
    process = Process(APP_ROOT, env="production", overrides={**NO_SERVERS, "redis": {"url": redis_url}}, environ={})
    with pytest.raises(BootError, match="general.cluster_secret"):
        process.initialize()
    process = Process(APP_ROOT, env="production", overrides={**NO_SERVERS, "redis": {"url": redis_url}},
                      environ={"HERO_CLUSTER_SECRET": "from the environment"})
    api = process.initialize()
    assert api.cluster.signer.open(MessageSigner("from the environment").seal({"m": 1}))["m"] == 1


def test_development_warns_and_shares_the_development_secret(redis_url: str, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="hero.process"):
        api = Process(APP_ROOT, env="development", overrides={**NO_SERVERS, "redis": {"url": redis_url}},
                      environ={}).initialize()
    assert any("development secret" in record.getMessage() for record in caplog.records)
    assert api.cluster.signer.open(MessageSigner(DEVELOPMENT_SECRET).seal({"m": 1}))["m"] == 1


def test_one_process_on_the_embedded_store_needs_no_secret() -> None:
    api = Process(APP_ROOT, env="production", overrides={**NO_SERVERS, "redis": {"url": None}}, environ={}).initialize()
    assert api.redis.embedded
    with pytest.raises(Refused):
        api.cluster.signer.open(MessageSigner(DEVELOPMENT_SECRET).seal({"m": 1}))
