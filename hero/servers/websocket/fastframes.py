"""The common WebSocket frames without wsproto's per-frame machinery, behind the same connection.

wsproto costs ~11 µs to receive one small client message (a Buffer, a header parse, a masker object,
a Frame, the message decoder with an incremental UTF-8 decoder, an event) and ~3 µs to send one:
about a quarter of a WebSocket ``randomNumber``. Almost every frame of an action or chat protocol is
the simplest kind: one whole text or binary message in one frame (FIN, no RSV bits, no extension),
masked (a client's), shorter than 64 KiB. For those, at a frame boundary of an OPEN connection whose
decoder holds nothing, :func:`read_simple_frame` reads the header, unmasks in C (the websockets
package's ``apply_mask``; one big-integer XOR without it) and checks UTF-8 with ``bytes.decode``, and
:func:`build_frame` writes a server frame's two- or four-byte header. Anything else (control frames, fragments, an unmasked or reserved frame,
invalid UTF-8, a partial frame, a message over the cap) stops the fast path at that frame's first
byte, and wsproto gets everything from there on, so its checks and close codes (1002, 1007, 1009 via
hero) are unchanged: Autobahn's cases run through both paths.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def unmask_int(data: bytes, mask: bytes) -> bytes:
    """``data`` XOR the 4-byte ``mask`` repeated, as one big-integer XOR (the fallback)."""
    length = len(data)
    if not length:
        return b""
    key = int.from_bytes((mask * ((length >> 2) + 1))[:length], "little")
    return (int.from_bytes(data, "little") ^ key).to_bytes(length, "little")


#: Unmasks a client payload: the websockets package's C function when it is installed, else
#: :func:`unmask_int` (the same bytes).
unmask: Callable[[bytes, bytes], bytes]
try:
    # NOTE: websockets' maintained C masking (word-wide, SIMD where it can): one call for a small
    # frame where the big-integer XOR builds four objects; a pure-Python install has the fallback.
    from websockets.speedups import apply_mask as unmask
except ImportError:  # pragma: no cover - depends on the install
    unmask = unmask_int

#: FIN + opcode for a whole text / binary message.
_TEXT, _BINARY = 0x81, 0x82
#: The largest payload taken here (a 16-bit extended length); longer ones go through wsproto.
MAX_FAST_PAYLOAD = 65_535


@dataclass(frozen=True, slots=True)
class Internals:
    """The wsproto objects the per-message checks read, looked up once per connection: they live as
    long as it does (wsproto builds them in ``__init__``), and hero's server connection never has an
    extension. The checks themselves are written out where a message is read or framed, since
    a function call there costs about as much as the check."""

    #: The sans-IO connection (its ``_state`` is what ``state`` returns).
    ws: Any
    #: Its frame protocol (``_outbound_opcode`` is None when no outbound fragment is pending).
    proto: Any
    #: The frame decoder (``header`` None and an empty ``buffer`` at a frame boundary).
    frames: Any
    #: The message decoder (``opcode`` None when no fragmented message is open).
    messages: Any
    #: The bytes the frame decoder holds (its ``Buffer``'s bytearray, the one ``len(frames.buffer)``
    #: counts: wsproto feeds and trims it in place).
    pending: bytearray


def internals(ws: Any) -> Internals | None:
    """``ws``'s :class:`Internals`, or None when the fast path must stay off (an extension, or a
    wsproto without the internals it reads)."""
    proto = getattr(ws, "_proto", None)
    frames = getattr(proto, "_frame_decoder", None)
    messages = getattr(proto, "_message_decoder", None)
    if frames is None or messages is None or getattr(proto, "extensions", True):
        return None
    pending = getattr(getattr(frames, "buffer", None), "buffer", None)
    if not (hasattr(ws, "_state") and hasattr(proto, "_outbound_opcode") and hasattr(frames, "header")
            and isinstance(pending, bytearray) and hasattr(messages, "opcode")):
        return None
    return Internals(ws, proto, frames, messages, pending)


def read_simple_frame(data: bytes, max_payload: int, at: int = 0) -> tuple[bytes, bool, int] | None:
    """The simple client frame at ``data[at:]``: (payload, is text, end offset), or None when the
    frame there is not simple, not complete, over ``max_payload`` bytes or (text) not valid UTF-8."""
    size = len(data)
    if size - at < 6:
        return None
    first, second = data[at], data[at + 1]
    if (first != _TEXT and first != _BINARY) or not second & 0x80:
        return None  # a control frame, a fragment, RSV bits, or an unmasked frame: wsproto decides
    length = second & 0x7F
    start = at + 6
    if length == 126:
        if size - at < 8:
            return None
        length = (data[at + 2] << 8) | data[at + 3]
        start = at + 8
    elif length == 127:
        return None
    end = start + length
    if length > max_payload or length > MAX_FAST_PAYLOAD or end > size:
        return None
    payload = unmask(data[start:end], data[start - 4:start]) if length else b""
    if first == _TEXT:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            return None  # wsproto closes with 1007
        return payload, True, end
    return payload, False, end


def build_frame(payload: bytes, text: bool) -> bytes:
    """One whole unmasked (server) frame for ``payload`` (text: UTF-8 bytes)."""
    opcode = _TEXT if text else _BINARY
    length = len(payload)
    if length < 126:
        return bytes((opcode, length)) + payload
    if length <= 0xFFFF:
        return struct.pack("!BBH", opcode, 126, length) + payload
    return struct.pack("!BBQ", opcode, 127, length) + payload
