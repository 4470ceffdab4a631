"""``data.to_render = False`` and ``connection.message_count`` on TCP (docs/tcp.md): an action that
renders nothing gets no reply; the count is what was sent (the welcome included)."""
from __future__ import annotations

import socket

import pytest

from hero import Action
from tests.support.lines import LineClient

pytestmark = pytest.mark.timeout(30)


class Quiet(Action):
    """Pushes its own message, then renders nothing."""

    name = "quiet"

    def run(self, data):
        data.connection.send_message({"context": "quiet", "count": data.connection.message_count})
        data.to_render = False


class Count(Action):
    name = "count"

    def run(self, data):
        return {"messageCount": data.connection.message_count}


def test_tcp_to_render_false_sends_no_reply(boot_hero) -> None:
    api = boot_hero({"web": {"enabled": False}})
    api.actions.add(Quiet)
    api.actions.add(Count)
    client = LineClient(api.servers["socket"].address)
    try:
        client.send("quiet\n")
        assert client.read() == {"context": "quiet", "count": 1}  # the welcome was message 1
        assert client.ask("count") == {"messageCount": 2, "context": "response", "messageId": 2}
        client.sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            client.read()  # nothing more: quiet rendered nothing
    finally:
        client.close()
