"""Shared fixtures. gevent is patched here, first, as at every entry point.

tests/ mirrors hero/: core/, runtime/, services/, tasks/, cli/, builtin_actions/ and servers/{http,
websocket,socket}/ test those packages in this process; integration/ runs several hero processes,
subprocesses or network namespaces; browser/ drives Chromium; the repository-wide checks (layers,
types, docs, README, published names) and the tests of hero/config.py and hero/process.py sit at
the top. What the tests share is imported from tests/support/; fixtures live in conftest.py files.
"""
from gevent import monkey

monkey.patch_all()

import ssl  # noqa: E402
import sys  # noqa: E402

# NOTE: pytest imports its entry-point plugins (schemathesis: requests, urllib3) before this file,
# so urllib3 kept the unpatched SSLContext, and an HTTPS request from a test (tests/servers/http/
# test_web_tls.py) would recurse in ssl.py. Point urllib3 at gevent's SSLContext.
for _name in ("urllib3.util.ssl_", "urllib3.util", "urllib3.connection"):
    if getattr(sys.modules.get(_name), "SSLContext", None) is not None:
        sys.modules[_name].SSLContext = ssl.SSLContext  # type: ignore[attr-defined]

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402
import redis  # noqa: E402

from hero.services.store import RedisSettings, RedisStore  # noqa: E402
from tests.support.apps import APP_ROOT  # noqa: E402
from tests.support.needs import REDIS_URL, require_redis  # noqa: E402
from tests.support.processes import Processes  # noqa: E402


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis URL, its database flushed before and after the test."""
    require_redis()
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(params=["redis", "embedded"])
def store(request: pytest.FixtureRequest) -> Iterator[RedisStore]:
    """A RedisStore on the real Redis (flushed) and on the embedded store: run a suite on both."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        built = RedisStore(RedisSettings(url=url))
    else:
        built = RedisStore(RedisSettings(url=None))
    yield built
    built.close()


@pytest.fixture
def boot_hero(request: pytest.FixtureRequest) -> Iterator:
    """Return ``boot(overrides=None, redis=False, environ=None) -> Api``: the example app in the test
    environment with every enabled server on a free loopback port (port 0). ``redis=True`` uses the
    real Redis at REDIS_URL (flushed); otherwise the embedded store. Everything booted is stopped after
    the test."""
    from hero.config import merge
    from hero.process import Process

    processes: list[Process] = []

    def boot(overrides: dict | None = None, *, redis: bool = False, environ: dict | None = None):
        layers: dict = {"web": {"port": 0}, "socket": {"port": 0}, "general": {"shutdown_timeout": 2.0}}
        if redis:
            layers["redis"] = {"url": request.getfixturevalue("redis_url")}
        layers = merge(layers, overrides or {})
        process = Process(APP_ROOT, env="test", overrides=layers, environ=environ or {})
        processes.append(process)
        return process.start()

    yield boot
    for process in reversed(processes):
        process.stop()


@pytest.fixture
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    """``processes.start(argv, env=..., cwd=..., ready=...) -> Subprocess``: programs the test runs (a
    hero, a worker, gunicorn), their output in log files; each still running is stopped after the test
    (SIGTERM, then SIGKILL for it and its children). Ask for ``redis_url`` first when they use Redis:
    they are then stopped before it is flushed."""
    started = Processes(tmp_path_factory.mktemp("processes"))
    yield started
    started.stop_all()
