"""The web server (docs/http.md): gevent's WSGIServer with hero's strict handler, and the WebSocket hook.

    server = WebServer(api, api.config.web)
    server.start()            # listens on web.bind:web.port (0 → a free port)
    server.url                # "http://127.0.0.1:8080"
    server.stop(timeout=5)    # stop accepting, let requests in flight finish, close the rest

The pieces: :mod:`hero.servers.http.handler` (one connection: deadlines, keep-alive, the WSGI
environ), :mod:`hero.servers.http.request` (bytes → a checked request),
:mod:`hero.servers.http.writer` (responses written at the end of the loop's turn),
:mod:`hero.servers.http.app` (environ → status, headers, body), :mod:`hero.core.routes` (the route
table), :mod:`hero.servers.http.params` (query and bodies), :mod:`hero.servers.http.render`
(JSON answers). Static files are :mod:`hero.services.public`'s.
"""
from __future__ import annotations

import logging
import os
import socket
import ssl
import stat
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gevent
from gevent import ssl as gevent_ssl
from gevent.pool import Pool

from hero.config import Namespace
from hero.container import Api
from hero.core.routes import Route, RouteTable
from hero.errors import BootError
from hero.servers.base import Server, WebSocketSeam
from hero.servers.http.app import HttpApp
from hero.servers.http.handler import HeroHandler, HeroWSGIServer
from hero.servers.http.request import HttpLimits
from hero.services.public import PublicFiles, StaticFiles

log = logging.getLogger(__name__)


class WebServer(Server):
    """HTTP (and, on ``websocket.path``, WebSockets) on one port."""

    type = "web"
    #: Seconds a graceful stop waits for the WebSocket endpoint beyond ``timeout``.
    websocket_grace: float = 1.0

    def __init__(self, api: Api, config: Namespace) -> None:
        super().__init__(api, config)
        self.limits = HttpLimits.from_config(config)
        self.routes: RouteTable = api.routes.table
        #: Live client connections (sockets), for a graceful stop and the status numbers.
        self.handlers: set[HeroHandler] = set()
        self.stopping = False
        #: The static engine of the app's public folder, and of each ``dir`` route by its index.
        self.public_files: PublicFiles = api.public
        self.mounts: dict[int, StaticFiles] = {route.index: self._mount(route) for route in self.routes.routes
                                       if route.dir is not None}
        self.app = HttpApp(self)
        ws_config = api.config.websocket
        self.websocket_path: str = ws_config.path
        #: The WebSocket endpoint on ``websocket.path``, when the wiring attaches one.
        self.websocket: WebSocketSeam | None = None
        self._server: HeroWSGIServer | None = None
        #: The Unix socket listened on when ``web.port`` is a path.
        self.unix_path: str | None = None

    def __repr__(self) -> str:
        return f"<WebServer {self.url or 'not listening'} routes={len(self.routes)}>"

    # --- parts built at boot ------------------------------------------------------------------

    def _mount(self, route: Route) -> StaticFiles:
        """The static engine of a ``dir`` route (relative dirs are below the app root); a missing
        folder fails the boot rather than the first request."""
        directory = Path(route.dir or "")
        if not directory.is_absolute():
            directory = (self.api.config.root / directory).resolve()
        if not directory.is_dir():
            raise BootError(f"config routes.{route.verb}[{route.path}]: dir {directory} is not a folder")
        return StaticFiles.from_config(directory, self.config)

    def attach_websocket(self, endpoint: WebSocketSeam) -> None:
        """Serve WebSockets on ``websocket.path`` through ``endpoint`` (``hero.process`` wires it in:
        the transports do not import one another)."""
        self.websocket = endpoint

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        server = self._server
        return "https" if server is not None and server.tls_context is not None else "http"

    @property
    def address(self) -> tuple[str, int] | None:
        if self.unix_path is not None:
            return None
        return super().address

    @property
    def url(self) -> str | None:
        if self.unix_path is not None and self._server is not None:
            # NOTE: the http+unix form curl and requests-unixsocket read (the path %-encoded).
            return f"{self.scheme}+unix://{quote(self.unix_path, safe='')}"
        return super().url

    def start(self) -> None:
        bind, port = self.config.bind, self.config.port
        self.stopping = False
        context = tls_context(self.config.tls) if self.config.tls else None
        listener: Any = (bind, port)
        if self.inherited_listener is not None:
            listener, self.inherited_listener = self.inherited_listener, None
            if listener.family == socket.AF_UNIX:
                self.unix_path = listener.getsockname()
        elif isinstance(port, str):
            listener = self._unix_listener(port)
        server = HeroWSGIServer(listener, self.app, web=self, spawn=Pool(self.config.max_connections),
                                ssl_context=context)
        try:
            server.start()
        except OSError as error:
            raise BootError(f"web: address {bind}:{port} is not available ({error.strerror or error})") from None
        self._server = server
        if self.websocket is not None:
            self.websocket.start()

    def _unix_listener(self, path: str) -> socket.socket:
        """A listening Unix socket at ``path`` (seed 001's "Port or Socket Path"), for a proxy on the
        same machine. A stale socket file is replaced; any other file there stops the boot."""
        full = Path(path) if Path(path).is_absolute() else self.api.config.root / path
        if full.exists() or full.is_symlink():
            if not stat.S_ISSOCK(full.lstat().st_mode):
                raise BootError(f"web.port: {full} exists and is not a socket")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(full))
            except OSError:
                full.unlink()  # NOTE: nobody listens: left by a process that died
            else:
                raise BootError(f"web.port: another process listens on {full}")
            finally:
                probe.close()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(full))
            os.chmod(full, self.config.unix_socket_mode)
            listener.listen(self.config.unix_socket_backlog)
        except OSError as error:
            listener.close()
            raise BootError(f"web.port: cannot listen on {full} ({error.strerror or error})") from None
        self.unix_path = str(full)
        return listener

    def attach(self, server: HeroWSGIServer) -> None:
        """Serve on a server someone else listens with (gunicorn's worker): ``url`` and ``stop`` use it."""
        self._server = server
        self.stopping = False

    def stop(self, timeout: float) -> None:
        """Stop accepting at once; requests in flight finish (new actions get 503) within ``timeout``."""
        server = self._server
        if server is None:
            return
        self.stopping = True
        server.close()
        for handler in list(self.handlers):
            if handler.idle:
                _wake(handler)
        stopping_ws = None
        if self.websocket is not None:
            stopping_ws = gevent.spawn(self.websocket.stop, timeout)
        drained = server.pool.join(timeout=timeout)
        if stopping_ws is not None:
            # NOTE: WebSockets live in this server's pool; their closing handshake may run a little
            # past ``timeout`` (the endpoint's own budget), so give it that before killing anything.
            stopping_ws.join(timeout=self.websocket_grace)
            drained = server.pool.join(timeout=self.websocket_grace)
        if not drained:
            log.warning("web: %d connections still open after %.1fs; closing them", len(self.handlers), timeout)
        server.stop(timeout=0)
        self._server = None
        if self.unix_path is not None:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass
            self.unix_path = None

    # --- numbers ------------------------------------------------------------------------------

    # NOTE: the numbers live in api.stats only (counted locally, flushed to Redis in batches);
    # stats() reads this process's share back from there.

    def count_request(self) -> None:
        self.api.stats.increment("web:requests")

    def count_file(self) -> None:
        self.api.stats.increment("web:files")

    def count_rejected(self) -> None:
        self.api.stats.increment("web:rejected")

    def stats(self) -> dict[str, Any]:
        local = self.api.stats.local()
        numbers = {
            **super().stats(),
            "openSockets": len(self.handlers),
            "requests": local.get("web:requests", 0),
            "files": local.get("web:files", 0),
            "rejected": local.get("web:rejected", 0),
        }
        if self.websocket is not None:
            numbers["websocket"] = self.websocket.stats()
        return numbers


def tls_context(tls: Any) -> ssl.SSLContext:
    """The server-side context of ``web.tls`` (``{"cert": path, "key": path}``); a BootError naming
    the key when the files do not load."""
    try:
        context = gevent_ssl.SSLContext(gevent_ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls["cert"], tls.get("key"))
    except (OSError, KeyError, TypeError, gevent_ssl.SSLError) as error:
        raise BootError(f"web.tls: cannot load the certificate and key: {error}") from None
    return context


def _wake(handler: HeroHandler) -> None:
    """End an idle keep-alive connection: its pending read sees EOF and the handler returns."""
    sock = getattr(handler, "socket", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
