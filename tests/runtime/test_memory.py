"""hero.runtime.memory: redis-py imported without OpenTelemetry's metrics SDK, werkzeug's package
__init__ deferred, and the heap trimmed."""
from __future__ import annotations

import subprocess
import sys

from hero.runtime.memory import trim_heap

SCRIPT = """
import sys
from hero.runtime.memory import REDIS_OTEL_PROBES, import_redis
import_redis()
import redis
loaded = [name for name in REDIS_OTEL_PROBES if name in sys.modules]
from opentelemetry import metrics  # still importable afterwards
print(loaded, metrics.get_meter_provider() is not None)
"""


def test_import_redis_skips_the_otel_metrics_sdk_and_leaves_it_importable():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True"]


def test_trim_heap_runs_once_more_without_harm():
    assert trim_heap() in (True, False)
    assert trim_heap() in (True, False)


DEFERRED = """
import sys
from hero.runtime.memory import DeferredPackage, import_redis
import_redis()
import redis
deferred = isinstance(sys.modules["redis.asyncio"], DeferredPackage)
assert redis.Redis.from_url(sys.argv[1]).ping()
from redis.asyncio import Redis  # first use: the real package runs
import redis.asyncio
print(deferred, Redis.__module__, isinstance(sys.modules["redis.asyncio"], DeferredPackage),
      redis.asyncio.Redis is Redis, redis.asyncio.observability.recorder.__name__)
"""


def test_import_redis_defers_redis_asyncio_until_it_is_used(redis_url):
    done = subprocess.run([sys.executable, "-c", DEFERRED, redis_url], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "redis.asyncio.client", "False", "True",
                                   "redis.asyncio.observability.recorder"]


def test_keep_trimmed_trims_after_boot_then_only_after_a_busy_spell_is_over(monkeypatch):
    import gevent

    from hero.runtime import memory

    calls: list[int] = []
    monkeypatch.setattr(memory, "TRIM_AFTER", 0.0)
    monkeypatch.setattr(memory, "trim_heap", lambda generation=2: calls.append(generation) or True)

    class Processor:
        in_flight = 0
        finished = 0

    processor = Processor()
    trimmer = gevent.spawn(memory.keep_trimmed, lambda: processor, 0.02)
    try:
        gevent.sleep(0.1)
        assert calls == [2]  # once after boot, with a full collection; idle since: nothing more
        processor.finished, processor.in_flight = 5, 1
        gevent.sleep(0.1)
        assert calls == [2]  # busy: an action is running
        processor.in_flight = 0
        gevent.sleep(0.1)
        assert calls == [2, 1]  # the spell is over: one trim, young generations only
    finally:
        trimmer.kill()


WERKZEUG = """
import sys
from hero.runtime.memory import DeferredPackage, lean_imports
lean_imports()
import werkzeug.routing, werkzeug.http  # what hero imports: submodules only
from werkzeug import exceptions  # a submodule through the package, as werkzeug's own modules ask
skipped = [name for name in ("werkzeug.serving", "werkzeug.test") if name in sys.modules]
still_deferred = isinstance(sys.modules["werkzeug"], DeferredPackage)
import werkzeug
from werkzeug import Response  # a name of the real __init__: it runs now
real = sys.modules["werkzeug"]
print(skipped, still_deferred, exceptions.__name__, Response.__module__, "werkzeug.serving" in sys.modules,
      werkzeug.run_simple is real.run_simple, real.routing is werkzeug.routing, werkzeug.Response is Response)
"""


def test_lean_imports_defers_werkzeugs_init_until_a_name_of_it_is_used():
    done = subprocess.run([sys.executable, "-c", WERKZEUG], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "True", "werkzeug.exceptions", "werkzeug.wrappers.response", "True",
                                   "True", "True", "True"]


def test_defer_init_leaves_an_imported_or_absent_package_alone():
    from hero.runtime.memory import defer_init

    assert defer_init("json") is False  # imported already
    assert defer_init("no_such_package_here") is False
    assert "no_such_package_here" not in sys.modules
