"""Fixtures of the TCP server tests."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.lines import LineClient


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
