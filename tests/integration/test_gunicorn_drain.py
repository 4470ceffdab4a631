"""Under gunicorn the worker's whole drain fits in ``graceful_timeout`` (issue 15): an action that
outlives it does not get the worker killed; every client is told and the worker exits by itself."""
from __future__ import annotations

import json
import signal
import time

import pytest

from tests.integration.test_hostile_both_modes import GRACEFUL, _start, _tcp, frame, ws_close_code, ws_connect

pytestmark = pytest.mark.timeout(60)


def test_an_action_longer_than_graceful_timeout_does_not_get_the_worker_killed(tmp_path) -> None:
    live = _start("gunicorn", str(tmp_path))
    try:
        tcp, readline = _tcp(live.tcp)
        tcp.sendall(b'{"action": "sleepTest", "params": {"sleepDuration": 20000}}\n')
        ws, _ = ws_connect(live.web)
        ws.sendall(frame(1, json.dumps({"event": "action", "params": {"action": "sleepTest",
                                                                      "sleepDuration": 20000}}).encode()))
        time.sleep(0.5)
        stopped_at = time.monotonic()
        live.process.send_signal(signal.SIGTERM)
        assert readline() == b'{"status":"Bye!","context":"api"}\r\n'  # told, within the budget
        assert ws_close_code(ws) == 1001
        assert live.process.wait(GRACEFUL + 5) == 0
        took = time.monotonic() - stopped_at
        errors = live.process.stderr.read() if live.process.stderr else ""
        assert "SIGKILL" not in errors and "graceful timeout" not in errors.lower(), errors[-2000:]
        assert took < GRACEFUL + 0.5, f"the drain took {took:.1f}s"
    finally:
        if live.process.poll() is None:
            live.process.kill()
        live.process.wait(10)
