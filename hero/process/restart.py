"""Restart in place (actionhero's ``SIGUSR2`` → ``restart()``; docs/deployment.md).

The new code boots beside the old one first (config read again, the app's files loaded again, every
initializer's ``initialize``); only when that works does the old one stop and the new one start, in
the same process, accepting on the old listening sockets, so a client that connects meanwhile waits
in the kernel's backlog instead of being refused. A new boot that fails leaves the old code serving;
a new start that fails starts the old code again on the same sockets. Either failure is logged.
"""
from __future__ import annotations

import logging
import socket
from typing import Any, Protocol

from hero.container import Api, Initializer

log = logging.getLogger(__name__)


class Booting(Protocol):
    """What a restart uses of a :class:`hero.process.Process` (the running one, and the fresh one)."""

    api: Api | None
    initializers: list[Initializer]
    started: list[Initializer]

    def initialize(self) -> Api: ...

    def start(self) -> Api: ...

    def stop(self, *, final: bool = True) -> None: ...


def restart_in_place(process: Booting, fresh: Booting) -> bool:
    """Replace ``process``'s running code with ``fresh`` (a new, not yet initialized process of the
    same app); True when the new code serves."""
    old_api = process.api
    if old_api is None or not old_api.running:
        log.warning("restart: nothing is running")
        return False
    try:
        fresh.initialize()
    except Exception as error:
        Api.current = old_api
        log.error("restart: the new code did not boot, the running code keeps serving: %s", error)
        return False
    finally:
        if Api.current is not old_api and fresh.api is None:
            Api.current = old_api
    listeners = _held_listeners(old_api, fresh.api)
    log.info("restart: the new code booted; stopping the old (keeping %s listening)", ", ".join(listeners) or "nothing")
    process.stop(final=False)
    try:
        _hand_over(fresh.api, listeners)
        fresh.start()
    except Exception as error:
        log.error("restart: the new code did not start (%s); starting the old code again", error)
        _hand_over(old_api, listeners)
        Api.current = old_api
        process.start()
        _close(listeners)
        return False
    _close(listeners)
    assert fresh.api is not None
    process.api, process.initializers, process.started = fresh.api, fresh.initializers, fresh.started
    fresh.api.process = process
    log.info("restart: the new code serves (id %s)", fresh.api.id)
    return True


def _held_listeners(old: Api, new: Api | None) -> dict[str, Any]:
    """A duplicate of each old listening socket the new config still asks for (same bind and port)."""
    held: dict[str, Any] = {}
    if new is None:
        return held
    for name, server in old.servers.items():
        sock = server.listening_socket() if hasattr(server, "listening_socket") else None
        section = new.config.get(name)
        if sock is None or name not in new.servers or section is None:
            continue
        same = section.get("port") == old.config[name].get("port") and section.get("bind") == old.config[name].get("bind")
        if same and section.get("port") not in (0, None):
            held[name] = _duplicate(sock)
            if getattr(server, "unix_path", None) is not None:
                # NOTE: the new server keeps the socket file; the old must not unlink it.
                setattr(server, "unix_path", None)
    return held


def _hand_over(api: Api | None, listeners: dict[str, Any]) -> None:
    """Give each server of ``api`` a fresh duplicate of its held listener (a failed start closes its own)."""
    if api is None:
        return
    for name, sock in listeners.items():
        server = api.servers.get(name)
        if server is not None:
            server.inherited_listener = _duplicate(sock)  # type: ignore[attr-defined]


def _duplicate(sock: Any) -> socket.socket:
    """A new socket object on a duplicate of ``sock``'s descriptor: closing one leaves the other listening."""
    return socket.fromfd(sock.fileno(), sock.family, sock.type)


def _close(listeners: dict[str, Any]) -> None:
    for sock in listeners.values():
        try:
            sock.close()
        except OSError:
            pass
