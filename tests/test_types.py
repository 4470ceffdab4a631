"""hero/ stays type-checked: mypy with the repository's mypy.ini finds nothing."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.apps import APP_ROOT


@pytest.mark.timeout(300)
def test_mypy_finds_no_errors_in_hero(tmp_path):
    pytest.importorskip("mypy", reason="mypy is in the [test] extras")
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")], cwd=APP_ROOT,
                            capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr
