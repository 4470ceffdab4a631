"""WebSockets on the web port (docs/websocket.md), built on wsproto inside hero's pywsgi handler.

``hero.process`` builds one :class:`WebSocketEndpoint` when ``websocket.enabled`` and attaches it to
the web server (``attach_websocket``), which hands it every request for ``websocket.path`` that asks
for an upgrade:

    endpoint = WebSocketEndpoint(api, api.config.websocket, web_server)
    endpoint.handle(handler)       # answers the handshake, then serves the socket until it closes
    endpoint.stop(timeout)         # in-flight actions finish, then every socket closes with 1001

The handshake is checked by :mod:`hero.servers.websocket.handshake`, the frames are read by one
:class:`~hero.servers.websocket.session.WebSocketSession` per socket (and written by its
:class:`~hero.servers.websocket.frames.FrameWriter` side), and what messages mean is
:class:`~hero.servers.websocket.events.MessageRouter`'s business.
"""
from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from hero.config import Namespace
from hero.container import Api
from hero.errors import error_message
from hero.servers.base import Server, UpgradeRequest
from hero.servers.websocket.events import WEBSOCKET_VERBS, MessageRouter
from hero.servers.websocket.handshake import Refusal, check_upgrade
from hero.servers.websocket.protocol import GOING_AWAY, Limits

if TYPE_CHECKING:
    from hero.servers.websocket.session import WebSocketSession

log = logging.getLogger(__name__)

@dataclass(eq=False)
class LiveSocket:
    """An open WebSocket: its I/O and its message router."""

    session: WebSocketSession
    router: MessageRouter


class WebSocketEndpoint(Server):
    """The ``websocket`` transport: it listens through the web server, at ``websocket.path``."""

    type: ClassVar[str] = "websocket"
    verbs: ClassVar[tuple[str, ...]] = WEBSOCKET_VERBS
    can_chat: ClassVar[bool] = True

    def __init__(self, api: Api, config: Namespace, web_server: Server | None = None) -> None:
        super().__init__(api, config)
        self.web_server = web_server
        self.limits = Limits.from_config(config)
        #: Open sockets by connection id.
        self.live: dict[str, LiveSocket] = {}
        self.stopping = False
        self.counters: Counter[str] = Counter()

    @property
    def url(self) -> str | None:
        base = getattr(self.web_server, "url", None)
        if not base:
            return None
        return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1).rstrip("/") + self.config.path

    def start(self) -> None:
        """Nothing to do: the web server listens for this endpoint."""

    # --- one socket ----------------------------------------------------------------------------------

    def handle(self, handler: UpgradeRequest) -> None:
        """Answer the upgrade request held by a pywsgi ``handler``, then serve the socket until it closes.

        The caller closes the socket afterwards. Never raises.
        """
        sock: socket.socket = handler.socket
        environ = handler.environ
        try:
            if self.stopping or self.api.processor.stopping:
                raise Refusal(503, "the server is shutting down")
            upgrade = check_upgrade(environ, self.config.allowed_origins)
        except Refusal as refusal:
            self._refuse(sock, refusal, environ)
            return
        leftover = _buffered_input(getattr(handler, "rfile", None), sock, self.config.max_handshake_leftover_bytes)
        # NOTE: lazy: the session brings wsproto (and h11), which a server loads only once a first
        # WebSocket connects (issue 17: an idle server's memory).
        from hero.servers.websocket.session import WebSocketSession

        session = WebSocketSession(sock, self.limits, leftover=leftover)
        address = handler.client_address
        remote_ip = environ.get("REMOTE_ADDR") or (address[0] if isinstance(address, tuple) else str(address))
        remote_port = address[1] if isinstance(address, tuple) and len(address) > 1 else 0
        try:
            connection = self.build_connection(
                remote_ip=remote_ip, remote_port=remote_port, fingerprint=upgrade.fingerprint or "",
                send=session.push, extra={"origin": upgrade.origin, "path": environ.get("PATH_INFO"),
                                          "accept_language": environ.get("HTTP_ACCEPT_LANGUAGE")})
        except Exception as error:  # a connection middleware refused it
            self._refuse(sock, Refusal(403, error_message(error)), environ)
            return
        session.name = connection.id
        session.connection = connection
        router = MessageRouter(self, connection, session)
        session.on_message = router.handle
        try:
            sock.sendall(upgrade.response())
        except OSError:
            self.destroy_connection(connection)
            return
        self.counters["opened"] += 1
        self.live[connection.id] = LiveSocket(session, router)
        session.push({"welcome": self.welcome_message(), "context": "api"})
        if self.stopping:  # NOTE: stop() began while this handshake was under way
            session.close(GOING_AWAY, "server shutting down", flush=True)
        try:
            session.run()
        finally:
            self.live.pop(connection.id, None)
            self.destroy_connection(connection)
            self.counters[f"closed:{session.close_code}"] += 1
            log.debug("websocket %s closed (server code %s, client code %s)", connection.id,
                      session.close_code, session.peer_close_code)

    def welcome_message(self) -> str:
        return self.api.config.web.welcome_message or self.api.config.general.welcome_message

    def _refuse(self, sock: socket.socket, refusal: Refusal, environ: Any) -> None:
        self.counters["refused"] += 1
        log.info("websocket upgrade refused from %s: %s", environ.get("REMOTE_ADDR"), refusal)
        try:
            sock.sendall(refusal.to_bytes())
        except OSError:
            pass

    # --- lifecycle -----------------------------------------------------------------------------------

    def stop(self, timeout: float) -> None:
        """Let in-flight actions finish and reply (up to ``timeout`` s), then close every socket with 1001."""
        self.stopping = True
        deadline = time.monotonic() + timeout
        sockets = list(self.live.values())
        for live in sockets:
            live.router.wait_idle(max(0.0, deadline - time.monotonic()))
        for live in sockets:
            live.session.close(GOING_AWAY, "server shutting down", flush=True)
        # NOTE: the closing handshake gets its own short budget even when the actions used all of
        # ``timeout``: a client that is told why is better than one that sees a reset.
        handshake_deadline = time.monotonic() + max(1.0, min(self.limits.close_timeout, deadline - time.monotonic()))
        for live in sockets:
            live.session.finished.wait(max(0.0, handshake_deadline - time.monotonic()))
        for live in sockets:
            if not live.session.finished.is_set():
                live.session.abort()
        if sockets:
            log.info("websocket: closed %d connections", len(sockets))

    def stats(self) -> dict[str, Any]:
        """Open sockets, and counts of upgrades, refusals and closes by code (this process)."""
        return {"activeConnections": len(self.live), **dict(self.counters)}


def _buffered_input(rfile: Any, sock: socket.socket, limit: int) -> bytes:
    """Bytes the client sent right after the request head, which the web server's reader already holds
    (``limit`` bytes, give or take one read)."""
    if rfile is None:
        return b""
    chunks: list[bytes] = []
    total = 0
    # NOTE: non-blocking for the moment: read1() returns what is buffered, and b"" (not a wait)
    # when nothing is, because the client may well be waiting for our 101 first.
    sock.settimeout(0.0)
    try:
        # NOTE: each read1() takes at most 64 KiB, more than the reader's own buffer holds, so that
        # buffer is always emptied (the session reads the socket, not the reader); past ``limit``
        # the kernel keeps the rest for the session.
        while total < limit:
            chunk = rfile.read1(65_536)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except (OSError, ValueError):
        pass
    finally:
        sock.settimeout(None)
    return b"".join(chunks)
