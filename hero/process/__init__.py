"""The one place that wires a hero process together: build every service, boot, start, stop, signals.

    process = Process("path/to/app")   # the folder holding config.py, actions/, ...
    process.start()                    # initialize + start every initializer, servers listen
    process.stop()                     # servers drain, then everything stops in order

:func:`build_api` makes each service and hands it what it needs (no service reaches for ``api``);
hero's own initializers (:mod:`hero.process.initializers`) give them their place in the lifecycle, beside the app's.
"""
from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event

from hero.config import Config, load_config
from hero.container import Api, Initializer
from hero.errors import BootError, HeroError
from hero.process.initializers import HERO_INITIALIZERS, app_initializers
from hero.process.wiring import build_api, build_web_server, cluster_secret
from hero.runtime.collector import settle_after_boot
from hero.runtime.logging import configure_logging
from hero.runtime.memory import keep_trimmed
from hero.runtime.monitor import watch_hub

__all__ = ["HERO_INITIALIZERS", "Process", "app_initializers", "build_api", "build_web_server", "cluster_secret"]

log = logging.getLogger(__name__)

# --- the process ----------------------------------------------------------------------------------

class Process:
    """Boot, run and stop one hero process for the app in ``root``."""

    def __init__(self, root: str | Path = ".", *, env: str | None = None,
                 overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.root = Path(root).resolve()
        self.env = env
        self.overrides = overrides
        self.environ = environ
        self.api: Api | None = None
        self.initializers: list[Initializer] = []
        self.started: list[Initializer] = []
        self.stopped = Event()
        self._stopping = False
        self._restarting = False
        #: True when the caller prints the listening and ready lines (``hero start``): logged at debug, not twice.
        self.announces = False
        #: The collector was set for serving (:func:`hero.runtime.collector.settle_after_boot`): by
        #: :meth:`run_forever` only, so a restart in place settles it again.
        self.gc_settled = False

    def __repr__(self) -> str:
        return f"<hero Process {self.root} {'running' if self.api and self.api.running else 'stopped'}>"

    @property
    def config(self) -> Config:
        assert self.api is not None, "the process has not been initialized"
        return self.api.config

    def initialize(self) -> Api:
        """Load config and code, and run every initializer's ``initialize``; nothing listens yet."""
        config = load_config(self.root, env=self.env, environ=self.environ, overrides=self.overrides)
        configure_logging(config.logger.level, config.logger.format, propagate=config.env == "test",
                          config=config.logger.config)
        api = self.api = build_api(config)
        api.process = self
        Api.current = api
        self.initializers = [cls() for cls in HERO_INITIALIZERS]
        for namespace, directory in config.sources("initializers"):
            self.initializers += app_initializers(directory, namespace)
        self._run_phase("initialize", "load_priority", self.initializers)
        return api

    def start(self) -> Api:
        """Initialize when needed, then start every initializer by ``start_priority``."""
        if self.api is None:
            self.initialize()
        assert self.api is not None
        self._stopping = False
        self.stopped.clear()
        self._run_phase("start", "start_priority", self.initializers, track=True)
        watch_hub(self.config.general.max_blocking_time)
        self.api.running = True
        self.api.processor.stopping = False
        log.log(logging.DEBUG if self.announces else logging.INFO, "%s started (env %s, id %s)",
                self.config.general.server_name, self.config.env, self.api.id)
        return self.api

    def stop(self, *, final: bool = True) -> None:
        """Refuse new actions, let servers drain, stop every started initializer. Safe to call twice.
        ``final=False`` (a restart in place) leaves :attr:`stopped` unset: the process goes on."""
        if self._stopping or self.api is None:
            return
        self._stopping = True
        api = self.api
        api.processor.stopping = True
        log.info("hero stopping (%d connections, %d actions in flight)", len(api.connections), api.processor.in_flight)
        for initializer in sorted(reversed(self.started), key=lambda item: item.stop_priority):
            try:
                initializer.stop(api)
            except Exception as error:
                log.error("initializer %s failed to stop: %s", initializer.name, error,
                          exc_info=self.config.general.debug)
        self.started = []
        api.running = False
        if not final:
            self._stopping = False
            log.info("hero stopped for a restart")
            return
        if Api.current is api:
            Api.current = None
        self.stopped.set()
        log.info("hero stopped")

    def restart(self) -> bool:
        """Restart in place (SIGUSR2): boot the app's code afresh, then swap it in on the same
        listening sockets; a new boot that fails keeps the running code (docs/deployment.md)."""
        if self._restarting or self._stopping:
            log.warning("restart: already restarting or stopping")
            return False
        # NOTE: lazy: an idle server never restarts in place; SIGUSR2 loads this (issue 17: idle memory)
        from hero.process.restart import restart_in_place

        self._restarting = True
        try:
            fresh = Process(self.root, env=self.env, overrides=self.overrides, environ=self.environ)
            restarted = restart_in_place(self, fresh)
            if restarted and self.gc_settled:
                # NOTE: the old code's objects are frozen: unfreeze so its cycles go, freeze the new boot.
                settle_after_boot(self.config.general.gc_young_threshold)
            return restarted
        finally:
            self._restarting = False

    def _run_phase(self, phase: str, priority: str, initializers: list[Initializer], *, track: bool = False) -> None:
        assert self.api is not None
        for initializer in sorted(initializers, key=lambda item: getattr(item, priority)):
            try:
                getattr(initializer, phase)(self.api)
            except Exception as error:
                if track:
                    self.started.append(initializer)  # a half-started initializer gets its stop() too
                self._stopping = False
                self.stop()
                if isinstance(error, HeroError):
                    raise BootError(f"{initializer.name}: {error.message}") from error
                raise BootError(f"initializer {initializer.name} failed in {phase}: "
                                f"{type(error).__name__}: {error}") from error
            if track:
                self.started.append(initializer)

    def run_forever(self, on_ready: Callable[[Api], None] | None = None) -> int:
        """Start, then block until SIGINT, SIGTERM or SIGHUP (a second signal stops at once); 0 on a clean stop.
        SIGUSR2 restarts in place (:meth:`restart`).

        SIGHUP stops gracefully too: its default would end the process on the spot (a closed
        terminal, a stray ``kill -HUP``), dropping in-flight actions; hero has no config to reload
        and logs to stderr, so there is no file to reopen.
        """
        self.announces = on_ready is not None
        self.start()
        assert self.api is not None
        settle_after_boot(self.config.general.gc_young_threshold)
        self.gc_settled = True
        signals = 0

        def on_signal() -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                log.info("signal received; stopping (a second signal stops at once)")
                gevent.spawn(self.stop)
            else:
                log.warning("second signal; exiting now")
                os._exit(1)

        handlers = [gevent.signal_handler(number, on_signal)
                    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
        handlers.append(gevent.signal_handler(signal.SIGUSR2, lambda: gevent.spawn(self.restart)))
        # NOTE: the heap's free pages go back to the system once boot's temporaries are garbage, and
        # after each busy spell (of whichever api a restart in place built).
        trimmer = gevent.spawn(keep_trimmed, lambda: self.api.processor if self.api is not None else None)
        try:
            if on_ready is not None:
                on_ready(self.api)
            self.stopped.wait()
        finally:
            trimmer.kill()
            for handler in handlers:
                handler.cancel()
        return 0
