"""Params fit for a log line: secrets hidden, long strings cut."""
from __future__ import annotations

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
