"""Logging: one setup at boot from the ``logger`` config."""
from __future__ import annotations

import json
import logging
import sys


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
