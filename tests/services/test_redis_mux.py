"""The hot paths' multiplexed Redis connection (hero.services.redis_mux): on the real Redis, and on a
scripted fake server for what a real one will not do on demand (stay silent, hang up mid-reply)."""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import hiredis
import pytest
import redis
from gevent.server import StreamServer

from hero.services.redis_mux import ClientCommands, Probe, RedisMux, gather, run_script, script_sha
from hero.services.store import RedisSettings, RedisStore

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def mux(redis_url: str) -> Iterator[RedisMux]:
    built = RedisMux(redis_url, socket_timeout=2.0)
    yield built
    built.close()


def test_concurrent_callers_each_get_their_own_replies(mux: RedisMux, redis_url: str) -> None:
    def caller(n: int) -> list[Any]:
        got = []
        for round_ in range(20):
            mux.call("SET", f"k{n}", f"{n}:{round_}")
            got.append(mux.execute([("GET", f"k{n}"), ("INCR", f"count{n}"), ("ECHO", str(n))]))
        return got

    greenlets = [gevent.spawn(caller, n) for n in range(50)]
    gevent.joinall(greenlets, raise_error=True)
    for n, greenlet in enumerate(greenlets):
        assert greenlet.value == [[f"{n}:{round_}", round_ + 1, str(n)] for round_ in range(20)]
    # the URL's database was selected
    assert redis.Redis.from_url(redis_url).get("k0") == b"0:19"


def test_error_replies_raise_what_redis_py_raises_and_others_are_untouched(mux: RedisMux) -> None:
    mux.call("SET", "text", "x")
    outcomes: dict[str, Any] = {}

    def wrong() -> None:
        try:
            mux.execute([("GET", "text"), ("LPUSH", "text", "y")])
        except redis.exceptions.ResponseError as error:
            outcomes["wrong"] = error

    def right() -> None:
        outcomes["right"] = mux.execute([("GET", "text"), ("EXISTS", "text")])

    gevent.joinall([gevent.spawn(wrong), gevent.spawn(right)], raise_error=True)
    assert "WRONGTYPE" in str(outcomes["wrong"])
    assert outcomes["right"] == ["x", 1]
    with pytest.raises(redis.exceptions.NoScriptError):
        mux.call("EVALSHA", "0" * 40, 0)


def test_run_script_loads_a_script_redis_does_not_know(mux: RedisMux) -> None:
    text = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
    mux.call("SCRIPT", "FLUSH")
    assert run_script(mux, script_sha(text), text, ["n"], [5]) == 5
    assert run_script(mux, script_sha(text), text, ["n"], [5]) == 10  # by EVALSHA now
    assert mux.call("SCRIPT", "EXISTS", script_sha(text)) == [1]


def test_gather_reads_several_probes_in_one_round_trip(mux: RedisMux) -> None:
    mux.execute([("HSET", "h", "a", "1", "b", "2"), ("RPUSH", "l", "x", "y")])
    sent: list[int] = []
    execute = mux.execute

    def counting(commands: Any) -> list[Any]:
        sent.append(len(commands))
        return execute(commands)

    mux.execute = counting  # type: ignore[method-assign]
    pairs = Probe([("HGETALL", "h")], lambda replies: dict(zip(replies[0][::2], replies[0][1::2])))
    length = Probe([("LLEN", "l"), ("LLEN", "nothing")], lambda replies: replies[0] + replies[1])
    assert gather(mux, [pairs, length]) == [{"a": "1", "b": "2"}, 2]
    assert sent == [3]


def test_a_killed_caller_leaves_the_connection_in_step(mux: RedisMux) -> None:
    mux.call("SET", "k", "v")
    waiting = gevent.spawn(mux.call, "EVAL", "local n = 0 for i = 1, 3000000 do n = n + 1 end return n", 0)
    gevent.sleep(0)  # its command is sent; its reply takes a while
    waiting.kill()
    assert mux.execute([("GET", "k"), ("ECHO", "after")]) == ["v", "after"]


# --- a scripted server --------------------------------------------------------------------------


@pytest.fixture
def fake_redis() -> Iterator[Callable[[Callable[[socket.socket, list[Any]], bool]], str]]:
    """``start(answer) -> url``: a server that parses commands and calls ``answer(sock, command)``,
    which replies (or not) and returns False to hang up."""
    servers: list[StreamServer] = []

    def start(answer: Callable[[socket.socket, list[Any]], bool]) -> str:
        def handle(sock: socket.socket, _address: Any) -> None:
            reader = hiredis.Reader(encoding="utf-8")
            while data := sock.recv(65536):
                reader.feed(data)
                while (command := reader.gets()) is not False:
                    if not answer(sock, command):
                        sock.close()
                        return

        server = StreamServer(("127.0.0.1", 0), handle)
        server.start()
        servers.append(server)
        return f"redis://127.0.0.1:{server.server_port}/0"

    yield start
    for server in servers:
        server.stop(timeout=1)


def test_a_silent_server_times_out_every_waiting_caller_and_the_next_call_reconnects(fake_redis: Any) -> None:
    connections: list[int] = []

    def answer(sock: socket.socket, command: list[Any]) -> bool:
        if not connections or connections[-1] != id(sock):
            connections.append(id(sock))
        if command == ["PING"] and len(connections) > 1:
            sock.sendall(b"+PONG\r\n")
        return True  # the first connection never answers

    errors: list[BaseException] = []
    mux = RedisMux(fake_redis(answer), socket_timeout=0.3, retries=0, error_hooks=[errors.append])
    callers = [gevent.spawn(mux.call, "PING") for _ in range(5)]
    gevent.joinall(callers)
    assert all(isinstance(caller.exception, redis.exceptions.TimeoutError) for caller in callers)
    assert errors and isinstance(errors[0], redis.exceptions.TimeoutError)
    assert mux.call("PING") == "PONG"
    assert len(connections) == 2
    mux.close()


def test_a_dropped_connection_fails_its_callers_then_a_retry_reconnects(fake_redis: Any) -> None:
    seen: list[list[Any]] = []

    def answer(sock: socket.socket, command: list[Any]) -> bool:
        seen.append(command)
        if len(seen) == 1:
            sock.sendall(b"$5\r\nhal")  # half a reply, then gone
            return False
        sock.sendall(b"+OK\r\n")
        return True

    mux = RedisMux(fake_redis(answer), socket_timeout=2.0, retries=1)
    assert mux.call("SET", "a", "b") == "OK"  # retried on a new connection
    assert seen == [["SET", "a", "b"], ["SET", "a", "b"]]
    mux.close()
    without_retry = RedisMux(fake_redis(lambda sock, command: False), socket_timeout=2.0, retries=0)
    with pytest.raises(redis.exceptions.ConnectionError):
        without_retry.call("PING")


def test_nothing_listening_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mux = RedisMux(f"redis://127.0.0.1:{port}/0", connect_timeout=0.5, retries=0)
    with pytest.raises(redis.exceptions.ConnectionError):
        mux.call("PING")


def test_the_store_multiplexes_a_plain_redis_url_and_not_the_embedded_store(redis_url: str) -> None:
    real = RedisStore(RedisSettings(url=redis_url))
    assert isinstance(real.commands, RedisMux)
    assert real.ping() is True
    off = RedisStore(RedisSettings(url=redis_url, multiplex=False))
    embedded = RedisStore(RedisSettings(url=None))
    for store in (real, off, embedded):
        if store is not real:
            assert isinstance(store.commands, ClientCommands)
        # the same raw replies either way
        assert store.commands.execute([("HSET", "h", "f", "1"), ("HGETALL", "h"), ("GET", "none")]) == [1, ["f", "1"], None]
        store.commands.call("DEL", "h")
        store.close()


def test_status_and_cache_test_take_one_round_trip_per_redis_step(boot_hero: Any) -> None:
    api = boot_hero({"tasks": {"workers": 0}}, redis=True)  # NOTE: so the job stays queued
    assert isinstance(api.redis.commands, RedisMux)
    rounds: list[list[Any]] = []
    execute = api.redis.commands.execute

    def counting(commands: Any) -> list[Any]:
        rounds.append([command[0] for command in commands])
        return execute(commands)

    api.redis.commands.execute = counting
    api.tasks.enqueue("noop", {})
    assert rounds[-1][0].startswith("EVAL")  # enqueueing is one script call too (EVAL: Redis learns it)
    rounds.clear()
    status = api.processor.run_inline("status")
    assert status["nodeStatus"] == "Node Healthy" and status["stats"]["taskQueueLength"] >= 1
    assert len(rounds) == 1 and rounds[0][:4] == ["PING", "HGETALL", "ZREMRANGEBYSCORE", "ZCARD"]
    api.processor.run_inline("cacheTest", {"key": "abc", "value": "hello"})  # Redis learns the scripts
    rounds.clear()
    result = api.processor.run_inline("cacheTest", {"key": "abc", "value": "hello"})["cacheTestResults"]
    assert result["saveResp"] is True and result["sizeResp"] == 1 and result["deleteResp"] is True
    assert result["loadResp"]["value"] == "hello"
    assert [names[0] for names in rounds] == ["EVALSHA", "ZREMRANGEBYSCORE", "EVALSHA", "EVALSHA"]


def test_status_says_unhealthy_when_the_store_does_not_answer(boot_hero: Any) -> None:
    api = boot_hero(redis=True)

    def refuse(commands: Any) -> list[Any]:
        raise redis.exceptions.ConnectionError("refused")

    api.redis.commands.execute = refuse
    status = api.processor.run_inline("status")
    assert status["nodeStatus"] == "Node Unhealthy"
    assert any("not answering" in problem for problem in status["problems"])
    assert status["stats"]["cacheSize"] is None


def test_a_forked_child_connects_anew_and_leaves_the_parents_connection_alone(mux: RedisMux) -> None:
    import os

    mux.call("SET", "k", "parent")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            answer = mux.execute([("ECHO", "child"), ("GET", "k")])
            os.write(write_end, b"1" if answer == ["child", "parent"] else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_end, 1) == b"1"
    assert mux.execute([("GET", "k"), ("ECHO", "still")]) == ["parent", "still"]


def test_a_process_gevent_has_not_patched_uses_the_client_pipeline(redis_url: str) -> None:
    # NOTE: `hero worker` and CLI commands block for real: a reader greenlet would never run there.
    import subprocess
    import sys

    code = ("from hero.services.store import RedisStore, RedisSettings\n"
            f"store = RedisStore(RedisSettings(url={redis_url!r}))\n"
            "print(type(store.commands).__name__, store.commands.execute([('ECHO', 'x')]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "ClientCommands ['x']", done.stderr


def test_the_deployment_pages_visits_example_runs_on_the_shared_connection(tmp_path: Any, redis_url: str) -> None:
    import re
    from pathlib import Path

    from hero.process import Process
    from tests.support.apps import APP_ROOT, write_app

    page = Path(APP_ROOT, "docs", "deployment.md").read_text()
    code = re.search(r"```python\n(# actions/visits\.py\n.*?)```", page, re.S)
    assert code is not None, "docs/deployment.md lost its visits example"
    root = write_app(tmp_path / "app", {"actions/visits.py": code.group(1)})
    process = Process(root, env="test", overrides={"web": {"enabled": False}, "socket": {"enabled": False},
                                                   "redis": {"url": redis_url}, "tasks": {"workers": 0}})
    api = process.start()
    try:
        assert isinstance(api.redis.commands, RedisMux)
        assert [api.processor.run_inline("visits")["visits"] for _ in range(3)] == [1, 2, 3]
        assert 0 < redis.Redis.from_url(redis_url).ttl(api.redis.key("visits")) <= 86400
    finally:
        process.stop()


def test_commands_larger_than_the_socket_buffer_arrive_whole_and_in_order(mux: RedisMux) -> None:
    # NOTE: a send the socket takes only in part leaves the rest to a greenlet; what callers ask
    # meanwhile must queue behind it, never overtake it.
    big = {n: str(n) * 2_000_000 for n in range(6)}

    def writer(n: int) -> Any:
        mux.call("SET", f"big{n}", big[n])
        return mux.execute([("STRLEN", f"big{n}"), ("GETRANGE", f"big{n}", 0, 9)])

    callers = [gevent.spawn(writer, n) for n in range(6)] + [gevent.spawn(mux.call, "ECHO", "small")]
    gevent.joinall(callers, raise_error=True)
    for n in range(6):
        assert callers[n].value == [2_000_000, big[n][:10]]
    assert callers[-1].value == "small"
