"""Shared fixtures. gevent is patched here, first, as at every entry point."""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import shutil  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import NoReturn  # noqa: E402

import pytest  # noqa: E402
import redis  # noqa: E402

from hero.services.store import RedisSettings, RedisStore  # noqa: E402

#: Tests use their own database, flushed around each test.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")


def missing_under_ci(message: str) -> NoReturn:
    """Skip (on a laptop) or fail (under CI=true, where .ci/run installs every tool these tests need)."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_redis(url: str = REDIS_URL) -> None:
    """Skip (on a laptop) or fail (under CI=true) when no Redis answers at ``url``."""
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.exceptions.RedisError as error:
        missing_under_ci(f"no Redis answers at {url} ({error}); start one with `redis-server`")


def require_tool(name: str, hint: str = "") -> str:
    """The path of program ``name``; skip (on a laptop) or fail (under CI=true) when it is missing."""
    path = shutil.which(name)
    if path is None:
        missing_under_ci(f"{name} is not installed" + (f"; {hint}" if hint else ""))
    return path


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


#: The example app at the repository root: what the tests boot.
APP_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
