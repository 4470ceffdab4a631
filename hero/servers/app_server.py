"""Servers of the app's own (docs/servers.md): actionhero's ``generateServer`` and server plugins.

A server is a class in the app's ``servers/`` folder (or a plugin's) that subclasses
:class:`AppServer`. hero finds it at boot, builds it with its config (``servers[<type>]`` in
``config.py`` over the class's ``default_config``), and starts and stops it with its own servers.
Its clients run actions through the same pipeline as HTTP, WebSocket and TCP clients:

    class EchoServer(AppServer):
        type = "echo"
        default_config = {"port": 0}

        def start(self):
            self.listener = gevent.server.StreamServer(("127.0.0.1", self.config.port), self.serve)
            self.listener.start()

        def stop(self, timeout):
            self.listener.stop(timeout=timeout)

        def serve(self, sock, address):
            connection = self.build_connection(remote_ip=address[0], remote_port=address[1])
            try:
                for line in sock.makefile("rb"):
                    data = self.process(connection, {"action": line.decode().strip()})
                    sock.sendall(json.dumps(data.response).encode() + b"\\n")
            finally:
                self.destroy_connection(connection)
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from hero.config import Namespace
from hero.container import Api
from hero.core.connection import Connection
from hero.errors import BootError
from hero.servers.base import Server
from hero.servers.verbs import ALL_VERBS, run_verb

#: Connection types hero's own transports use; an app's server must pick another.
#: ``enabled`` is the key of config ``servers`` that switches every app server off.
RESERVED_TYPES = frozenset({"web", "socket", "websocket", "task", "spec", "test", "enabled"})
_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class AppServer(Server):
    """The base of a server of the app's own. Subclasses set ``type`` and write ``start`` / ``stop``.

    ``self.api`` is the process's Api and ``self.config`` this server's config (a read-only
    mapping: ``self.config.port``). The pipeline is reached through :meth:`build_connection`,
    :meth:`process` (params in, an ``ActionData`` out: ``data.response``, ``data.error``,
    ``data.status``) and :meth:`destroy_connection`; the persistent-connection verbs (``roomAdd``,
    ``say``, ``paramAdd``...) through :meth:`run_verb`.
    """

    #: The connection type of its clients (``connection.type``) and its key in config ``servers``.
    type: ClassVar[str] = ""
    #: Its config before the app's ``servers[<type>]`` entry overlays it.
    default_config: ClassVar[Mapping[str, Any]] = {}
    #: The verbs :meth:`run_verb` allows (all of them by default; an empty tuple for none).
    verbs: ClassVar[tuple[str, ...]] = ALL_VERBS
    #: Its clients may join chat rooms (their connection needs a ``send`` to hear them).
    can_chat: ClassVar[bool] = False

    def __init__(self, api: Api, config: Namespace) -> None:
        super().__init__(api, config)

    @property
    def scheme(self) -> str:
        return self.type

    @property
    def address(self) -> tuple[str, int] | None:
        """Where it listens, if it does: a subclass that listens sets ``self.listen_address``."""
        address: tuple[str, int] | None = getattr(self, "listen_address", None)
        return address

    def run_verb(self, connection: Connection, verb: str, args: list[Any]) -> Any:
        """Run a verb for ``connection``: its data, or a HeroError whose message is for the client."""
        return run_verb(self.api, connection, verb, args, allowed=self.verbs)

    @classmethod
    def validate(cls, taken: set[str]) -> None:
        """A BootError naming what is wrong with this class as a server (at boot)."""
        if not isinstance(cls.type, str) or not _TYPE.match(cls.type):
            raise BootError(f"server {cls.__name__}: `type` must be a name of letters, digits and _, got {cls.type!r}")
        if cls.type in RESERVED_TYPES:
            raise BootError(f"server {cls.__name__}: type `{cls.type}` is hero's own; pick another")
        if cls.type in taken:
            raise BootError(f"server {cls.__name__}: another server already has type `{cls.type}`")
        for method in ("start", "stop"):
            if getattr(cls, method) is getattr(Server, method):
                raise BootError(f"server {cls.__name__}: it must define {method}()")
