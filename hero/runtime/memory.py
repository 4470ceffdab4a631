"""An idle process's memory (issue 17): what the entry points do so that a server holds only what it uses.

    lean_imports()   # at an entry point, right after gevent patches: redis-py without OpenTelemetry's
                     # metrics SDK, redis.asyncio and werkzeug's package __init__ deferred to first use
    trim_heap()      # once the process is up: give the C heap's free pages back to the system
    keep_trimmed(lambda: api.processor)  # a greenlet: that once after boot, then after each busy spell

Measured with ``scripts/bench rss``; ``tests/integration/test_idle_memory.py`` keeps a bound on it.
"""
from __future__ import annotations

import gc
import importlib
import importlib.machinery
import importlib.util
import logging
import sys
import types
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: What redis-py's ``redis.observability`` imports at module level only to learn whether OpenTelemetry's
#: metrics are installed (``OTEL_AVAILABLE``): the metrics API and SDK, with psutil, ctypes and more.
REDIS_OTEL_PROBES = ("opentelemetry.metrics", "opentelemetry.sdk.metrics")
#: Seconds after a server is ready that it trims its heap: by then the first rounds of the scheduler
#: and the cluster have run, and their temporaries are garbage.
TRIM_AFTER = 2.0
#: Seconds between two looks for a finished busy spell (see :func:`keep_trimmed`).
TRIM_INTERVAL = 5.0


class Busy(Protocol):
    """What :func:`keep_trimmed` reads of the action processor."""

    in_flight: int
    finished: int


class DeferredPackage(types.ModuleType):
    """A package whose ``__init__`` runs on first attribute use, not when its parent imports it.

    redis-py's ``__init__`` imports ``redis.asyncio`` (~1.1 MiB: the asyncio client, cluster, sentinel,
    pipelines...) for a sync client like hero's. This stands in for it in ``sys.modules`` until an
    attribute is read (``redis.asyncio.Redis``): then the real package is imported and answers. Its
    submodules import as usual meanwhile (``__path__`` is the real one), so redis-py's own
    ``from redis.asyncio.observability.recorder import ...`` works without running the package.
    """

    def __init__(self, name: str, path: list[str]) -> None:
        super().__init__(name)
        self.__path__ = path
        self.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        self.__spec__.submodule_search_locations = path

    def __repr__(self) -> str:
        return f"<deferred package {self.__name__!r}>"

    def __getattr__(self, name: str) -> Any:
        # NOTE: reached only for what the stand-in lacks: everything but the submodules imported so far.
        if not name.startswith("__") and importlib.machinery.PathFinder.find_spec(
                f"{self.__name__}.{name}", self.__path__) is not None:
            # NOTE: a submodule (`from werkzeug import http` inside werkzeug itself asks the package
            # first): import just it, as the real package would have it, without running __init__.
            return importlib.import_module(f"{self.__name__}.{name}")
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        for key, value in vars(self).items():
            if isinstance(value, types.ModuleType) and not hasattr(real, key):
                setattr(real, key, value)
        # NOTE: whoever holds the stand-in (`import werkzeug` before this) reads the real names
        # directly from now on, not through this method and its submodule search.
        vars(self).update(vars(real))
        return getattr(real, name)


def defer_init(package: str) -> bool:
    """Put a :class:`DeferredPackage` in ``sys.modules`` for ``package``, so importing its submodules
    does not run its ``__init__``; False (and nothing done) when it is imported already or absent.

    werkzeug's ``__init__`` imports its development server and test client (``werkzeug.serving``,
    ``werkzeug.test``: http.server, html and more, ~0.9 MiB of an idle process) only to offer
    ``werkzeug.run_simple`` and ``werkzeug.Client``; hero imports ``werkzeug.routing``,
    ``werkzeug.http`` and the like, never those. ``from werkzeug import Response`` still works (the
    real package runs then)."""
    if package in sys.modules:
        return False
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return False
    sys.modules[package] = DeferredPackage(package, list(spec.submodule_search_locations))
    return True


def lean_imports() -> None:
    """What an entry point calls right after gevent patches, before anything imports redis or
    werkzeug: :func:`import_redis`, and werkzeug's ``__init__`` deferred (:func:`defer_init`)."""
    import_redis()
    defer_init("werkzeug")


def import_redis() -> None:
    """Import redis-py with its OpenTelemetry metrics probes answered "not installed", and its
    asyncio package deferred (:class:`DeferredPackage`).

    redis-py 7+ imports OpenTelemetry's metrics SDK whenever it is installed (hero[otel] installs
    the API, test and production images often the SDK), ~2.5 MiB of an idle process, for a feature
    hero never turns on (redis-py's own OTel metrics: hero counts its Redis errors in its Prometheus
    metrics and traces its actions itself). The probes see an absent module only while redis is first
    imported; everything imports them normally afterwards (hero's tracing, an app's own metrics).
    A no-op once redis is imported, or for a probe something imported already.
    """
    if "redis" in sys.modules:
        return
    hidden = [name for name in REDIS_OTEL_PROBES if name not in sys.modules]
    for name in hidden:
        # NOTE: None in sys.modules makes `import name` raise ImportError (the import system's own
        # convention for a blocked module), which redis-py catches as "not installed".
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        # NOTE: find_spec("redis.asyncio") imports the redis package itself: find the folder by hand.
        redis_spec = importlib.util.find_spec("redis")
        if redis_spec is not None and redis_spec.submodule_search_locations:
            folder = list(redis_spec.submodule_search_locations)
            sys.modules["redis.asyncio"] = DeferredPackage("redis.asyncio", [f"{path}/asyncio" for path in folder])
        import redis  # noqa: F401  # NOTE: imported here, on purpose, while the probes are hidden
    finally:
        if "redis" not in sys.modules and isinstance(sys.modules.get("redis.asyncio"), DeferredPackage):
            del sys.modules["redis.asyncio"]  # redis failed to import: leave no stand-in behind
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def keep_trimmed(processor: Callable[[], Busy | None], interval: float = TRIM_INTERVAL) -> None:
    """Run as a greenlet for the life of a server: :func:`trim_heap` once boot is over, then a
    ``malloc_trim`` whenever actions finished since the last look and none runs now. A load's
    buffers and greenlet stacks are freed when it ends, but glibc keeps their pages (~1 MiB after
    ``wrk -c50``); a trim costs well under a millisecond, and only after activity."""
    # NOTE: lazy: this module is imported by the entry points before gevent's hub is needed.
    import gevent

    gevent.sleep(TRIM_AFTER)
    trim_heap()
    seen = -1
    while True:
        gevent.sleep(interval)
        current = processor()
        if current is None:
            continue
        if seen == -1:
            seen = current.finished
        elif current.finished != seen and current.in_flight == 0:
            seen = current.finished
            # NOTE: the young generations only (~1 ms): a full collection takes ~35 ms of the hub.
            trim_heap(generation=1)


def trim_heap(generation: int = 2) -> bool:
    """Collect garbage up to ``generation``, then hand the C heap's free pages back to the system
    (glibc's ``malloc_trim``); False where there is no glibc. Boot frees much (config merging,
    imports' temporaries) that glibc otherwise keeps."""
    gc.collect(generation)
    if not sys.platform.startswith("linux"):
        return False
    # NOTE: lazy: ctypes is needed only here, once, after boot (rq imports it anyway when tasks run).
    import ctypes

    try:
        # NOTE: CDLL(None) is the process's own symbols, libc's among them: no library search (which
        # would run ldconfig in a subprocess).
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # NOTE: musl (Alpine) has no malloc_trim
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return bool(trim(0))
