"""Fixtures of the WebSocket tests."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.ws import WsHero, find_endpoint


@pytest.fixture
def ws_hero(boot_hero: Callable[..., Any]) -> Callable[..., WsHero]:
    """``boot(websocket={...}, redis=False, **overrides) -> WsHero``: hero with WebSockets on the web port."""

    def boot(websocket: dict[str, Any] | None = None, *, redis: bool = False, **overrides: Any) -> WsHero:
        layers = {"websocket": websocket or {}, "socket": {"enabled": False}, **overrides}
        api = boot_hero(layers, redis=redis)
        host, port = api.servers["web"].address[:2]
        return WsHero(api, find_endpoint(api), host, port)

    return boot
