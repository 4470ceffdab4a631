"""A network namespace joined to this one by a veth pair, for faults loopback cannot show: a peer
whose packets simply stop (its end of the link taken down), with no FIN and no RST.

Needs root and iproute2; the traffic never leaves this machine. Tests skip without them on a laptop
and fail under CI=true (.ci/run runs as root and installs iproute2).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import NamedTuple

import pytest

from tests.conftest import missing_under_ci


class Namespace(NamedTuple):
    name: str
    #: The namespace's end of the veth pair (take it down: the peer vanishes).
    link: str
    #: The namespace's address, and this side's.
    address: str
    our_address: str


def ip(*args: str) -> None:
    """Run ``ip ARGS`` (iproute2); raises when it fails."""
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _netns_available() -> str | None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "needs root and iproute2"
    probe = f"hero-probe-{os.getpid() % 100000}"
    try:
        ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as error:
        return f"cannot create a network namespace: {error}"
    ip("netns", "del", probe)
    return None


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    """A fresh namespace behind a veth pair, removed afterwards."""
    reason = _netns_available()
    if reason is not None:
        missing_under_ci(f"this fault needs a network namespace: {reason}")
    tag = os.getpid() % 100000
    name, here, there = f"hero-ns-{tag}", f"hva{tag}", f"hvb{tag}"
    subnet = f"10.231.{tag % 250}"
    ip("netns", "add", name)
    try:
        ip("link", "add", here, "type", "veth", "peer", "name", there)
        ip("link", "set", there, "netns", name)
        ip("addr", "add", f"{subnet}.1/30", "dev", here)
        ip("link", "set", here, "up")
        ip("netns", "exec", name, "ip", "addr", "add", f"{subnet}.2/30", "dev", there)
        ip("netns", "exec", name, "ip", "link", "set", there, "up")
        ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield Namespace(name, there, f"{subnet}.2", f"{subnet}.1")
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
