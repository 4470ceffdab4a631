"""JSON in and out, with orjson: strict on input (no NaN, no lone surrogates, depth capped),
and never a traceback on output (a value that cannot be encoded becomes a clear error)."""
from __future__ import annotations

import json
from typing import Any

import orjson

#: Nesting deeper than this is refused before parsing (orjson's own cap is 1024).
MAX_DEPTH = 64


class JSONError(ValueError):
    """The bytes are not acceptable JSON; the message says why, for a client."""


def _too_deep(raw: bytes, limit: int) -> bool:
    # NOTE: a cheap scan that ignores brackets inside strings; it only has to be an upper bound
    # that accepts every legal document of depth <= limit.
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON strictly; raise :class:`JSONError` with a client-readable reason."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    # NOTE: _too_deep's first test, written out: almost every document passes it (a call saved).
    if data.count(b"[") + data.count(b"{") > max_depth and _too_deep(data, max_depth):
        raise JSONError(f"JSON nested deeper than {max_depth} levels")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise JSONError(f"invalid JSON: {error}") from None


def dumps(value: Any, *, padding: int | None = None) -> bytes:
    """Encode to JSON bytes (``padding`` 2 pretty-prints). Raises TypeError on what cannot be encoded."""
    option = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    if padding:
        option |= orjson.OPT_INDENT_2
    try:
        return orjson.dumps(value, default=_default, option=option)
    except orjson.JSONEncodeError as error:
        if "Integer exceeds" not in str(error):
            raise
    # NOTE: orjson stops at 64-bit integers; JSON has no such limit, so a bigger one goes through the stdlib.
    try:
        return json.dumps(value, default=_default, indent=padding or None, allow_nan=False,
                          separators=(",", ": ") if padding else (",", ":")).encode("ascii")
    except ValueError as error:  # NaN or infinity: refused like any other value JSON cannot carry
        raise TypeError(str(error)) from None


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__json__"):
        return value.__json__()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
