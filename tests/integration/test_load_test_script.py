"""scripts/load-test against a live hero: every transport answers, nothing fails, and it refuses non-loopback."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.apps import APP_ROOT

SCRIPT = f"{APP_ROOT}/scripts/load-test"


@pytest.mark.timeout(60)
def test_load_test_reports_replies_on_every_transport(boot_hero):
    api = boot_hero()
    host, port = api.servers["socket"].address
    result = subprocess.run(
        [sys.executable, SCRIPT, "--web", api.servers["web"].url, "--socket", f"{host}:{port}",
         "--clients", "5", "--seconds", "1", "--json"],
        capture_output=True, text=True, timeout=45,
    )
    # NOTE: the server runs in this test's process, so it only serves while we wait without blocking the hub
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert {entry["transport"] for entry in report["transports"]} == {"http", "websocket", "tcp"}
    for entry in report["transports"]:
        assert entry["replies"] > 0 and entry["errors"] == 0


def test_load_test_refuses_a_non_loopback_target():
    result = subprocess.run([sys.executable, SCRIPT, "--web", "http://192.0.2.1:8080", "--seconds", "1"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "not a loopback address" in result.stderr
