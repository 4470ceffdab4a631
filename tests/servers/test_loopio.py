"""The end-of-turn hook and the wait-first read shared by the TCP and WebSocket servers."""
from __future__ import annotations

import os
import socket
import ssl

import gevent
import gevent.socket
import pytest

from hero.servers import loopio
from hero.servers.loopio import TurnEnd, may_wait_first, wait_readable


class Recorder:
    def __init__(self, log: list[str], name: str, fail: bool = False) -> None:
        self.log, self.name, self.fail = log, name, fail

    def end_turn(self) -> None:
        self.log.append(self.name)
        if self.fail:
            raise RuntimeError("boom")


def test_clients_are_called_once_the_running_greenlets_have_yielded():
    turn_end, log = TurnEnd(), []

    def work(name: str) -> None:
        turn_end.add(Recorder(log, name))
        log.append(f"{name} still running")

    gevent.joinall([gevent.spawn(work, "a"), gevent.spawn(work, "b")])
    gevent.sleep(0)
    assert log == ["a still running", "b still running", "a", "b"]


def test_one_failing_client_does_not_stop_the_others(caplog):
    turn_end, log = TurnEnd(), []
    turn_end.add(Recorder(log, "first", fail=True))
    turn_end.add(Recorder(log, "second"))
    gevent.sleep(0)
    assert log == ["first", "second"]
    assert "the end of turn of" in caplog.text


def test_each_turn_schedules_anew():
    turn_end, log = TurnEnd(), []
    for turn in range(3):
        turn_end.add(Recorder(log, str(turn)))
        gevent.sleep(0)
    assert log == ["0", "1", "2"]


def test_a_forked_child_starts_with_no_turn_due():
    turn_end, log = TurnEnd(), []
    turn_end.add(Recorder(log, "parent"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh turn must still be called
        try:
            turn_end.add(Recorder(log, "child"))
            gevent.sleep(0)
            os.write(write, ",".join(log).encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 100) == b"child" and status == 0
    os.close(read)
    gevent.sleep(0)
    assert log == ["parent"]


def test_a_parent_callback_run_in_a_child_before_its_hooks_calls_no_parent_client():
    # NOTE: what a child sees when an earlier at-fork hook switches to the hub before TurnEnd's own:
    # the fork generation has already moved on (bumped before the fork), the callback has not.
    turn_end, log = TurnEnd(), []
    turn_end.add(Recorder(log, "parent"))
    loopio._FORKS[0] += 1
    try:
        turn_end._run()
        assert log == [] and not turn_end._waiting and not turn_end._scheduled
        turn_end.add(Recorder(log, "child"))
        gevent.sleep(0)
        gevent.sleep(0)
        assert log == ["child"]
    finally:
        loopio._FORKS[0] -= 1


def test_wait_readable_returns_on_input_and_keeps_the_socket_timeout():
    left, right = gevent.socket.socketpair()
    with left, right:
        left.settimeout(0.1)
        with pytest.raises(socket.timeout):
            wait_readable(left)
        gevent.spawn_later(0.02, right.sendall, b"x")
        left.settimeout(2)
        wait_readable(left)
        assert left.recv(10) == b"x"


def test_tls_sockets_read_first():
    plain = gevent.socket.socket()
    with plain:
        assert may_wait_first(plain)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    wrapped = context.wrap_socket(socket.socket(), do_handshake_on_connect=False)
    with wrapped:
        assert not may_wait_first(wrapped)
