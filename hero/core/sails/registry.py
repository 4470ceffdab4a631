"""The action registry with Sails' calls (docs/actions.md, Sails-style actions): ``register`` an
Action class, a classic ``fn(req, res)`` or a machine definition under an identity; ``all``;
``reload`` the action files atomically; ``register_middleware`` by identity. Every alias Sails
users know (``register_action``, ``get_actions``, ``reload_actions``, ``register_action_middleware``)
is here too.

    registry = SailsActionRegistry()
    registry.register(lambda req, res: res.json({"hello": "world"}), "hello/world")
"""
from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

from hero.core.action import Action, ActionRegistry, Version, version_key
from hero.core.middleware import ActionMiddleware
from hero.core.sails.identity import IdentityPattern, check_identity
from hero.errors import BootError, CodedError

log = logging.getLogger("hero.core.action")

#: The source recorded for actions registered from code.
IN_CODE = "<registered in code>"


class SailsActionRegistry(ActionRegistry):
    """hero's registry (``api.actions``), plus identities, Sails' registry calls and middleware by identity."""

    def __init__(self, *, missing_param_checks: Sequence[Any] = (None, ""), scrub_params: bool = True) -> None:
        super().__init__(missing_param_checks=missing_param_checks, scrub_params=scrub_params)
        #: ``reload()`` reads the action files into a fresh registry with this (the process sets it).
        self.loader: Callable[[SailsActionRegistry], None] | None = None
        #: Identities registered from code (``register``): a reload keeps them.
        self.registered: dict[str, dict[Version, Action]] = {}
        #: (pattern, middleware, what was given) by identity pattern, in registration order.
        self.identity_middleware: list[tuple[IdentityPattern, ActionMiddleware, Any]] = []

    def matching_middleware(self, action: Action) -> list[ActionMiddleware]:
        return [middleware for pattern, middleware, _ in self.identity_middleware if pattern.matches(action.name)]

    def register(self, action: Any, identity: str, force: bool = False) -> Action:
        """Register ``action`` as ``identity``: an Action class, a function ``fn(req, res)``, or a machine
        definition (a dict or a module with ``fn``). E_CONFLICT when the identity exists and ``force``
        is false (with ``force`` every version of it is replaced); E_INVALID for anything else."""
        instance = self._register(action, identity, force=force, source=IN_CODE)
        self.registered[identity] = dict(self.versions[identity])
        return instance

    register_action = register

    def _register(self, action: Any, identity: str, *, force: bool, source: str) -> Action:
        # NOTE: lazy: an idle server never needs machine definitions or classic actions; only a
        # Sails-style action registered in code or loaded from a file does (issue 17: idle memory)
        from hero.core.sails.classic import classic_action
        from hero.core.sails.machine import definition_of, machine_action

        check_identity(identity)
        if identity in self.versions and not force:
            raise CodedError("E_CONFLICT", f"action `{identity}` already exists (from "
                             f"{self.sources.get((identity, self.latest[identity].version), '?')}); pass force=True "
                             "to replace it", identity=identity)
        action_class: type[Action]
        if inspect.isclass(action) and issubclass(action, Action):
            action_class = action if action.name == identity else cast(
                type[Action], type(action.__name__, (action,), {"name": identity, "__module__": action.__module__}))
        elif (definition := definition_of(action)) is not None:
            action_class = machine_action(definition, identity)
        elif callable(action) and not inspect.isclass(action):
            action_class = classic_action(action, identity)
        else:
            raise CodedError("E_INVALID", f"action `{identity}`: {action!r} is not an Action class, a function "
                             "fn(req, res) or a machine definition (a dict or module with fn)", identity=identity)
        previous = self.versions.pop(identity, None), self.latest.pop(identity, None)
        try:
            return self.add(action_class, source=source)
        except BootError as error:
            if previous[0] is not None:
                self.versions[identity], self.latest[identity] = previous[0], previous[1]  # type: ignore[assignment]
            raise CodedError("E_INVALID", f"action `{identity}`: {error.message}", identity=identity) from error

    def all(self) -> dict[str, Action]:
        """A shallow copy of the registry: identity → action (its highest version)."""
        return dict(self.latest)

    get_actions = all

    def reload(self, cb: Callable[[BaseException | None], Any] | None = None) -> None:
        """Read every action file again, atomically: on any error the old actions keep serving and the
        error (naming the file) is raised, or handed to ``cb`` (Sails' ``reloadActions(cb)``)."""
        try:
            if self.loader is None:
                raise CodedError("E_USAGE", "actions can only be reloaded once hero has booted")
            fresh = type(self)(missing_param_checks=self.missing_param_checks, scrub_params=self.scrub_params)
            self.loader(fresh)
            for identity, versions in self.registered.items():
                fresh.versions[identity] = dict(versions)
                fresh.latest[identity] = versions[max(versions, key=version_key)]
                for version in versions:
                    fresh.sources[(identity, version)] = IN_CODE
            for action in fresh:
                for name in action.middleware:
                    if name not in self.middleware:
                        raise BootError(f"{fresh.sources[(action.name, action.version)]}: action {action.name} "
                                        f"lists middleware {name!r}, which is not registered")
        except Exception as error:
            if cb is None:
                raise
            cb(error)
            return
        # NOTE: one swap, with no yield in between: a request sees the old set or the new one.
        self.versions, self.latest, self.sources = fresh.versions, fresh.latest, fresh.sources
        self._chains = {}
        log.info("reloaded %d actions", len(self.versions))
        if cb is not None:
            cb(None)

    reload_actions = reload

    def register_middleware(self, middleware: Any, identity: Any, force: bool = False) -> ActionMiddleware:
        """Run ``middleware`` (``fn(req, res, proceed)``, a dict or module with that ``fn``, or an
        ActionMiddleware) before every action whose identity matches ``identity``: an identity,
        ``prefix/*``, ``*``, or a list of these. The same middleware registered again for the same
        identities is E_CONFLICT unless ``force`` (which replaces it)."""
        # NOTE: lazy: an idle server never needs classic middleware; only one registered by identity
        # does (issue 17: idle memory)
        from hero.core.sails.classic import as_middleware

        pattern = IdentityPattern.parse(identity)
        for position, (existing, _, given) in enumerate(self.identity_middleware):
            if given is middleware and existing.text == pattern.text:
                if not force:
                    raise CodedError("E_CONFLICT", f"this action middleware is already registered for "
                                     f"{pattern.text}; pass force=True to replace it", identity=identity)
                del self.identity_middleware[position]
                break
        wrapped = as_middleware(middleware, pattern, len(self.identity_middleware) + 1)
        self.identity_middleware.append((pattern, wrapped, middleware))
        self.middleware_generation += 1
        return wrapped

    register_action_middleware = register_middleware

