"""Module attributes imported on first use (PEP 562), for a package whose names would otherwise bring
heavy or not-yet-patchable modules in with it.

    _LAZY = {"Exit": "hero.core.sails.machine"}
    __getattr__ = lazy_attributes(__name__, globals(), _LAZY)

The first read imports the module, keeps the value in the package's globals (later reads are plain
lookups) and returns it; any other missing name is an AttributeError, as usual.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, namespace: dict[str, Any], table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that takes each name of ``table`` from the module it maps to."""

    def __getattr__(name: str) -> Any:
        source = table.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        namespace[name] = value
        return value

    return __getattr__
