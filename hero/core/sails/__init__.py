"""Sails-style actions (docs/actions.md, Sails-style actions): classic ``fn(req, res)`` actions,
machine definitions with inputs and exits, action middleware by identity. Each compiles into an
ordinary :class:`~hero.core.action.Action` (or :class:`~hero.core.middleware.ActionMiddleware`), so
the processor and every transport run them like any other action.
"""
from __future__ import annotations

import inspect
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hero.core.lazy import lazy_attributes
from hero.core.sails.identity import IdentityPattern, check_identity, identity_of

if TYPE_CHECKING:
    from hero.core.sails.http import Request, Response
    from hero.core.sails.machine import Exit

__all__ = ["Exit", "IdentityPattern", "Request", "Response", "check_identity", "identity_of", "sails_definition"]

#: Module attributes that make a module with ``fn`` a machine definition, whatever ``fn``'s arguments.
_MACHINE_MARKS = ("inputs", "exits", "friendly_name", "friendlyName")
#: Names that load on first use, and the module each comes from.
_LAZY = {"Exit": "hero.core.sails.machine", "Request": "hero.core.sails.http", "Response": "hero.core.sails.http"}


# NOTE: lazy: an idle server with no Sails-style action never needs the machine, classic and req/res
# modules (issue 17: idle memory); every server loads this package for its registry.
__getattr__ = lazy_attributes(__name__, globals(), _LAZY)


def is_machine_module(module: ModuleType) -> bool:
    """A module is a machine definition when it defines a function ``fn`` (not one it imports)."""
    fn = getattr(module, "fn", None)
    return inspect.isfunction(fn) and fn.__module__ == module.__name__


def sails_definition(module: ModuleType) -> Any:
    """What an action file defines in Sails' style, for ``register``: the module itself (a machine
    definition), its ``fn`` (a classic action: ``fn(req, res)``, ``req`` first), or None."""
    if not is_machine_module(module):
        return None
    fn = module.fn
    if not any(hasattr(module, mark) for mark in _MACHINE_MARKS):
        names = list(inspect.signature(fn).parameters)
        if names[:1] in (["req"], ["request"]):
            return fn
    return module
