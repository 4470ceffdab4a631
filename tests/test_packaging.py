"""hero as a user installs it: the sdist and the wheel build, install into a clean venv, and run
`hero --version` and `hero generate project` (dependencies come from pip's configured index or cache)."""
from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import hero

REPO = Path(__file__).resolve().parent.parent


def run(*command: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    result = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.timeout(900)
def test_the_sdist_and_the_wheel_build_and_install_into_a_clean_venv(tmp_path):
    dist = tmp_path / "dist"
    # NOTE: the wheel is built from the sdist (python -m build's default), so a file the sdist
    # forgets fails here too.
    run(sys.executable, "-m", "build", "--outdir", dist, REPO, timeout=600)
    [sdist] = dist.glob("hero-*.tar.gz")
    [wheel] = dist.glob("hero-*.whl")
    assert sdist.name == f"hero-{hero.__version__}.tar.gz"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for packaged in ("hero/py.typed", "hero/builtin_actions/swagger.py", "hero/builtin_actions/asyncapi.py",
                     "hero/pytest_plugin.py"):
        assert packaged in names
    assert not any(name.startswith(("tests/", "actions/")) for name in names)
    with tarfile.open(sdist) as archive:
        assert f"hero-{hero.__version__}/CHANGELOG.md" in archive.getnames()

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    for package in (wheel, sdist):
        run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--force-reinstall", package, timeout=600)
        assert run(venv / "bin" / "hero", "--version") == f"hero {hero.__version__}\n"
        project = tmp_path / f"shop-{package.suffix.strip('.')}"
        run(venv / "bin" / "hero", "generate", "project", project, cwd=tmp_path)
        assert (project / "conftest.py").is_file() and (project / "actions" / "status.py").is_file()
        listed = run(venv / "bin" / "hero", "--root", project, "actions", cwd=tmp_path)
        assert "status" in listed
