"""The walls of hero's house: the import-linter contracts hold, they would catch a crossing, no
import cycle exists (type-checking imports included), and no module outgrows 400 lines."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                                      "sys.exit(lint_imports_command())"]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)})


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_a_crossing_breaks_the_contracts(tmp_path: Path) -> None:
    # NOTE: a copy of hero whose pipeline imports gevent and whose TCP server imports the web server:
    # both walls must report it, naming the offending import.
    shutil.copytree(ROOT / "hero", tmp_path / "hero", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    connection = tmp_path / "hero" / "core" / "connection.py"
    connection.write_text(connection.read_text() + "\nimport gevent  # a crossing\n")
    client = tmp_path / "hero" / "servers" / "socket" / "server.py"
    client.write_text(client.read_text() + "\nimport hero.servers.http.server  # a crossing\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "the pipeline (hero.core) imports no gevent, greenlet, redis or rq BROKEN" in result.stdout
    assert "hero.core.connection -> gevent" in result.stdout
    assert "the transports do not import one another BROKEN" in result.stdout
    assert "hero.servers.socket.server -> hero.servers.http.server" in result.stdout


def import_cycles(package: str) -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), counting every import grimp sees, including
    the ones under ``if TYPE_CHECKING:`` and inside functions."""
    graph = grimp.build_graph(package, include_external_packages=False)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles() -> None:
    assert import_cycles("hero") == []


def test_no_module_over_400_lines() -> None:
    sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in (ROOT / "hero").rglob("*.py")}
    assert {path: lines for path, lines in sizes.items() if lines > 400} == {}
