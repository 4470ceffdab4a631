"""A malformed Origin on the WebSocket upgrade is refused with 403, never a logged traceback (issue 15)."""
from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from tests.support.ws import RawClient, WsHero

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("origin", ["http://[::1", "http://[", "http://[zz]", "http://x]", "http://[::1]:80x",
                                    "http://a:99999", "null", "ftp://x"])
def test_a_malformed_origin_is_403(ws_hero: Callable[..., WsHero], origin: str, caplog) -> None:
    hero = ws_hero()
    with caplog.at_level(logging.INFO):
        raw = RawClient(hero.host, hero.port, headers={"Origin": origin})
        assert raw.status == 403
        raw.close()
    assert not [record for record in caplog.records if record.exc_info]
    assert hero.wait_for(lambda: hero.endpoint.counters["refused"] == 1)
