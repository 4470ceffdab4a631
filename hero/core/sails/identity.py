"""Action identities (``user/create``) and the patterns action middleware is registered for.

    identity_of(Path("actions"), Path("actions/user/create.py"))   # "user/create"
    IdentityPattern.parse(["user/*", "auth/login"]).matches("user/find")   # True
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from hero.errors import CodedError

#: Letters, digits, ``_ $ . -`` in parts separated by single slashes (no leading or trailing slash).
_IDENTITY = re.compile(r"^[A-Za-z0-9_$.-]+(?:/[A-Za-z0-9_$.-]+)*$")


def check_identity(identity: Any) -> str:
    """The identity, or E_INVALID naming what is wrong with it."""
    if not isinstance(identity, str) or not _IDENTITY.fullmatch(identity):
        raise CodedError("E_INVALID", f"action identity {identity!r} is invalid: use letters, digits, "
                         "`_ $ . -` in parts separated by single slashes (e.g. `user/create`)", identity=identity)
    return identity


def identity_of(directory: PurePath, path: PurePath) -> str:
    """An action file's identity: its path below ``actions/`` without ``.py`` (``user/create``)."""
    return "/".join(path.relative_to(directory).with_suffix("").parts)


@dataclass(frozen=True)
class IdentityPattern:
    """What action middleware applies to: exact identities, ``prefix/*`` globs, or ``*`` (every action)."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    every: bool
    #: As registered, for describing it.
    text: str

    @classmethod
    def parse(cls, target: Any) -> IdentityPattern:
        items: Sequence[Any]
        if isinstance(target, str):
            items = [part.strip() for part in target.split(",")]
        elif isinstance(target, (list, tuple)) and target:
            items = list(target)
        else:
            raise CodedError("E_USAGE", f"action middleware needs an identity, `prefix/*`, `*` or a list of these, "
                             f"got {target!r}", identity=target)
        exact: set[str] = set()
        prefixes: list[str] = []
        every = False
        for item in items:
            if item == "*":
                every = True
            elif isinstance(item, str) and item.endswith("/*"):
                prefixes.append(check_identity(item[:-2]) + "/")
            else:
                exact.add(check_identity(item))
        return cls(frozenset(exact), tuple(prefixes), every, ", ".join(str(item) for item in items))

    def matches(self, identity: str) -> bool:
        return self.every or identity in self.exact or identity.startswith(self.prefixes)
