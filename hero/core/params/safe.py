"""``api.params``: the params every action accepts without declaring them (seed 001's
``api.postVariables``; docs/actions.md, "Global safe params").

    api.params.add_global_safe("locale", "sessionKey")   # in an initializer
    api.params.global_safe                                # ("file", "apiVersion", ..., "locale", "sessionKey")
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from hero.core.params.inputs import GLOBAL_SAFE_PARAMS
from hero.errors import BootError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")


class SafeRegistry(Protocol):
    """What this needs of the action registry (:class:`hero.core.action.ActionRegistry`)."""

    extra_safe: list[str]

    def add_global_safe(self, names: Sequence[str], defaults: Mapping[str, Any] | None = None) -> None: ...


class GlobalParams:
    """The process's global safe params, hero's own and the app's."""

    def __init__(self, actions: SafeRegistry) -> None:
        self.actions = actions

    def __repr__(self) -> str:
        return f"GlobalParams({self.global_safe!r})"

    @property
    def global_safe(self) -> tuple[str, ...]:
        return (*GLOBAL_SAFE_PARAMS, *self.actions.extra_safe)

    def add_global_safe(self, *names: str) -> None:
        """Every action, loaded or to come, keeps ``names`` when it scrubs params and passes them
        to ``run`` (unless it declares one as an input of its own)."""
        for name in names:
            if not isinstance(name, str) or not _NAME.match(name):
                raise BootError(f"api.params.add_global_safe: {name!r} is not a param name")
        self.actions.add_global_safe(list(names))

    def is_global_safe(self, name: str) -> bool:
        return name in GLOBAL_SAFE_PARAMS or name in self.actions.extra_safe
