"""The TCP line server (docs/tcp.md): a ``gevent.server.StreamServer``, a greenlet per client.

This module is the listener: the address (shared with other processes under ``socket.reuse_port``),
TLS when ``socket.tls`` is set, the kernel's options on each accepted socket, and a graceful stop.
Each client is a :class:`~hero.servers.socket.client.SocketClient`.

    $ telnet localhost 5000
    {"welcome":"Welcome to the hero api","context":"api"}
    randomNumber
    {"randomNumber":0.42,"stringRandomNumber":"Your random number is 0.42","context":"response","messageId":1}
"""
from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

from gevent import ssl as gevent_ssl
from gevent.pool import Pool
from gevent.server import StreamServer

from hero.config import Namespace
from hero.container import Api
from hero.errors import BootError
from hero.servers.base import Server
from hero.servers.socket.client import SocketClient
from hero.servers.verbs import ALL_VERBS

log = logging.getLogger(__name__)

class SocketServer(Server):
    """docs/tcp.md on ``socket.bind``:``socket.port`` (0: a free port), TLS when ``socket.tls`` is set."""

    type = "socket"
    verbs = ALL_VERBS
    can_chat = True

    def __init__(self, api: Api, config: Namespace) -> None:
        super().__init__(api, config)
        self.clients: set[SocketClient] = set()
        self._server: StreamServer | None = None
        self._ssl_context: ssl.SSLContext | None = None

    @property
    def tls(self) -> ssl.SSLContext | None:
        """The TLS context when ``socket.tls`` is set (None: plain TCP)."""
        return self._ssl_context

    @property
    def scheme(self) -> str:
        return "tls" if self._ssl_context else "tcp"

    def start(self) -> None:
        tls = self.config.tls
        if tls:
            try:
                context = gevent_ssl.SSLContext(gevent_ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(tls["cert"], tls["key"])
            except (OSError, KeyError, gevent_ssl.SSLError) as error:
                raise BootError(f"socket.tls: cannot load the certificate and key: {error}") from None
            self._ssl_context = context
        bind, port = self.config.bind, self.config.port
        try:
            listener: Any = _shared_listener(bind, port) if self.config.reuse_port else (bind, port)
            if self.inherited_listener is not None:
                listener, self.inherited_listener = self.inherited_listener, None
            server = StreamServer(listener, self._handle, spawn=Pool(self.config.max_connections))
            server.start()
        except OSError as error:
            raise BootError(f"socket server: address {bind}:{port} cannot be used: {error.strerror or error}") from None
        self._server = server

    def stop(self, timeout: float) -> None:
        """Stop accepting; each client finishes its in-flight actions, gets the goodbye, and is closed."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for client in list(self.clients):
            client.stop_reading(timeout)
        server.stop(timeout=timeout)

    def _handle(self, sock: socket.socket, address: Any) -> None:
        if self._ssl_context is not None:
            sock.settimeout(self.config.tls_handshake_timeout)
            try:
                sock = self._ssl_context.wrap_socket(sock, server_side=True)
            except (OSError, gevent_ssl.SSLError) as error:
                log.info("socket: TLS handshake with %s failed: %s", address[0], error)
                sock.close()
                return
        _tune(sock, self.config)
        client = SocketClient(self, sock, address, direct=self._ssl_context is None)
        self.clients.add(client)
        try:
            client.run()
        finally:
            self.clients.discard(client)


def _shared_listener(bind: str, port: int) -> socket.socket:
    """A listening socket other processes may bind too (SO_REUSEPORT: the kernel spreads clients)."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((bind, port))
        listener.listen(1024)
    except OSError:
        listener.close()
        raise
    return listener


def _tune(sock: socket.socket, config: Namespace) -> None:
    """No Nagle delay on replies; keepalive and a bound on unacknowledged data reap peers that
    vanished without closing; idle clients time out."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        # NOTE: a setting of None (or 0) leaves the kernel's default.
        for option, value in (("TCP_KEEPIDLE", config.keepalive_idle), ("TCP_KEEPINTVL", config.keepalive_interval),
                              ("TCP_KEEPCNT", config.keepalive_count)):
            if value and hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), max(1, int(value)))
        if config.unacked_timeout and hasattr(socket, "TCP_USER_TIMEOUT"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(config.unacked_timeout * 1000))
    except OSError:
        pass
    # NOTE: no socket timeout unless idle clients are to be closed: writes are bounded by a
    # timer in the writer, and a timeout on the socket would cost a timer on every read.
    sock.settimeout(config.idle_timeout or None)
