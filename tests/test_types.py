"""hero/ stays type-checked: mypy with the repository's mypy.ini finds nothing."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.support.apps import APP_ROOT
from tests.support.needs import missing_under_ci


@pytest.mark.timeout(300)
def test_mypy_finds_no_errors_in_hero(tmp_path):
    if importlib.util.find_spec("mypy") is None:
        missing_under_ci("mypy is not installed; it is in the [test] extras")
    result = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")], cwd=APP_ROOT,
                            capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr
