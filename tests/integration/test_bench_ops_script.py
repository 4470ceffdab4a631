"""scripts/bench-ops measures what metrics, tracing and the log line cost per action (bounded run)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import APP_ROOT


@pytest.mark.timeout(120)
def test_bench_ops_prints_a_cost_per_setup():
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HERO_") and key != "REDIS_URL"}
    result = subprocess.run([sys.executable, f"{APP_ROOT}/scripts/bench-ops", "--rounds", "300", "--repeats", "1"],
                            cwd=APP_ROOT, env=environment, capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, result.stderr
    rows = {match[1].strip(): float(match[2]) for match in
            re.finditer(r"^(\S.*?)\s+(\d+\.\d+)\s+[+-]\d+\.\d+$", result.stdout, re.M)}
    assert set(rows) == {"bare pipeline (no log line)", "+ metrics", "+ OpenTelemetry span, no SDK",
                         "+ info log line, text", "+ info log line, json"}
    assert all(value > 0 for value in rows.values())
