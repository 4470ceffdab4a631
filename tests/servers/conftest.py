"""Fixtures of the transport tests: a hero with its TCP server, and a hero with WebSockets."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.lines import LineClient
from tests.support.ws import WsHero, find_endpoint


@pytest.fixture
def hero_socket(boot_hero) -> Iterator[Callable[..., tuple[Any, Callable[[], LineClient]]]]:
    """``start(overrides=None, redis=False) -> (api, connect)``: a hero with its TCP server; connect() → LineClient."""
    clients: list[LineClient] = []

    def start(overrides: dict | None = None, **kwargs: Any):
        layers = {"web": {"enabled": False}, **(overrides or {})}
        api = boot_hero(layers, **kwargs)
        address = api.servers["socket"].address

        def connect() -> LineClient:
            client = LineClient(address)
            clients.append(client)
            return client

        return api, connect

    yield start
    for client in clients:
        client.close()


@pytest.fixture
def ws_hero(boot_hero: Callable[..., Any]) -> Callable[..., WsHero]:
    """``boot(websocket={...}, redis=False, **overrides) -> WsHero``: hero with WebSockets on the web port."""

    def boot(websocket: dict[str, Any] | None = None, *, redis: bool = False, **overrides: Any) -> WsHero:
        layers = {"websocket": websocket or {}, "socket": {"enabled": False}, **overrides}
        api = boot_hero(layers, redis=redis)
        host, port = api.servers["web"].address[:2]
        return WsHero(api, find_endpoint(api), host, port)

    return boot
