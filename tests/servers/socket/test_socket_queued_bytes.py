"""TCP memory per connection is bounded in bytes, counted as replies are queued (issue 15)."""
from __future__ import annotations

import socket

import psutil
import pytest

from tests.support.apps import wait_for
from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(60)

STICKY = "k" * 60_000


def _flood(client: LineClient, lines: int = 4300) -> None:
    """One 64 KiB packet of ``paramView key`` lines: each reply is 60 kB, none yields."""
    client.ask("paramAdd key=" + STICKY)
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        client.send(b"paramView key\n" * lines)
    except OSError:
        pass


def test_replies_of_one_packet_are_capped_in_bytes_as_they_are_queued(hero_socket) -> None:
    api, connect = hero_socket({"socket": {"max_queued_bytes": 1_048_576, "write_timeout": 1.0}})
    me = psutil.Process()
    before = me.memory_info().rss
    greedy = connect()
    _flood(greedy)
    wait_for(lambda: len(api.connections) == 0, timeout=20)
    grown = (me.memory_info().rss - before) / 1e6
    # before the cap was counted per reply: ~250 MB (4,300 replies of 60 kB queued in one turn)
    assert grown < 40, f"RSS grew {grown:.0f} MB"
    polite = connect()
    assert polite.ask("randomNumber")["messageId"] == 1


def test_a_client_that_reads_gets_every_reply_of_a_big_packet(hero_socket) -> None:
    _, connect = hero_socket({"socket": {"max_queued_bytes": 262_144}})
    client = connect()
    client.ask("paramAdd key=" + STICKY)
    client.send(b"paramView key\n" * 200)  # 12 MB of replies, far over the cap, for a client that reads
    for _ in range(200):
        assert client.read()["data"] == STICKY
    assert client.ask("randomNumber")["messageId"] > 200


def test_the_byte_cap_is_config(boot_hero) -> None:
    from hero.errors import ConfigError

    with pytest.raises(ConfigError, match="socket.max_queued_bytes"):
        boot_hero({"web": {"enabled": False}, "socket": {"max_queued_bytes": 0}})
