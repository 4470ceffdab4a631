"""Fixtures of the integration tests."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.netns import Namespace, netns_unavailable, veth_namespace


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    """A fresh network namespace behind a veth pair, removed afterwards; skips where none can be made."""
    reason = netns_unavailable()
    if reason is not None:
        pytest.skip(f"this fault needs a network namespace: {reason}")
    with veth_namespace() as made:
        yield made
