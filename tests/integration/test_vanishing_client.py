"""A TCP client that vanishes without closing (reliability.md T6): no FIN, no RST, its packets
simply stop. The client runs in a network namespace joined to this one by a veth pair; taking
its end of the link down is the pulled cable. hero must find out by itself (TCP keepalive, and
a bound on unacknowledged replies), leave the client's rooms, drop the reply it could not deliver
without an error, and serve everyone else meanwhile.

Needs root and iproute2 (``ip netns``, veth); the traffic never leaves this machine.
"""
from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time

import pytest

from tests.support.apps import wait_for
from tests.support.netns import ip

pytestmark = pytest.mark.timeout(60)

CLIENT = r"""
import socket, sys, time
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
reader = sock.makefile("rb")
reader.readline()                                   # welcome
sock.sendall(b"roomAdd lobby\n")
reader.readline()                                   # OK
sock.sendall(b'{"action": "sleepTest", "params": {"sleepDuration": 1500}}\n')
print("ready", flush=True)
time.sleep(60)                                      # holds the socket; the test kills it
"""


def test_a_client_that_vanishes_is_reaped_and_its_rooms_left(boot_hero, namespace, caplog):
    name, link, client_address, server_address = namespace
    api = boot_hero({"web": {"enabled": False},
                     "socket": {"bind": "0.0.0.0", "keepalive_idle": 1, "keepalive_interval": 1,
                                "keepalive_count": 2, "unacked_timeout": 2}})
    port = api.servers["socket"].address[1]
    api.chat.add("lobby")
    client = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c", CLIENT, server_address, str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert client.stdout is not None and client.stdout.readline().strip() == "ready", client.stderr
        wait_for(lambda: api.chat.status("lobby")["membersCount"] == 1)
        caplog.set_level(logging.WARNING)

        ip("netns", "exec", name, "ip", "link", "set", link, "down")  # the cable is pulled
        vanished_at = time.monotonic()

        # hero keeps serving others while it waits to find out
        with socket.create_connection(("127.0.0.1", port), timeout=5) as other:
            reader = other.makefile("rb")
            reader.readline()
            other.sendall(b"randomNumber\n")
            assert b"randomNumber" in reader.readline()

        # the sleepTest reply (due 1.5 s in) can never be acknowledged: hero gives up on the client
        wait_for(lambda: not any(connection.type == "socket" and connection.remote_ip == client_address
                                 for connection in api.connections), timeout=20)
        reaped_after = time.monotonic() - vanished_at
        assert api.chat.status("lobby")["membersCount"] == 0
        assert reaped_after < 15, reaped_after
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    finally:
        client.kill()
        client.wait(timeout=5)
