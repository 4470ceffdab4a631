"""Helpers of the browser tests: the example app started as a newcomer starts it, pages that record
their requests, and screenshots under ``tests/artifacts/browser/`` (``HERO_TEST_ARTIFACTS`` moves them)."""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import APP_ROOT, free_port
from tests.support.processes import Subprocess, clean_env, hero_command, http_ok

#: Where the screenshots and server logs of these tests go.
ARTIFACTS = Path(os.environ.get("HERO_TEST_ARTIFACTS") or Path(APP_ROOT, "tests", "artifacts")) / "browser"

#: Chromium's flags: quiet on a closed network (no background fetches, no QUIC, no GPU).
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-features=Translate,MediaRouter"]


def missing(message: str) -> None:
    """Skip on a laptop; fail under CI=true, where every tool must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class DevHero:
    """``python -m hero start`` from the repository, in the development environment, on free ports."""

    #: The app folder (``hero --root``); the repository's example app by default.
    root: str = APP_ROOT
    port: int = field(default_factory=free_port)
    socket_port: int = field(default_factory=free_port)
    name: str = "hero"
    process: Subprocess | None = None
    starts: int = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def log_path(self) -> Path:
        return ARTIFACTS / f"{self.name}.log"

    def environment(self) -> dict[str, str]:
        # NOTE: no HERO_ENV and no REDIS_URL, as on a newcomer's machine: development, embedded store.
        return clean_env(PORT=str(self.port), HERO_SOCKET_PORT=str(self.socket_port))

    def start(self, timeout: float = 20.0) -> DevHero:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_path.open("a") as log:
            log.write(f"--- start {self.starts}\n")
        self.process = Subprocess(hero_command("start", root=self.root), log=self.log_path, cwd=self.root,
                                  env=self.environment())
        self.process.wait_for_line("hero ready", timeout)
        self.process.wait_until(lambda: http_ok(f"{self.origin}/healthz"), timeout,
                                what=f"hero answers on {self.origin}")
        assert "(env development" in self.log_tail(), self.log_tail()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(15)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Pages:
    """Opens pages of one server, each in its own browser context (its own cookies), and records every
    request they make, so a test can say that nothing came from outside the server."""

    browser: Any
    origin: str
    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def open(self, path: str, *, width: int = 1000, height: int = 760, mobile: bool = False) -> Any:
        """A new page at ``path``, in a context of its own."""
        context = self.browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile,
                                           has_touch=mobile, device_scale_factor=2 if mobile else 1)
        self.contexts.append(context)

        def route(handle: Any) -> None:
            url = handle.request.url
            self.requests.append(url)
            # NOTE: pages are never fulfilled from here: Chromium treats a page that did not come from
            # the network as public, and blocks its WebSocket to loopback (local network access checks).
            if not url.startswith((self.origin + "/", "data:", "blob:")):
                self.outside.append(url)
                handle.abort()
            else:
                handle.continue_()

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.goto(self.origin + path)
        return page

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as ``<ARTIFACTS>/<name>.png`` and return the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def app_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """A copy of the example app (its config, actions, public/ ...) with ``files`` added."""
    root = tmp_path / "app"
    shutil.copytree(APP_ROOT, root, ignore=shutil.ignore_patterns(
        ".git", ".venv", "tests", "hero", "scripts", "*.egg-info", "__pycache__", "log", "pids", "tmp"))
    for path, text in files.items():
        (root / path).write_text(text)
    return root
