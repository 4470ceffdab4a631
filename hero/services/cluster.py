"""The cluster: every hero process on one Redis, joined by one pub/sub channel (``general.channel``).

The channel carries chat (``messageType: "chat"``, see :mod:`hero.services.chat`) and RPC (``"do"`` /
``"doResponse"``). Every message is signed with the cluster's secret (:mod:`hero.services.signing`);
forged, altered, stale and replayed ones are dropped. One
subscriber greenlet per process reads the channel, and re-subscribes when Redis comes back
(pub/sub is at-most-once: what is published during an outage is lost).

    api.cluster.register("cache.reload", reload)            # on every process, at boot
    api.cluster.do("cache.reload", ["users"])               # runs on every process (this one too)
    api.cluster.do("chat.add_member", [cid, "lobby"], connection_id=cid, wait=True)  # only the holder
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import gevent
from gevent.event import AsyncResult

from hero import errors
from hero.core.connection import Connections
from hero.errors import HeroError, RpcTimeout
from hero.runtime.json import dumps
from hero.services.signing import MessageSigner, Refused
from hero.services.store import STORE_ERRORS, RedisStore
from hero.services.subscription import Subscription

log = logging.getLogger(__name__)

class Cluster:
    """Publish to, listen on, and call functions across every process sharing the channel."""

    def __init__(self, store: RedisStore, connections: Connections, *, channel: str, signer: MessageSigner,
                 server_id: str, rpc_timeout: float = 5.0, heartbeat_interval: float = 5.0) -> None:
        self.connections = connections
        self.store = store
        self.channel = channel
        self.signer = signer
        self.server_id = server_id
        self.rpc_timeout = rpc_timeout
        self.heartbeat_interval = heartbeat_interval
        #: ``messageType`` → handler of a received message (chat registers ``"chat"``).
        self.handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "do": self._on_do, "doResponse": self._on_do_response, "peer": self._on_peer,
        }
        #: Functions ``do()`` may call, by name.
        self.methods: dict[str, Callable[..., Any]] = {}
        #: Called after the subscriber re-subscribed (Redis came back, maybe empty: chat rebuilds its rooms).
        self.reconnect_hooks: list[Callable[[], None]] = []
        #: Called with the id of a peer that stopped heartbeating (it crashed: chat drops its members).
        self.peer_lost_hooks: list[Callable[[str], object]] = []
        self._pending: dict[str, AsyncResult] = {}
        self._seen_peers: list[str] = []
        self._peers: list[str] = [server_id]
        self._peers_key = store.key("cluster", "peers")
        self._subscription = Subscription(store.blocking(), channel, where=store.describe(),
                                          health_seconds=store.settings.subscriber_health_seconds,
                                          receive=self.receive, reconnected=self._run_reconnect_hooks)
        self._greenlets: list[gevent.Greenlet] = []
        self._running = False
        #: Messages dropped as forged, altered, stale or replayed (a count, for tests and status).
        self.dropped = 0
        self.register("log", _log_line)
        self.register("connections.apply", connections.apply_here)

    def __repr__(self) -> str:
        return f"Cluster(channel={self.channel!r}, id={self.server_id!r}, running={self._running})"

    # --- registering and calling ------------------------------------------------------------------

    def register(self, name: str, function: Callable[..., Any]) -> None:
        """Make ``function`` callable by ``do(name, args)`` from any process."""
        if not name or not callable(function):
            raise ValueError("cluster.register needs a name and a callable")
        self.methods[name] = function

    def do(self, method: str, args: Sequence[Any] = (), connection_id: str | None = None,
           wait: bool = False) -> Any:
        """Run ``method(*args)`` on every process, or only on the one holding ``connection_id``.

        With ``wait``, return the first answer (or raise its error, or :class:`RpcTimeout` after
        ``general.rpc_timeout`` seconds); without, return None at once.
        """
        args = list(args)
        if connection_id is not None and connection_id in self.connections:
            # NOTE: the holder is this process: call directly rather than round-trip through Redis.
            if wait:
                return self._call(method, args)
            gevent.spawn(self._call_and_log, method, args)
            return None
        if wait and not self._running:
            return self._do_without_listener(method, args, connection_id)
        message_id = uuid.uuid4().hex
        result: AsyncResult | None = None
        if wait:
            result = self._pending[message_id] = AsyncResult()
        try:
            self._publish_do(message_id, method, args, connection_id, wait)
            if result is None:
                return None
            try:
                reply = result.get(timeout=self.rpc_timeout)
            except gevent.Timeout:
                raise RpcTimeout() from None
        finally:
            self._pending.pop(message_id, None)
        return _outcome(reply)

    def _do_without_listener(self, method: str, args: list[Any], connection_id: str | None) -> Any:
        """``do(wait=True)`` in a process whose subscriber does not run (a ``hero worker``, which
        is not monkey-patched): it subscribes for this one answer and blocks until it comes."""
        message_id = uuid.uuid4().hex
        pubsub = self._subscription.open()
        try:
            self._publish_do(message_id, method, args, connection_id, True)
            deadline = time.monotonic() + self.rpc_timeout
            while (remaining := deadline - time.monotonic()) > 0:
                raw = pubsub.get_message(timeout=remaining)
                if not raw or raw.get("type") != "message":
                    continue
                reply = self.verified(raw["data"])
                if reply and reply.get("messageType") == "doResponse" and reply.get("messageId") == message_id:
                    return _outcome(reply)
            raise RpcTimeout()
        finally:
            pubsub.close()

    def _publish_do(self, message_id: str, method: str, args: list[Any], connection_id: str | None,
                    wait: bool) -> None:
        self.publish({"messageType": "do", "messageId": message_id, "method": method,
                      "connectionId": connection_id, "args": args, "wait": wait})

    def publish(self, message: dict[str, Any]) -> None:
        """Send one message to every process (this one included); raises when Redis is unreachable."""
        # NOTE: on the multiplexed connection (hero.services.redis_mux): a chat say costs one round trip
        self.store.commands.call("PUBLISH", self.channel, self.signer.seal({**message, "serverId": self.server_id}))

    def apply_to_connection(self, connection_id: str, method: str | None = None, args: Any = None) -> dict[str, Any]:
        """actionhero's ``connections.apply``: act on a connection wherever it lives; its details back."""
        return self.do("connections.apply", [connection_id, method, args], connection_id=connection_id, wait=True)

    def peers(self) -> list[str]:
        """Ids of the processes seen in the last few heartbeats (this one included)."""
        return list(self._peers)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe (raising when Redis is unreachable), then listen and heartbeat in greenlets."""
        self._running = True
        self._subscription.subscribe()
        self._heartbeat(first=True)
        self._greenlets = [gevent.spawn(self._subscription.listen), gevent.spawn(self._heartbeat_loop)]
        self._announce("joined")

    def stop(self) -> None:
        if not self._running:
            return
        self._announce("left")
        self._running = False
        self._subscription.running = False
        gevent.killall(self._greenlets, timeout=2)
        self._greenlets = []
        try:
            self.store.client.zrem(self._peers_key, self.server_id)
        except STORE_ERRORS:
            pass
        self._subscription.close()

    def _announce(self, event: str) -> None:
        try:
            self.publish({"messageType": "peer", "event": event})
        except STORE_ERRORS as error:
            log.warning("cluster: could not announce that %s %s: %s", self.server_id, event, error)

    def _on_peer(self, message: dict[str, Any]) -> None:
        peer, event = str(message.get("serverId")), message.get("event")
        log.info("hero member %s has %s the cluster", peer, event)
        if event == "joined" and peer not in self._peers:
            self._peers = sorted([*self._peers, peer])
        elif event == "left" and peer != self.server_id:
            self._peers = [known for known in self._peers if known != peer]

    def _run_reconnect_hooks(self) -> None:
        for hook in self.reconnect_hooks:
            try:
                hook()
            except Exception as error:  # noqa: BLE001 - one failed hook must not stop the subscriber
                log.warning("cluster: a reconnect hook failed: %s", errors.error_message(error))

    def verified(self, raw: str | bytes) -> dict[str, Any] | None:
        """One raw channel message as a dict, or None (logged and counted) when it is not signed with
        this cluster's secret, or is stale or replayed."""
        try:
            return self.signer.open(raw)
        except Refused as refused:
            self.dropped += 1
            log.warning("cluster: dropped a message: %s", refused)
            return None

    def receive(self, raw: str | bytes) -> None:
        """Handle one raw channel message: check its signature, dispatch by ``messageType``."""
        message = self.verified(raw)
        if message is None:
            return
        handler = self.handlers.get(str(message.get("messageType")))
        if handler is None:
            return
        try:
            handler(message)
        except Exception:
            log.exception("cluster: the %s handler failed", message.get("messageType"))

    # --- RPC ------------------------------------------------------------------------------------

    def _call(self, method: str, args: list[Any]) -> Any:
        function = self.methods.get(method)
        if function is None:
            raise HeroError(f"cluster method {method} is not registered", status=404)
        return function(*args)

    def _call_and_log(self, method: str, args: list[Any]) -> None:
        try:
            self._call(method, args)
        except Exception as error:
            log.warning("cluster: %s failed: %s", method, errors.error_message(error))

    def _on_do(self, message: dict[str, Any]) -> None:
        connection_id = message.get("connectionId")
        if connection_id is not None and connection_id not in self.connections:
            return
        gevent.spawn(self._answer, message)

    def _answer(self, message: dict[str, Any]) -> None:
        method, args = message.get("method"), message.get("args") or []
        if not message.get("wait"):
            self._call_and_log(str(method), list(args))
            return
        if method not in self.methods and message.get("connectionId") is None:
            return  # NOTE: another process may know it; the caller times out if none does
        reply: dict[str, Any] = {"messageType": "doResponse", "messageId": message.get("messageId")}
        try:
            reply["response"] = self._call(str(method), list(args))
            dumps(reply["response"])
        except Exception as error:
            reply["response"] = None
            reply["error"] = {"message": errors.error_message(error), "status": errors.error_status(error),
                              "kind": type(error).__name__}
        try:
            self.publish(reply)
        except STORE_ERRORS as error:
            log.warning("cluster: could not answer %s: %s", method, error)

    def _on_do_response(self, message: dict[str, Any]) -> None:
        result = self._pending.get(str(message.get("messageId")))
        if result is not None and not result.ready():
            result.set(message)

    # --- peers ----------------------------------------------------------------------------------

    def _heartbeat(self, *, first: bool = False) -> None:
        """Say this process is alive; notice peers that went silent, and a Redis that forgot us."""
        now = time.time()
        stale = now - 3 * self.heartbeat_interval
        with self.store.client.pipeline(transaction=False) as pipe:
            pipe.zadd(self._peers_key, {self.server_id: now})
            pipe.zremrangebyscore(self._peers_key, "-inf", stale)
            pipe.zrange(self._peers_key, 0, -1)
            added, _, peers = pipe.execute()
        lost = set(self._seen_peers) - set(peers)
        self._seen_peers = self._peers = sorted(peers)
        if first:
            return
        if added:
            # NOTE: this process had dropped out of the peer set: Redis restarted empty, was flushed,
            # or this process stalled for 3 heartbeats (and peers forgot its members): write back.
            log.warning("cluster: %s was missing from the peer set; restoring its state", self.server_id)
            self._run_reconnect_hooks()
        for peer in sorted(lost):
            log.warning("cluster: peer %s stopped answering; forgetting its connections", peer)
            for hook in self.peer_lost_hooks:
                try:
                    hook(peer)
                except Exception as error:  # noqa: BLE001 - the next heartbeat tries the others
                    log.warning("cluster: cleaning up after %s failed: %s", peer, errors.error_message(error))

    def _heartbeat_loop(self) -> None:
        while self._running:
            gevent.sleep(self.heartbeat_interval)
            try:
                self._heartbeat()
            except STORE_ERRORS as error:
                log.warning("cluster: heartbeat failed: %s", error)


def _outcome(reply: dict[str, Any]) -> Any:
    """The answer of a ``doResponse``: its response, or its error raised here."""
    if reply.get("error"):
        raise _remote_error(reply["error"])
    return reply.get("response")


def _remote_error(error: dict[str, Any]) -> HeroError:
    kind = getattr(errors, str(error.get("kind")), None)
    if kind is errors.ChatError:
        return errors.ChatError(str(error.get("message")))
    return HeroError(str(error.get("message")), status=int(error.get("status") or 500))


def cluster_channel(name: str, store: RedisStore) -> str:
    """The pub/sub channel of a cluster: ``general.channel`` plus the database number."""
    # NOTE: Redis pub/sub ignores the database number, so two apps on one server in different
    # databases (or two test runs) would otherwise hear each other's chat and RPC.
    if store.embedded:
        return name
    database = urlsplit(store.settings.url or "").path.lstrip("/") or "0"
    return f"{name}:{database}"


def _log_line(text: str, level: str = "info") -> None:
    log.log(_LEVELS.get(str(level).lower(), logging.INFO), "%s", text)


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
