"""Fixtures of the integration tests."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.needs import missing_under_ci
from tests.support.netns import Namespace, netns_unavailable, veth_namespace


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    """A fresh network namespace behind a veth pair, removed afterwards; where none can be made it
    skips on a laptop and fails under CI=true."""
    reason = netns_unavailable()
    if reason is not None:
        missing_under_ci(f"this fault needs a network namespace: {reason}")
    with veth_namespace() as made:
        yield made
