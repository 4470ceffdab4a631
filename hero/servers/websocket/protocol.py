"""What a WebSocket endpoint needs before any socket connects: RFC 6455's close codes and the limits
a session is held to. No wsproto here: it is imported with :mod:`hero.servers.websocket.session`
when the first socket connects (issue 17: a server without WebSocket clients never loads it).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Close codes (RFC 6455 §7.4.1).
NORMAL = 1000
GOING_AWAY = 1001
PROTOCOL_ERROR = 1002
POLICY_VIOLATION = 1008
ABNORMAL = 1006
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class Limits:
    """The ``websocket`` config values one session needs (docs/limits.md)."""

    max_message_bytes: int = 1_048_576
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    max_queued_messages: int = 256
    max_queued_bytes: int = 4_194_304
    close_timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(**{name: config[name] for name in cls.__dataclass_fields__ if name in config})
