"""Every exception stays inside its client: a BaseException escaping the pipeline (an outer
``gevent.Timeout``, say) still unregisters the connection, leaves its rooms and frees its slot (issue 15)."""
from __future__ import annotations

import json
from collections.abc import Callable

import gevent
import pytest
from tests.support.ws import WsHero

from tests.support.apps import wait_for

pytestmark = pytest.mark.timeout(30)


def _raising(server, error: BaseException):
    original = server.process

    def process(connection, params, **options):
        if params.get("action") == "boom":
            raise error
        return original(connection, params, **options)

    server.process = process


@pytest.mark.parametrize("error", [gevent.Timeout(), gevent.GreenletExit(), RuntimeError("x")],
                         ids=["Timeout", "GreenletExit", "RuntimeError"])
def test_a_tcp_client_is_cleaned_up_whatever_escapes(hero_socket, error: BaseException) -> None:
    api, connect = hero_socket({"socket": {"max_connections": 1}})
    server = api.servers["socket"]
    _raising(server, error)
    client = connect()
    client.ask("roomAdd defaultRoom")
    client.send("boom\n")
    assert client.closed_by_server()
    wait_for(lambda: len(api.connections) == 0)
    assert api.chat.status("defaultRoom")["membersCount"] == 0
    assert wait_for(lambda: not server.clients)
    again = connect()  # the pool's one slot is free again
    assert again.ask("randomNumber")["messageId"] == 1


@pytest.mark.parametrize("error", [gevent.Timeout(), gevent.GreenletExit()], ids=["Timeout", "GreenletExit"])
def test_a_websocket_client_is_cleaned_up_whatever_escapes(ws_hero: Callable[..., WsHero],
                                                           error: BaseException) -> None:
    hero = ws_hero()
    _raising(hero.endpoint, error)
    ws = hero.connect()
    ws.send(json.dumps({"event": "roomAdd", "room": "defaultRoom"}))
    json.loads(ws.recv())
    (live,) = hero.endpoint.live.values()
    ws.send(json.dumps({"event": "action", "params": {"action": "boom"}}))
    assert hero.wait_for(lambda: hero.websocket_connections() == 0)
    assert hero.api.chat.status("defaultRoom")["membersCount"] == 0
    assert live.session.finished.wait(5)  # its writer and pinger are stopped too
    assert live.session._writer.dead and live.session._pinger.dead
    ws.close()
