"""Logging: one setup at boot from the ``logger`` config (docs/deployment.md, Logs).

``logger.format = "text"`` writes ``time level logger: message`` lines; ``"json"`` writes one JSON
object per line: ``time`` (ISO-8601 UTC), ``level``, ``logger``, ``message``, and the fields a hero
line carries on its record (``record.hero``: an action's ``action``, ``version``, ``transport``,
``status``, ``duration_ms``, ``connection_id``, ``message_id``, ``params``, ``error_id``...).
``logger.config`` is handed to :func:`logging.config.dictConfig` after that, for anything else
(files, rotation, syslog); hero's formatter is ``hero.runtime.logging.JSONFormatter`` there.
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

import orjson

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` and is a field.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "hero"}


def iso_time(created: float) -> str:
    """``2026-12-02T23:01:51.123Z``: a record's time in ISO-8601, UTC, milliseconds."""
    seconds = int(created)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{int((created - seconds) * 1000):03d}Z"


class JSONFormatter(logging.Formatter):
    """One JSON object per line, for log shippers: fields, not one packed message."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": iso_time(record.created), "level": record.levelname.lower(),
                                 "logger": record.name, "message": record.getMessage()}
        fields = getattr(record, "hero", None)
        if isinstance(fields, Mapping):
            entry.update(fields)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def configure_logging(level: str = "info", fmt: str = "text", *, propagate: bool = False,
                      config: Mapping[str, Any] | None = None) -> None:
    """Send hero's logs to stderr at ``level`` in ``fmt``, then apply ``config`` (a dictConfig) if
    given; called once by the process at boot."""
    logger = logging.getLogger("hero")
    logger.setLevel(level.upper())
    for handler in list(logger.handlers):
        if getattr(handler, "hero_handler", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.hero_handler = True  # type: ignore[attr-defined]
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    # NOTE: tests propagate to the root logger so pytest's caplog sees hero's lines.
    logger.propagate = propagate
    if config:
        settings = _thawed(config)
        settings.setdefault("version", 1)
        settings.setdefault("disable_existing_loggers", False)
        # NOTE: lazy: logging.config brings logging.handlers, pickle, queue and socketserver (~0.4 MiB of
        # an idle process), and only apps that set logger.config use it.
        from logging.config import dictConfig

        dictConfig(settings)


def _thawed(value: Any) -> Any:
    """A plain, mutable copy of a read-only config value (dictConfig changes what it is given)."""
    if isinstance(value, Mapping):
        return {key: _thawed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thawed(item) for item in value]
    return value
