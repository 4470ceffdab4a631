"""Logging: one setup at boot from the ``logger`` config, and params filtered for log lines."""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
from typing import Any

FILTERED = "[FILTERED]"


def filter_params(params: Mapping[str, Any], filtered: Iterable[str], *, max_length: int = 200) -> dict[str, Any]:
    """A copy of ``params`` fit for a log line: filtered keys (dot paths allowed) hidden, long strings cut."""
    result: dict[str, Any] = {}
    hidden = tuple(filtered)
    for key, value in params.items():
        if key in hidden:
            result[key] = FILTERED
        elif isinstance(value, Mapping):
            nested = tuple(path[len(key) + 1:] for path in hidden if path.startswith(f"{key}."))
            result[key] = filter_params(value, nested, max_length=max_length)
        elif isinstance(value, str) and len(value) > max_length:
            result[key] = value[:max_length] + "…"
        else:
            result[key] = value
    return result


class JSONFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "info", fmt: str = "text", *, propagate: bool = False) -> None:
    """Send hero's logs to stderr at ``level``; called once by the process at boot."""
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
