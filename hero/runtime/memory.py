"""An idle process's memory (issue 17): what the entry points do so that a server holds only what it uses.

    import_redis()   # at an entry point, right after gevent patches: redis-py without OpenTelemetry's metrics SDK
    trim_heap()      # once the process is up: give the C heap's free pages back to the system

Measured with ``scripts/bench rss``; ``tests/integration/test_idle_memory.py`` keeps a bound on it.
"""
from __future__ import annotations

import gc
import logging
import sys

log = logging.getLogger(__name__)

#: What redis-py's ``redis.observability`` imports at module level only to learn whether OpenTelemetry's
#: metrics are installed (``OTEL_AVAILABLE``): the metrics API and SDK, with psutil, ctypes and more.
REDIS_OTEL_PROBES = ("opentelemetry.metrics", "opentelemetry.sdk.metrics")
#: Seconds after a server is ready that it trims its heap: by then the first rounds of the scheduler
#: and the cluster have run, and their temporaries are garbage.
TRIM_AFTER = 2.0


def import_redis() -> None:
    """Import redis-py with its OpenTelemetry metrics probes answered "not installed".

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
        import redis  # noqa: F401  # NOTE: imported here, on purpose, while the probes are hidden
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def trim_heap() -> bool:
    """Collect garbage, then hand the C heap's free pages back to the system (glibc's
    ``malloc_trim``); False where there is no glibc. Boot frees much (config merging, imports'
    temporaries) that glibc otherwise keeps mapped for good."""
    gc.collect()
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
