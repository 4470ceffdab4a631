"""The one pub/sub subscription of a process (the cluster's channel), kept alive through outages.

It subscribes (waiting for Redis's confirmation), reads messages in the cluster's listener greenlet,
PINGs when the channel is quiet and calls the subscription lost when not even the PONG comes back
within ``redis.subscriber_health_seconds`` (a blackholed Redis never says so), then subscribes again
with a growing pause. Every new subscription, and every reconnect redis-py made by itself (a quick
Redis restart), is reported through ``reconnected``: Redis may have come back empty.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import gevent
import redis

from hero.errors import HeroError
from hero.services.store import STORE_ERRORS

log = logging.getLogger("hero.services.cluster")

#: Longest pause between two attempts to re-subscribe after Redis went away.
MAX_RESUBSCRIBE_BACKOFF = 1.0


class SilentStore(Exception):
    """The subscription heard nothing, not even its own PING's answer, for too long."""


class Subscription:
    """``channel`` on the blocking client ``subscriber``; ``receive`` gets each message's data."""

    def __init__(self, subscriber: redis.Redis, channel: str, *, where: str, health_seconds: float,
                 receive: Callable[[Any], None], reconnected: Callable[[], None]) -> None:
        self.subscriber = subscriber
        self.channel = channel
        self.where = where
        self.health_seconds = health_seconds
        self.receive = receive
        self.reconnected = reconnected
        self.running = False
        self._pubsub: Any = None
        self._silently_reconnected = False
        self._last_heard = self._last_ping = time.monotonic()

    def __repr__(self) -> str:
        return f"Subscription({self.channel!r}, subscribed={self._pubsub is not None})"

    def subscribe(self) -> None:
        """Subscribe now, raising a 503 HeroError when Redis does not confirm within 5 s."""
        self.running = True
        self._pubsub = self.open()

    def open(self) -> Any:
        """A new pubsub subscribed to the channel, once Redis confirmed (a 503 HeroError after 5 s)."""
        self._last_heard = self._last_ping = time.monotonic()
        pubsub = self.subscriber.pubsub()
        pubsub.subscribe(self.channel)
        # NOTE: wait for the confirmation, so a message published right after start() is heard.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
            if message and message.get("type") == "subscribe":
                # NOTE: redis-py reconnects a subscription by itself when Redis comes back before a
                # read fails for good (a quick restart): that is a reconnect too, and Redis may be empty.
                pubsub.connection.register_connect_callback(self._on_silent_reconnect)
                return pubsub
        pubsub.close()
        raise HeroError(f"could not subscribe to {self.channel} on {self.where}", status=503)

    def _on_silent_reconnect(self, connection: Any) -> None:
        # NOTE: inside redis-py's connect, in the listener: ``reconnected`` runs from the listen loop
        self._silently_reconnected = True

    def close(self) -> None:
        self.running = False
        self._close_pubsub()
        try:
            self.subscriber.close()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass

    def _close_pubsub(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass
            self._pubsub = None

    def listen(self) -> None:
        """Read until :meth:`close`: the listener greenlet's body."""
        backoff = 0.05
        while self.running:
            try:
                if self._pubsub is None:
                    self._pubsub = self.open()
                    log.info("cluster: re-subscribed to %s", self.channel)
                    self.reconnected()
                message = self._pubsub.get_message(timeout=min(1.0, self.health_seconds / 4))
                if self._silently_reconnected:
                    self._silently_reconnected = False
                    log.info("cluster: the subscription to %s reconnected", self.channel)
                    self.reconnected()
                if message:
                    self._last_heard = time.monotonic()
                else:
                    self._check_health()
                backoff = 0.05
            except STORE_ERRORS + (HeroError, OSError, SilentStore) as error:  # NOTE: mypy rejects a starred tuple
                if self._pubsub is not None:
                    log.warning("cluster: lost the subscription to %s (%s); re-subscribing",
                                self.channel, type(error).__name__)
                self._close_pubsub()
                gevent.sleep(backoff)
                backoff = min(backoff * 2, MAX_RESUBSCRIBE_BACKOFF)
                continue
            if message and message.get("type") == "message":
                self.receive(message["data"])

    def _check_health(self) -> None:
        """PING on the subscription when it has been quiet; raise :class:`SilentStore` when not even
        the PONG came back within ``health_seconds``."""
        now = time.monotonic()
        if now - self._last_heard > self.health_seconds:
            raise SilentStore(f"nothing heard for {self.health_seconds:g}s")
        if now - self._last_ping > self.health_seconds / 3:
            self._last_ping = now
            self._pubsub.ping()
