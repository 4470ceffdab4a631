"""What a test needs from the machine: the test Redis, a program on the PATH. Missing, the test skips (on a
laptop) or fails (under CI=true, where everything must be there)."""
from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest
import redis

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
