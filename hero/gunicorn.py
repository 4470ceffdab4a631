"""Run hero under gunicorn, one hero process per worker:

    gunicorn -k hero.gunicorn.Worker -w 4 -b 127.0.0.1:8080 hero.gunicorn:app

The app folder is the current directory (``--chdir``) or ``HERO_ROOT``; processes share chat,
cache and tasks through ``REDIS_URL``. Each worker serves HTTP and WebSockets with hero's own
strict handler on gunicorn's listener, and its own TCP server: with several workers they share the
TCP port through SO_REUSEPORT (the kernel spreads connections), which hero turns on only here, where
sharing is the intent (``hero start`` keeps it off so that two servers never silently share a port).

On SIGTERM gunicorn stops accepting and drains HTTP; hero answers new actions on open connections
with 503, lets WebSockets and TCP clients finish their actions, closes them (1001, the goodbye line),
then stops every initializer: all within gunicorn's ``graceful_timeout`` (see :func:`drain_budget`).

Metrics (docs/deployment.md, Metrics): unless ``PROMETHEUS_MULTIPROC_DIR`` is set, the master makes a
fresh folder for it as it sets up (removed when the master exits), so that every worker writes its values there and
a scrape of ``/metrics`` on any worker reports them all.
"""
from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventPyWSGIWorker

from hero.runtime.collector import settle_after_boot
from hero.runtime.memory import keep_trimmed, lean_imports

log = logging.getLogger(__name__)


def share_metrics(environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """In gunicorn's master, before the workers fork: a fresh ``PROMETHEUS_MULTIPROC_DIR`` for them all
    (unless one is set, or prometheus-client is not installed); the folder, or None."""
    if environ.get("PROMETHEUS_MULTIPROC_DIR") or importlib.util.find_spec("prometheus_client") is None:
        return None
    directory = environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="hero-metrics-")
    master = os.getpid()

    def remove() -> None:
        if os.getpid() == master:  # NOTE: forked workers inherit the atexit hook; only the master removes
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
    return directory



def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Only a placeholder for gunicorn's APP_MODULE argument: ``hero.gunicorn.Worker`` serves the real app."""
    start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
    return [b"run gunicorn with -k hero.gunicorn.Worker\n"]


def gunicorn_server_class() -> type:
    """hero's WSGIServer built the way gunicorn's gevent worker builds its servers.

    NOTE: made in the worker after it has monkey-patched: gunicorn's master imports this module to
    find ``Worker``, and importing hero's handler there would load redis and ssl unpatched into every
    worker it forks (gevent's MonkeyPatchWarning at each start) and weigh down the master.
    """
    from hero.servers.http.handler import HeroWSGIServer

    class GunicornServer(HeroWSGIServer):
        def __init__(self, listener: Any, application: Any, *, spawn: Any, log: Any = None,
                     handler_class: Any = None, environ: dict[str, Any] | None = None, **ssl_args: Any) -> None:
            web = application.web
            super().__init__(listener, application, web=web, spawn=spawn, **ssl_args)
            if environ:
                self.environ.update(environ)
            web.attach(self)

    return GunicornServer


class Worker(GeventPyWSGIWorker):
    """gunicorn's gevent worker, serving a booted hero app."""

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        # NOTE: gunicorn's arbiter calls this in the master while it sets up, before any worker forks
        # (and only there: importing this module changes nothing).
        directory = share_metrics()
        if directory is not None:
            log.info("hero: workers share their metrics in %s", directory)

    def load_wsgi(self) -> None:
        # NOTE: GeventWorker.init_process has monkey-patched by now; hero boots after that, here,
        # with redis-py imported first the way the CLI imports it (issue 17: each worker's memory).
        lean_imports()
        from hero.process import Process, build_web_server
        from hero.servers.http.handler import HeroHandler

        self.server_class = gunicorn_server_class()
        self.wsgi_handler = HeroHandler

        root = os.environ.get("HERO_ROOT") or os.getcwd()
        overrides: dict[str, Any] = {"web": {"enabled": False}}
        if self.cfg.workers > 1:
            overrides["socket"] = {"reuse_port": True}
        self.hero = Process(root, overrides=overrides)
        api = self.hero.start()
        self.web = build_web_server(api)
        api.servers["web"] = self.web
        if self.web.websocket is not None:
            self.web.websocket.start()
        self.wsgi = self.web.app
        settle_after_boot(api.config.general.gc_young_threshold)
        self.hero.gc_settled = True
        gevent.spawn(self._drain_on_shutdown)
        gevent.spawn(keep_trimmed, lambda: api.processor)

    def _drain_on_shutdown(self) -> None:
        # NOTE: gunicorn drains only its own HTTP pool; WebSockets, TCP clients and in-flight
        # actions are ours. They all drain at once, within a share of graceful_timeout: the arbiter
        # kills a worker still running at graceful_timeout, and hero's own stop comes after.
        while self.alive:
            gevent.sleep(0.2)
        api = self.hero.api
        if api is None:
            return
        api.processor.stopping = True
        self.web.stopping = True
        budget = drain_budget(float(self.cfg.graceful_timeout), api.config.general.shutdown_timeout)
        stopping = []
        if self.web.websocket is not None:
            stopping.append(gevent.spawn(self.web.websocket.stop, budget))
        tcp = api.servers.get("socket")
        if tcp is not None:
            stopping.append(gevent.spawn(tcp.stop, budget))
        gevent.joinall(stopping)

    def run(self) -> None:
        try:
            super().run()
        finally:
            if self.hero.api is not None:
                self.hero.api.servers.pop("web", None)
            self.hero.stop()


def drain_budget(graceful_timeout: float, shutdown_timeout: float) -> float:
    """Seconds WebSockets and TCP clients get to drain under gunicorn: ``general.shutdown_timeout``,
    but at most 60% of ``graceful_timeout`` (the rest covers the closing handshakes, gunicorn's own
    once-a-second drain check and hero's stop)."""
    return max(0.1, min(shutdown_timeout, graceful_timeout * 0.6))
