"""Reading an HTTP/1.1 request strictly: the request line, the headers, the body's framing, and limits.

pywsgi alone accepts request-smuggling shapes (several ``Content-Length`` headers, one beside
``Transfer-Encoding``, obsolete line folding, trailers that reframe a chunked body). The
:class:`RequestReader` half of hero's handler reads the request line and headers itself and refuses
anything ambiguous with a :class:`Reject` (a 4xx/5xx answered with ``Connection: close``);
:class:`HeroInput` reads the body. What a client gets at each limit: docs/http.md and docs/limits.md.
"""
from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

import gevent
from gevent.pywsgi import MAX_REQUEST_LINE, Input, WSGIHandler, _InvalidClientInput

from hero.runtime.json import dumps

#: Methods hero serves; any other well-formed method goes to the app, which answers 405 with ``Allow``
#: (CONNECT, whose target is no path, is answered 501 here).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
#: A body left unread by the application is drained up to this many bytes to keep the connection;
#: anything larger closes it instead.
DISCARD_LIMIT = 65_536
#: Fields a chunked body's trailer may not carry: they frame or route the request, and a proxy that
#: honoured them would read the request differently from hero (docs/http.md).
FORBIDDEN_TRAILERS = frozenset({b"content-length", b"transfer-encoding", b"host", b"content-type",
                                b"content-encoding", b"connection", b"expect", b"te", b"trailer"})

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: A chunk-size line (RFC 9112 §7.1): 1*HEXDIG (16 at most: 64 bits), extensions
#: ``;name[=token|quoted-string]``, CRLF. Nothing else: no sign, no ``0x``, no spaces.
_CHUNK_SIZE_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})((?:;[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
    rb"""(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[^"\\\r\n]|\\[^\r\n])*"))?)*)\r\n""")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f-\xff]")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_DIGITS = re.compile(rb"[0-9]{1,18}")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")


@dataclass(frozen=True)
class HttpLimits:
    """The parser's bounds and deadlines (config ``web``; docs/limits.md)."""

    request_line: int = 8190
    header_count: int = 100
    header_bytes: int = 8190
    header_block: int = 65_536
    header_timeout: float = 10.0
    keepalive_timeout: float = 5.0
    keepalive_requests: int = 1000
    body_timeout: float = 30.0
    waiting_bytes: int = 262_144
    body_total_timeout: float = 300.0
    send_total_timeout: float = 300.0

    @classmethod
    def from_config(cls, web: Mapping[str, Any]) -> HttpLimits:
        return cls(request_line=web["max_request_line_bytes"], header_count=web["max_header_count"],
                   header_bytes=web["max_header_bytes"], header_block=web["max_header_block_bytes"],
                   header_timeout=web["header_timeout"], keepalive_timeout=web["keepalive_timeout"],
                   keepalive_requests=web["max_keepalive_requests"], body_timeout=web["body_timeout"],
                   waiting_bytes=web["max_waiting_response_bytes"],
                   body_total_timeout=web["body_total_timeout"], send_total_timeout=web["send_total_timeout"])


class Reject(Exception):
    """A request hero will not serve; it is answered with ``status`` and the connection closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> bytes:
        return raw_response(self.status, {"error": self.reason})


def raw_response(status: int, payload: dict[str, Any]) -> bytes:
    """A complete HTTP/1.1 response that closes the connection (for requests never given to the app)."""
    body = dumps(payload)
    phrase = HTTPStatus(status).phrase
    head = (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"X-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


#: The answer to headers that did not arrive within ``web.header_timeout``.
TIMED_OUT = raw_response(408, {"error": "the request headers were not received in time"})


class RequestHeaders(dict[str, Any]):
    """Request headers by lowercase name (repeats joined with ``, ``); ``get`` ignores case."""

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)


class HeroInput(Input):
    """pywsgi's body reader, which never drains a large unread body (it closes the connection
    instead) and refuses trailers that would reframe or reroute the request."""

    __slots__ = ("handler", "_deadline")
    #: The connection's handler: its ``close_connection`` is set when the body is abandoned.
    handler: WSGIHandler
    #: When the whole body must have arrived (``web.body_total_timeout`` after its first read).
    _deadline: float

    def read(self, length: int | None = None) -> bytes:
        with self._within_deadline():
            return super().read(length)

    def readline(self, size: int | None = None) -> bytes:
        with self._within_deadline():
            return super().readline(size)

    def _within_deadline(self) -> gevent.Timeout:
        """A timer for one read, up to the body's total deadline (the socket's own timeout bounds
        each recv, ``web.body_timeout``; this bounds them all together)."""
        now = time.monotonic()
        try:
            deadline = self._deadline
        except AttributeError:
            deadline = self._deadline = now + self.handler.limits.body_total_timeout
        return gevent.Timeout(max(0.001, deadline - now), TimeoutError("the request body took too long"))

    def _Input__read_chunk_length(self, rfile: Any) -> int:
        # NOTE: replaces pywsgi's private chunk-size reader (name-mangled), which accepts a size
        # with no digits, and any bytes as an extension: a proxy in front may frame those
        # differently (request smuggling), so each is refused with 400 and a close.
        line = rfile.readline(MAX_REQUEST_LINE + 1)
        match = _CHUNK_SIZE_LINE.fullmatch(line)
        if match is None:
            raise self._refuse("a chunk size must be 1 to 16 hex digits, then well-formed extensions and CRLF")
        size = int(match.group(1), 16)
        if size == 0:
            while self._Input__read_chunk_trailer(rfile):
                pass
        return size

    def _Input__read_chunk_trailer(self, rfile: Any) -> bool:
        # NOTE: replaces pywsgi's private trailer reader (name-mangled), which accepts any field.
        # True: a trailer field was read; False: the blank line that ends the body.
        line = rfile.readline(MAX_REQUEST_LINE + 1)
        if not line.endswith(b"\r\n"):
            raise self._refuse("a chunk trailer line must end with CRLF within the line limit")
        if line == b"\r\n":
            return False
        name, colon, _ = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise self._refuse("invalid chunk trailer field")
        if name.lower() in FORBIDDEN_TRAILERS:
            raise self._refuse(f"a chunk trailer may not carry {name.decode('latin-1')}")
        return True

    def _refuse(self, reason: str) -> Exception:
        """Mark the body broken (pywsgi then answers 400 and closes) and return the error to raise."""
        # NOTE: the flag is in pywsgi Input's own __slots__, which mypy cannot see.
        self._chunked_input_error = True  # type: ignore[misc]
        return _InvalidClientInput(reason)

    def abandons_body(self) -> bool:
        """True when what is left of the body will not be read: the connection must close after the
        response (rather than drain up to a large body to keep it alive)."""
        if self.chunked_input:
            return bool(self.chunk_length != 0)  # NOTE: 0 only once the last chunk has been read
        return (self.content_length or 0) - self.position > DISCARD_LIMIT

    def _discard(self) -> None:
        handler = self.handler
        if handler.close_connection:
            return
        if self.abandons_body():
            handler.close_connection = True
            return
        if not self.chunked_input:
            super()._discard()


class RequestReader(WSGIHandler):
    """The reading half of hero's handler: the request line and headers, checked against
    :class:`HttpLimits`; anything ambiguous raises :class:`Reject`."""

    #: The decoded (UTF-8) request path, for routing.
    hero_path = "/"
    #: The request asks for ``Connection: upgrade`` (or ``Upgrade: websocket``).
    upgrade = False
    #: The body comes as ``Transfer-Encoding: chunked``.
    chunked = False
    limits: HttpLimits
    #: The path's bytes, %-escapes decoded (``PATH_INFO``).
    raw_path: bytes
    #: The query string (``QUERY_STRING``).
    query: str

    def parse_request(self, line: bytes) -> None:
        """Validate the request line and read the headers; raise :class:`Reject` on anything ambiguous."""
        limits = self.limits
        if not line.endswith(b"\r\n"):
            if len(line) > limits.request_line:
                raise Reject(414, f"the request line is longer than {limits.request_line} bytes")
            raise Reject(400, "the request line must end with CRLF")
        if len(line) - 2 > limits.request_line:
            raise Reject(414, f"the request line is longer than {limits.request_line} bytes")
        words = line[:-2].split(b" ")
        if len(words) != 3:
            raise Reject(400, "malformed request line")
        method, target, version = words
        if version not in (b"HTTP/1.1", b"HTTP/1.0"):
            if _VERSION.fullmatch(version):
                raise Reject(505, "only HTTP/1.0 and HTTP/1.1 are supported")
            raise Reject(400, "malformed HTTP version")
        command = method.decode("latin-1")
        if command not in METHODS:
            if command == "CONNECT":
                raise Reject(501, "method CONNECT is not implemented")
            if not (_TOKEN.fullmatch(method) and method.isupper()):
                raise Reject(400, "malformed method")
        self.command = command
        self.request_version = version.decode("latin-1")
        self._parse_target(target)
        self.path = target.decode("latin-1")
        self._read_headers()

    def _parse_target(self, target: bytes) -> None:
        if _BAD_TARGET.search(target):
            raise Reject(400, "the request target holds a control, space or non-ASCII byte")
        if target.startswith((b"http://", b"https://")):
            slash = target.find(b"/", target.index(b"//") + 2)
            target = target[slash:] if slash != -1 else b"/"
        elif target == b"*":
            if self.command != "OPTIONS":
                raise Reject(400, "`*` is only a target for OPTIONS")
            target = b"/"
        elif not target.startswith(b"/"):
            raise Reject(400, "the request target must be a path")
        raw_path, _, query = target.partition(b"#")[0].partition(b"?")
        if b"%" in raw_path:
            if _BAD_ESCAPE.search(raw_path):
                raise Reject(400, "the path holds an invalid %-escape")
            decoded = unquote_to_bytes(raw_path)
            if b"\x00" in decoded:
                raise Reject(400, "the path holds a NUL byte")
        else:
            decoded = raw_path
        try:
            self.hero_path = decoded.decode("utf-8")
        except UnicodeDecodeError:
            raise Reject(400, "the path is not valid UTF-8") from None
        self.raw_path = decoded
        self.query = query.decode("latin-1")

    def _read_headers(self) -> None:
        limits = self.limits
        readline = self.rfile.readline
        headers = RequestHeaders()
        total = count = 0
        content_lengths: list[bytes] = []
        encodings: list[str] = []
        hosts = 0
        while True:
            line = readline(limits.header_bytes + 3)
            total += len(line)
            if total > limits.header_block:
                raise Reject(431, f"the request headers are larger than {limits.header_block} bytes")
            if line == b"\r\n":
                break
            if not line.endswith(b"\r\n"):
                if not line:
                    raise Reject(400, "the connection closed inside the headers")
                if not line.endswith(b"\n") and len(line) > limits.header_bytes:
                    raise Reject(431, f"a request header is longer than {limits.header_bytes} bytes")
                raise Reject(400, "a header line must end with CRLF")
            if len(line) - 2 > limits.header_bytes:
                raise Reject(431, f"a request header is longer than {limits.header_bytes} bytes")
            count += 1
            if count > limits.header_count:
                raise Reject(431, f"more than {limits.header_count} request headers")
            if line[0] in b" \t":
                raise Reject(400, "obsolete header line folding is not accepted")
            name, colon, value = line[:-2].partition(b":")
            if not colon or not _TOKEN.fullmatch(name):
                raise Reject(400, "malformed header name")
            value = value.strip(b" \t")
            if _BAD_VALUE.search(value):
                raise Reject(400, "a header value holds a control character")
            key = name.decode("ascii").lower()
            text = value.decode("latin-1")
            if key == "content-length":
                content_lengths.append(value)
            elif key == "transfer-encoding":
                encodings.append(text.lower())
            elif key == "host":
                hosts += 1
            if "_" in key:
                continue  # NOTE: `Content_Length` must never pass as `Content-Length` in the environ
            if key in headers:
                headers[key] = f"{headers[key]}{'; ' if key == 'cookie' else ', '}{text}"
            else:
                headers[key] = text
        self._check_framing(content_lengths, encodings, hosts, headers)
        self.headers = headers

    def _check_framing(self, content_lengths: list[bytes], encodings: list[str], hosts: int,
                       headers: RequestHeaders) -> None:
        http11 = self.request_version == "HTTP/1.1"
        self.chunked = False
        self.content_length = None
        if encodings:
            if len(encodings) > 1 or not http11:
                raise Reject(400, "Transfer-Encoding must appear once, on HTTP/1.1 only")
            if encodings[0] != "chunked":
                if "chunked" in encodings[0]:
                    raise Reject(400, "only `Transfer-Encoding: chunked` is accepted")
                raise Reject(501, f"transfer encoding {encodings[0]!r} is not implemented")
            if content_lengths:
                raise Reject(400, "Content-Length and Transfer-Encoding together are ambiguous")
            self.chunked = True
        elif content_lengths:
            if len(content_lengths) > 1:
                raise Reject(400, "more than one Content-Length")
            if not _DIGITS.fullmatch(content_lengths[0]):
                raise Reject(400, "Content-Length must be a plain decimal number")
            self.content_length = int(content_lengths[0])
        if http11 and hosts != 1:
            raise Reject(400, "an HTTP/1.1 request needs exactly one Host header")
        expect = headers.get("expect")
        if expect is not None and expect.lower() != "100-continue":
            raise Reject(417, "only `Expect: 100-continue` is supported")
        connection = headers.get("connection", "").lower()
        tokens = {token.strip() for token in connection.split(",")} if connection else set()
        self.close_connection = "close" in tokens if http11 else "keep-alive" not in tokens
        self.upgrade = "upgrade" in tokens or headers.get("upgrade", "").lower() == "websocket"

    def _connection_upgrade_requested(self) -> bool:
        return self.upgrade

