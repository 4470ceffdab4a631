"""Import every Python file of an app folder (``actions/``, ``tasks/``, ``initializers/``)."""
from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from hero.errors import BootError


def iter_modules(directory: Path, namespace: str) -> Iterator[tuple[ModuleType, Path]]:
    """Yield each ``.py`` file below ``directory`` (recursively, sorted) as an imported module.

    Modules get unique names (``hero_app.actions.sub.file``) so that two files with one name in
    different folders never shadow each other. A file that fails to import fails the boot,
    naming the file.
    """
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*.py")):
        if any(part.startswith((".", "_")) and part != "__init__.py" for part in path.relative_to(directory).parts):
            continue
        relative = path.relative_to(directory).with_suffix("")
        module_name = ".".join(("hero_app", namespace, *relative.parts))
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            sys.modules.pop(module_name, None)
            raise BootError(f"{path} failed to load: {type(error).__name__}: {error}") from error
        yield module, path
