"""The Autobahn testsuite (reliability.md row W1) against hero's WebSocket I/O, as an echo server.

Autobahn's ``wstest`` is Python 2 code; install it outside the project and point ``WSTEST`` at it:

    $(pyenv prefix 2.7.18)/bin/python -m pip install virtualenv
    $(pyenv prefix 2.7.18)/bin/python -m virtualenv /tmp/autobahn
    /tmp/autobahn/bin/pip install autobahntestsuite==0.8.2
    WSTEST=/tmp/autobahn/bin/wstest python -m pytest tests/servers/websocket/test_websocket_autobahn.py

Cases 1–7 and 10 (247 cases, ~10 s). Without ``WSTEST`` (or ``wstest`` on the PATH) the test skips.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from hero.servers.websocket.events import MessageRouter
from hero.servers.websocket.session import WebSocketSession
from tests.support.ws import WsHero

WSTEST = os.environ.get("WSTEST") or shutil.which("wstest")


def echo(router: MessageRouter, raw: bytes, text: bool = True) -> None:
    router.session.send_frame(raw, text=text)


@pytest.mark.skipif(not WSTEST, reason="Autobahn's wstest is not installed (set WSTEST=<path>; see this module)")
@pytest.mark.timeout(180)
def test_autobahn_cases_pass(ws_hero: Callable[..., WsHero], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MessageRouter, "handle", echo)
    monkeypatch.setattr(WebSocketSession, "push", lambda session, message: True)  # no welcome: a bare echo
    hero = ws_hero({"max_message_bytes": 16 * 1024 * 1024, "max_queued_bytes": 64 * 1024 * 1024})
    spec = {"outdir": str(tmp_path / "reports"), "servers": [{"agent": "hero", "url": hero.url}],
            "cases": ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"],
            "exclude-cases": [], "exclude-agent-cases": {}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run([str(WSTEST), "-m", "fuzzingclient", "-s", "spec.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "reports" / "index.json").read_text())["hero"]
    failed = {case: (result["behavior"], result["behaviorClose"]) for case, result in results.items()
              if result["behavior"] in ("FAILED", "UNIMPLEMENTED")
              or result["behaviorClose"] not in ("OK", "INFORMATIONAL")}
    assert failed == {}
    assert len(results) == 247
    counts = Counter(result["behavior"] for result in results.values())
    assert counts["OK"] >= 240, counts
