"""A network namespace joined to this one by a veth pair, for faults loopback cannot show: a peer
whose packets simply stop (its end of the link taken down), with no FIN and no RST.

Needs root and iproute2; the traffic never leaves this machine. Tests skip without them on a laptop
and fail under CI=true, where .ci/run runs as root and installs iproute2 (the ``namespace`` fixture,
tests/integration/conftest.py).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import NamedTuple


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


def netns_unavailable() -> str | None:
    """Why no network namespace can be made here (None when one can)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "needs root and iproute2"
    probe = f"hero-probe-{os.getpid() % 100000}"
    try:
        ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as error:
        return f"cannot create a network namespace: {error}"
    ip("netns", "del", probe)
    return None


@contextlib.contextmanager
def veth_namespace() -> Iterator[Namespace]:
    """A fresh namespace behind a veth pair, removed afterwards (the ``namespace`` fixture)."""
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
