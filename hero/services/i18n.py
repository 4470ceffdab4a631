"""Localization (docs/actions.md, Localization): catalogs in ``locales/``, one JSON file per locale.

    # locales/fr.json
    {"Your random number is {number}": "Votre nombre aléatoire est {number}"}

    data.connection.localize("Your random number is {number}", number=n)

The message is its own key. A connection's locale is, in order: a ``locale`` param (remembered by
the connection), the ``Accept-Language`` of its HTTP request or WebSocket upgrade, then
``i18n.default_locale``. A missing message falls back to the default locale's catalog, then to the
message itself. Locales match case-insensitively, ``_`` or ``-`` alike, and ``fr-CA`` finds ``fr``.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hero.core.action import ActionData, ActionRegistry
from hero.core.connection import Connection, Connections, fill
from hero.core.middleware import ActionMiddleware
from hero.errors import BootError, InvalidParam

log = logging.getLogger(__name__)

#: A language tag as a ``locale`` param may give it: ``en``, ``pt-BR``, ``zh_Hant_TW``.
TAG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8}){0,4}")
#: ``Accept-Language`` headers longer than this are not read (a client's own loss).
MAX_HEADER = 1024


def normal(tag: str) -> str:
    return tag.strip().replace("_", "-").lower()


class I18n:
    """The catalogs of one process and the negotiation of a connection's locale."""

    def __init__(self, default_locale: str = "en", folders: Iterable[Path] = ()) -> None:
        if not isinstance(default_locale, str) or not TAG.fullmatch(default_locale):
            raise BootError(f"config i18n.default_locale must be a language tag like en or pt-BR, "
                            f"got {default_locale!r}")
        self.default_locale = normal(default_locale)
        #: Normalised locale → {message: translation}.
        self.catalogs: dict[str, dict[str, str]] = {}
        self.load(folders)

    def __repr__(self) -> str:
        return f"I18n(default={self.default_locale!r}, locales={sorted(self.catalogs)!r})"

    @property
    def locales(self) -> list[str]:
        return sorted(self.catalogs)

    def load(self, directories: Iterable[Path]) -> None:
        """Read ``<locale>.json`` from each folder; a folder listed earlier wins a message (the app
        over its plugins). A file that is not a JSON object of strings stops the boot, naming it."""
        for directory in reversed(list(directories)):
            if not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.json")):
                if not TAG.fullmatch(path.stem):
                    raise BootError(f"{path}: a catalog is named after its locale, like en.json or pt-BR.json")
                try:
                    entries = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeError, ValueError) as error:
                    raise BootError(f"{path} is not a JSON catalog: {error}") from None
                if not isinstance(entries, dict) or not all(isinstance(value, str) for value in entries.values()):
                    raise BootError(f"{path}: a catalog is a JSON object of message → translation strings")
                self.catalogs.setdefault(normal(path.stem), {}).update(entries)
        log.debug("i18n: locales %s (default %s)", self.locales, self.default_locale)

    def best(self, wanted: str) -> str | None:
        """The catalog's locale for one tag (``fr-CA`` → ``fr``), or None when there is none."""
        tag = normal(wanted)
        if tag in self.catalogs:
            return tag
        language = tag.partition("-")[0]
        if language in self.catalogs:
            return language
        for locale in self.catalogs:
            if locale.partition("-")[0] == language:
                return locale
        return None

    def negotiate(self, header: str | None) -> str | None:
        """The best locale for an ``Accept-Language`` header (by q-value, then order), or None."""
        if not header or len(header) > MAX_HEADER:
            return None
        ranked: list[tuple[float, int, str]] = []
        for index, part in enumerate(header.split(",")):
            tag, _, parameters = part.strip().partition(";")
            quality = 1.0
            if parameters.strip().startswith("q="):
                try:
                    quality = float(parameters.strip()[2:])
                except ValueError:
                    continue
            if tag and tag != "*" and quality > 0 and TAG.fullmatch(tag.strip()):
                ranked.append((-quality, index, tag.strip()))
        for _, _, tag in sorted(ranked):
            found = self.best(tag)
            if found is not None:
                return found
        return None

    def locale_of(self, connection: Connection) -> str:
        """The connection's locale: its own, else from its request's ``Accept-Language``, else the default."""
        if connection.locale is not None:
            return connection.locale
        extra = connection.extra
        header = extra.get("accept_language")
        if header is None and "environ" in extra:
            header = extra["environ"].get("HTTP_ACCEPT_LANGUAGE")
        connection.locale = self.negotiate(header) or self.default_locale
        return connection.locale

    def translate(self, locale: str, message: str) -> str:
        """``message`` in ``locale``, else in the default locale, else itself."""
        catalog = self.catalogs.get(locale)
        if catalog is not None and message in catalog:
            return catalog[message]
        default = self.catalogs.get(self.default_locale)
        if default is not None and message in default:
            return default[message]
        return message

    def localize(self, connection: Connection, message: str, values: Mapping[str, Any]) -> str:
        """What ``connection.localize`` does once hero has booted."""
        # NOTE: locale_of() and translate()'s first step written out (once per localized message):
        # a connection's locale is known after its first message, and its catalog usually has it.
        locale = connection.locale
        if locale is None:
            locale = self.locale_of(connection)
        catalog = self.catalogs.get(locale)
        if catalog is not None and message in catalog:
            return fill(catalog[message], values)
        return fill(self.translate(locale, message), values)

    def take_locale_param(self, data: ActionData) -> None:
        """Action middleware: a ``locale`` param becomes the connection's locale (422 when it is no tag)."""
        wanted = data.params.get("locale")
        if wanted is None or wanted == "":
            return
        if not isinstance(wanted, str) or not TAG.fullmatch(wanted):
            raise InvalidParam("locale must be a language tag like en or pt-BR", param="locale", value=wanted)
        data.connection.locale = self.best(wanted) or self.default_locale

    def install(self, actions: ActionRegistry, connections: Connections) -> None:
        """Every connection localizes through these catalogs; with any catalog, a ``locale`` param counts
        (its middleware is added only then)."""
        connections.localizer = self.localize
        if self.catalogs:
            actions.add_middleware(self.middleware())

    def middleware(self) -> ActionMiddleware:
        return ActionMiddleware("hero.locale", is_global=True, priority=-999_999, pre_process=self.take_locale_param)
