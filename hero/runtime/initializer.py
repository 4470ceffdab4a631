"""Initializers: the lifecycle (initialize → start → stop) of every part of a hero process.

hero's own parts are initializers; an app adds its own in ``initializers/``. Within a phase they
run by ascending priority; stop runs by ascending ``stop_priority`` (hero's servers stop first,
Redis last).
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from hero.errors import BootError
from hero.runtime.loader import iter_modules

if TYPE_CHECKING:
    from hero.process import Api


class Initializer:
    """Subclass and override any of ``initialize``, ``start``, ``stop``."""

    name: ClassVar[str] = ""
    load_priority: ClassVar[float] = 1000
    start_priority: ClassVar[float] = 1000
    stop_priority: ClassVar[float] = 1000

    def initialize(self, api: Api) -> None:
        """Build what others need (``api.x = ...``); nothing listens or connects out yet."""

    def start(self, api: Api) -> None:
        """Start working: listen, subscribe, spawn greenlets."""

    def stop(self, api: Api) -> None:
        """Undo ``start``; called once, also after a failed boot for what had started."""

    def __repr__(self) -> str:
        return f"<Initializer {self.name} load={self.load_priority} start={self.start_priority} stop={self.stop_priority}>"

    @classmethod
    def validate(cls) -> None:
        if not cls.name or not isinstance(cls.name, str):
            raise BootError(f"{cls.__name__}: an initializer needs a name")
        for attribute in ("load_priority", "start_priority", "stop_priority"):
            value = getattr(cls, attribute)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise BootError(f"initializer {cls.name}: {attribute} must be a number > 0")


def load_initializers(directory: Path, *, namespace: str = "initializers") -> list[Initializer]:
    """Instances of every Initializer subclass defined below ``directory``."""
    found: list[Initializer] = []
    for module, path in iter_modules(directory, namespace):
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, Initializer) and value is not Initializer
                    and value.__module__ == module.__name__):
                try:
                    value.validate()
                except BootError as error:
                    raise BootError(f"{path}: {error.message}") from error
                found.append(value())
    return found
