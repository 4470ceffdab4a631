"""Cluster messages signed with the cluster's secret: forged, altered, stale and replayed ones are refused.

Anyone who can publish on the Redis channel could otherwise rewrite a connection's session through
``connections.apply`` or speak in any room. Each message travels as ``<hex HMAC-SHA256>.<JSON>``;
the JSON carries when it was sent and a nonce. A receiver accepts it only when the HMAC matches,
it was sent within ``window`` seconds (either way: clocks differ a little), and its nonce was not
seen in that window.

    signer = MessageSigner(b"the cluster's secret", window=30)
    wire = signer.seal({"messageType": "do", ...})
    signer.open(wire)   # the message, or raises Refused with the reason
"""
from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections import OrderedDict
from typing import Any

from hero.runtime.json import JSONError, dumps, loads

#: The secret of development and test clusters without one of their own: several local processes
#: still form a cluster. Production with a shared Redis refuses to boot on it (hero.process).
DEVELOPMENT_SECRET = "hero development cluster secret: set general.cluster_secret"


class Refused(Exception):
    """A message that is not this cluster's, or no longer fresh; the text says why (for the log)."""


class MessageSigner:
    """Seal outgoing messages and open incoming ones for one cluster secret."""

    def __init__(self, secret: str | bytes, *, window: float = 30.0, max_remembered: int = 100_000) -> None:
        self._key = secret.encode() if isinstance(secret, str) else secret
        self.window = window
        self.max_remembered = max_remembered
        #: nonce → when it stops mattering (monotonic-free: wall clock, as ``sentAt`` is).
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __repr__(self) -> str:
        return f"MessageSigner(window={self.window}s, {len(self._seen)} nonces remembered)"

    def seal(self, message: dict[str, Any]) -> bytes:
        body = dumps({**message, "sentAt": time.time(), "nonce": uuid.uuid4().hex})
        return self._mac(body).encode() + b"." + body

    def open(self, wire: str | bytes) -> dict[str, Any]:
        raw = wire.encode() if isinstance(wire, str) else wire
        mac, dot, body = raw.partition(b".")
        if not dot or not hmac.compare_digest(mac, self._mac(body).encode()):
            raise Refused("not signed with this cluster's secret")
        try:
            message = loads(body)
        except JSONError as error:
            raise Refused(f"not JSON ({error})") from None
        if not isinstance(message, dict):
            raise Refused("not a JSON object")
        sent_at, nonce = message.get("sentAt"), message.get("nonce")
        now = time.time()
        if isinstance(sent_at, bool) or not isinstance(sent_at, (int, float)) or abs(now - sent_at) > self.window:
            raise Refused("stale (sent outside the replay window)")
        if not isinstance(nonce, str) or nonce in self._seen:
            raise Refused("replayed")
        self._remember(nonce, now)
        return message

    def _mac(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def _remember(self, nonce: str, now: float) -> None:
        seen = self._seen
        seen[nonce] = now + self.window
        # NOTE: nonces are remembered in arrival order; the oldest go once their window has passed,
        # and a flood beyond max_remembered drops the oldest early (their messages are stale soon).
        while seen and (len(seen) > self.max_remembered or next(iter(seen.values())) < now):
            seen.popitem(last=False)
