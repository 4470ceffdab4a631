"""The one loader of an app's code folders (``actions/``, ``tasks/``, ``initializers/``, plugins'),
and of action files into the registry (:func:`load_actions`, also what ``api.actions.reload()`` runs).

    for action_class, path in classes_below(Path("actions"), "actions", Action):
        registry.add(action_class, source=str(path))
"""
from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from hero.core.action import Action
from hero.core.sails import identity_of, sails_definition
from hero.core.sails.registry import SailsActionRegistry
from hero.errors import BootError, CodedError

T = TypeVar("T")
log = logging.getLogger(__name__)


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


def classes_in(module: ModuleType, base: type[T], *, named_only: bool = True) -> list[type[T]]:
    """The subclasses of ``base`` that ``module`` defines (not the ones it imports), in definition order.

    A value with a ``hero_action`` attribute stands for that class (the ``@action`` decorator returns
    the function, which carries the class it made). With ``named_only``, a class without a ``name``
    is a base for others and does not count.
    """
    found: list[type[T]] = []
    for value in vars(module).values():
        candidate = getattr(value, "hero_action", value)
        if (inspect.isclass(candidate) and issubclass(candidate, base) and candidate is not base
                and candidate.__module__ == module.__name__ and candidate not in found
                and (bool(getattr(candidate, "name", "")) or not named_only)):
            found.append(candidate)
    return found


def classes_below(directory: Path, namespace: str, base: type[T], *,
                  named_only: bool = True) -> Iterator[tuple[type[T], Path]]:
    """Every subclass of ``base`` defined in the ``.py`` files below ``directory``, with its file."""
    for module, path in iter_modules(directory, namespace):
        for found in classes_in(module, base, named_only=named_only):
            yield found, path


def load_actions(directories: Iterable[tuple[str, Path]], registry: SailsActionRegistry) -> None:
    """Every action file below each ``(namespace, directory)``: each Action class it defines, and its
    Sails-style action (a machine definition, or ``fn(req, res)``) under its path's identity. A file
    that fails, or whose definition is refused (E_CONFLICT, E_INVALID), fails naming the file."""
    for namespace, directory in directories:
        count = 0
        for module, path in iter_modules(directory, namespace):
            for action_class in classes_in(module, Action):
                registry.add(action_class, source=str(path))
                count += 1
            definition = sails_definition(module)
            if definition is not None:
                try:
                    registry._register(definition, identity_of(directory, path), force=False, source=str(path))
                except CodedError as error:
                    raise BootError(f"{path}: {error.message}") from error
                count += 1
        log.debug("loaded %d actions from %s", count, directory)
