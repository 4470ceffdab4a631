"""What every transport shares: config, connections, and the one seam into the pipeline."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from hero.config import Namespace
from hero.container import Api
from hero.core.connection import Connection
from hero.core.processor import ActionData

log = logging.getLogger(__name__)


class Server:
    """A transport. It parses bytes into a Connection and params, calls :meth:`process`, renders."""

    #: The connection type of its clients, and its config namespace.
    type: ClassVar[str] = ""
    #: The persistent-connection verbs this server allows (docs/tcp.md, docs/websocket.md).
    verbs: ClassVar[tuple[str, ...]] = ()
    #: Its clients can join chat rooms.
    can_chat: ClassVar[bool] = False

    def __init__(self, api: Api, config: Namespace) -> None:
        self.api = api
        self.config = config
        #: The gevent server accepting connections, once started.
        self._server: Any = None
        #: A listening socket handed over by the process this one replaces (a restart in place,
        #: docs/deployment.md): :meth:`start` accepts on it instead of binding.
        self.inherited_listener: Any = None

    def listening_socket(self) -> Any:
        """The socket it accepts on (None when it has none of its own), for a restart in place."""
        server = self._server
        return getattr(server, "socket", None) if server is not None else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url or 'not listening'}>"

    @property
    def scheme(self) -> str:
        """The URL scheme clients use (``http``, ``tcp``, ``tls``)."""
        raise NotImplementedError

    @property
    def address(self) -> tuple[str, int] | None:
        """The (host, port) it listens on, once started (port 0 in config → the port it got)."""
        if self._server is None:
            return None
        host, port = self._server.address[:2]
        return host, port

    @property
    def url(self) -> str | None:
        """Where clients reach it, once it listens (for the start line)."""
        address = self.address
        if address is None:
            return None
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        return f"{self.scheme}://{host}:{address[1]}"

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float) -> None:
        """Stop accepting at once; give open work up to ``timeout`` seconds; close the rest."""
        raise NotImplementedError

    def build_connection(self, **attributes: Any) -> Connection:
        """A new connection of this server's type, registered (connection middleware runs)."""
        connection = Connection(type=self.type, can_chat=self.can_chat, **attributes)
        return self.api.connections.add(connection)

    def destroy_connection(self, connection: Connection) -> None:
        self.api.connections.remove(connection)

    def process(self, connection: Connection, params: Mapping[str, Any], *, message_id: Any = None) -> ActionData:
        return self.api.processor.process(connection, params, message_id=message_id)

    def stats(self) -> dict[str, Any]:
        """This server's numbers for the status action."""
        return {"activeConnections": self.api.connections.count_by_type().get(self.type, 0)}


class UpgradeRequest(Protocol):
    """An HTTP request asking to become a WebSocket, as the web server hands it over: the socket,
    the checked WSGI environ, the peer address, and the reader holding any bytes already buffered."""

    socket: Any
    environ: dict[str, Any]
    client_address: Any
    rfile: Any


class WebSocketSeam(Protocol):
    """The WebSocket endpoint as the web server sees it (``hero.process`` attaches one; the HTTP and
    WebSocket packages never import each other)."""

    def handle(self, request: UpgradeRequest) -> None: ...

    def start(self) -> None: ...

    def stop(self, timeout: float) -> None: ...

    def stats(self) -> dict[str, Any]: ...
