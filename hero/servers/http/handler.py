"""hero's HTTP/1.1 front door: a strict ``gevent.pywsgi.WSGIHandler`` (reliability.md §1.6, H1–H13, L1/L4).

pywsgi alone accepts request-smuggling shapes, has no header-read or idle deadline and leaves
Nagle on (reference/stack-notes.md). This handler keeps pywsgi's response machinery and replaces
what comes before the application: it sets ``TCP_NODELAY`` and a per-read socket timeout on each
connection, reads the request line and headers itself under a deadline, refuses anything
ambiguous with a 4xx/5xx and ``Connection: close``, and builds the WSGI environ without the
email-parser detour pywsgi takes.
"""
from __future__ import annotations

import functools
import logging
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote_to_bytes

import gevent
from gevent.pywsgi import (
    MAX_REQUEST_LINE,
    Input,
    WSGIHandler,
    WSGIServer,
    _InvalidClientInput,
    format_date_time,
)

from hero.runtime.json import dumps
from hero.servers.loopio import DueAtTurnEnd

if TYPE_CHECKING:
    from hero.servers.http.server import WebServer

log = logging.getLogger(__name__)

#: Methods hero serves; any other well-formed method goes to the app, which answers 405 with ``Allow``
#: (CONNECT, whose target is no path, is answered 501 here).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
#: A body left unread by the application is drained up to this many bytes to keep the connection;
#: anything larger closes it instead.
DISCARD_LIMIT = 65_536
#: Responses up to this size wait for the end of the loop's turn (larger ones go out at once); how
#: much may wait per connection is ``web.max_waiting_response_bytes``.
SMALL_WRITE_BYTES = 65_536

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f-\xff]")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_DIGITS = re.compile(rb"[0-9]{1,18}")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")


@dataclass(frozen=True)
class HttpLimits:
    """The parser's bounds and deadlines (config ``web``)."""

    request_line: int = 8190
    header_count: int = 100
    header_bytes: int = 8190
    header_block: int = 65_536
    header_timeout: float = 10.0
    keepalive_timeout: float = 5.0
    keepalive_requests: int = 1000
    body_timeout: float = 30.0
    waiting_bytes: int = 262_144

    @classmethod
    def from_config(cls, web: Mapping[str, Any]) -> HttpLimits:
        return cls(request_line=web["max_request_line_bytes"], header_count=web["max_header_count"],
                   header_bytes=web["max_header_bytes"], header_block=web["max_header_block_bytes"],
                   header_timeout=web["header_timeout"], keepalive_timeout=web["keepalive_timeout"],
                   keepalive_requests=web["max_keepalive_requests"], body_timeout=web["body_timeout"],
                   waiting_bytes=web["max_waiting_response_bytes"])


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


_TIMED_OUT = raw_response(408, {"error": "the request headers were not received in time"})


class RequestHeaders(dict[str, Any]):
    """Request headers by lowercase name (repeats joined with ``, ``); ``get`` ignores case."""

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)


_date_cache: list[Any] = [0, b""]


def _http_date() -> bytes:
    """The Date header value, formatted once per second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, format_date_time(now)]
    return _date_cache[1]


@functools.lru_cache(maxsize=512)
def _environ_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


#: Fields a chunked body's trailer may not carry: they frame or route the request, and a proxy that
#: honoured them would read the request differently from hero (reliability.md H6).
FORBIDDEN_TRAILERS = frozenset({b"content-length", b"transfer-encoding", b"host", b"content-type",
                                b"content-encoding", b"connection", b"expect", b"te", b"trailer"})
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class HeroInput(Input):
    """pywsgi's body reader, which never drains a large unread body (it closes the connection
    instead) and refuses trailers that would reframe or reroute the request."""

    __slots__ = ("handler",)

    def _Input__read_chunk_trailer(self, rfile: Any) -> bool:
        # NOTE: replaces pywsgi's private trailer reader (name-mangled), which accepts any field.
        # True: a trailer field was read; False: the blank line that ends the body.
        line = rfile.readline(MAX_REQUEST_LINE + 1)
        if not line.endswith(b"\r\n"):
            raise self._refuse("a chunk trailer line must end with CRLF within the line limit")
        if line == b"\r\n":
            return False
        name, colon, _ = line.partition(b":")
        if not colon or not _TOKEN.match(name):
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


class HeroHandler(DueAtTurnEnd, WSGIHandler):
    """One client connection: strict parsing, deadlines, keep-alive, then pywsgi's response writer."""

    #: The decoded (UTF-8) request path, for routing.
    hero_path = "/"
    #: Waiting for the next request (nothing in flight): a graceful stop may close it at once.
    idle = True
    upgrade = False
    chunked = False
    # NOTE: pywsgi declares these as bare ``= None`` class attributes, which mypy cannot type.
    #: Status code parsed from ``status`` (negated after a socket error); None before a response.
    code: int | None
    #: Whether the application supplied its own ``Date`` header; None until headers are finalized.
    provided_date: bool | None

    def __init__(self, sock: Any, address: Any, server: HeroWSGIServer) -> None:
        super().__init__(sock, address, server)
        self.web: WebServer = server.web
        self.limits: HttpLimits = server.web.limits
        self.requests_served = 0
        self.raw_path = b"/"
        self.query = ""
        # NOTE: two timers per connection, restarted for each request, rather than a new
        # gevent.Timeout per request (a visible cost on the hot path).
        self._header_deadline = gevent.Timeout(self.limits.header_timeout)
        self._idle_deadline = gevent.Timeout(self.limits.keepalive_timeout)
        #: Small response bytes waiting for the end of this turn of the event loop (see at_turn_end).
        self._outbox = bytearray()
        #: Sends what the kernel did not take at the end of a turn (None: nothing left over).
        self._drainer: gevent.Greenlet | None = None

    def __repr__(self) -> str:
        return f"<HeroHandler {self.client_address} requests={self.requests_served}>"

    def handle(self) -> None:
        sock = self.socket
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # NOTE: not a TCP socket (a unix socket in tests); nothing to tune
        # NOTE: the per-read timeout bounds a stalled body read and a client that never reads our
        # response; the header deadline below is a total, which a per-read timeout cannot be.
        sock.settimeout(self.limits.body_timeout)
        self.web.handlers.add(self)
        try:
            super().handle()
        finally:
            self.web.handlers.discard(self)
            self._header_deadline.close()
            self._idle_deadline.close()

    def log_request(self) -> None:
        """hero logs actions itself; pywsgi's access log line is not wanted."""

    def handle_one_request(self) -> Any:
        result = self._serve_one_request()
        if result is not True:
            # NOTE: the connection ends, or pywsgi answers directly on the socket: the responses
            # still waiting for the end of the turn go first.
            self._write_waiting()
        return result

    def _serve_one_request(self) -> Any:
        if self.rfile.closed or self.web.stopping:
            return None
        if self.requests_served >= self.limits.keepalive_requests:
            return None
        first = self.requests_served == 0
        self.idle = True
        deadline = self._header_deadline if first else self._idle_deadline
        deadline.start()
        try:
            try:
                line = self.rfile.readline(self.limits.request_line + 3)
                if not line:
                    return None
                self.idle = False
                self.time_start = time.time()
                self.response_length = 0
                if not first:
                    deadline.cancel()
                    deadline = self._header_deadline
                    deadline.start()
                self.parse_request(line)
            finally:
                deadline.cancel()
        except gevent.Timeout as fired:
            if fired is not self._header_deadline and fired is not self._idle_deadline:
                raise
            self.close_connection = True
            if self.idle:
                return None  # an idle keep-alive connection: just close it
            self.web.count_rejected()
            return ("408", _TIMED_OUT)
        except Reject as rejected:
            self.close_connection = True
            self.web.count_rejected()
            log.info("http: rejected a request from %s: %d %s", self.client_address[0] if isinstance(
                self.client_address, tuple) else self.client_address, rejected.status, rejected.reason)
            return (str(rejected.status), rejected.response())
        except OSError:
            return None
        self.requests_served += 1
        if self.requests_served >= self.limits.keepalive_requests:
            self.close_connection = True  # NOTE: the app says so (Connection: close), see hero.closes
        self.environ = self.get_environ()
        websocket = self.web.websocket
        if self.upgrade and websocket is not None and self.hero_path == self.web.websocket_path:
            # NOTE: a WebSocket lives as long as it likes; its endpoint runs its own ping/pong.
            self._write_waiting()
            self.socket.settimeout(None)
            try:
                websocket.handle(self)
            except Exception:
                log.exception("websocket endpoint failed")
            return None
        self.application = self.server.application
        self.handle_one_response()
        if self.close_connection or self.rfile.closed or self.web.stopping:
            return None
        # NOTE: yield between keep-alive requests (every fourth: a yield per request cost ~8% of a
        # simple GET); with pipelined or quick clients a greenlet would otherwise serve one
        # connection back to back while the others wait (p99 at c50).
        if not self.requests_served & 3:
            gevent.sleep(0)
        return True

    # --- parsing ------------------------------------------------------------------------------

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

    # --- writing --------------------------------------------------------------------------------
    # NOTE: small responses are written at the end of the event loop's turn, together with every
    # other connection's (hero.servers.loopio): a send per response made the kernel wake the
    # client for each; measured with wrk -c50, hero's requests/s rose by a fifth. Large writes go
    # out at once (after what waits), with backpressure.

    def _sendall(self, data: bytes | bytearray) -> None:
        # NOTE: only small responses wait; once a response passes SMALL_WRITE_BYTES (a file
        # streamed in chunks) the rest goes straight out, with the socket's backpressure.
        if self.response_length + len(data) <= SMALL_WRITE_BYTES and len(self._outbox) < self.limits.waiting_bytes:
            self._outbox += data
            self.due_at_turn_end()
            self.response_length += len(data)
            return
        self._write_waiting()
        self._send_now(data)

    def at_turn_end(self) -> None:
        """Send what waits without blocking; a greenlet sends whatever the kernel did not take."""
        if not self._outbox or self._drainer is not None:
            return  # NOTE: a draining greenlet sends the outbox after its leftover
        data = self._take_waiting()
        sock = getattr(self, "socket", None)
        if sock is None:
            return  # NOTE: the handler failed and pywsgi closed the connection; nobody to answer
        try:
            sent = sock.send(data, 0, 0.0)  # NOTE: timeout 0.0: fail rather than wait
        except BlockingIOError:
            sent = 0
        except OSError:
            return  # NOTE: the client went away; the handler's next read or write finds out
        if sent < len(data):
            self._drainer = gevent.spawn(self._drain, sock, data[sent:])

    def _drain(self, sock: Any, leftover: bytes) -> None:
        try:
            while leftover:
                sock.sendall(leftover)  # bounded by the socket's timeout (web.body_timeout)
                leftover = self._take_waiting()
        except OSError:
            self.close_connection = True
            try:
                sock.shutdown(socket.SHUT_RDWR)  # NOTE: wakes the handler if it waits to read
            except OSError:
                pass
        finally:
            self._drainer = None

    def _write_waiting(self) -> None:
        """Send what waits for the end of the turn now, blocking (before the connection ends, an
        upgrade, a 100 Continue or a large write)."""
        if self._drainer is not None:
            self._drainer.join()
        if self._outbox:
            data = self._take_waiting()
            try:
                self.socket.sendall(data)
            except OSError:
                self.close_connection = True

    def _take_waiting(self) -> bytes:
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    def _send_now(self, data: bytes | bytearray) -> None:
        # NOTE: gevent's sendall() asks the kernel for SO_SNDBUF on every call; one plain send()
        # takes a small answer whole, and sendall() only finishes what it could not take.
        try:
            sent = self.socket.send(data)
            if sent < len(data):
                self.socket.sendall(memoryview(data)[sent:])
        except OSError as error:
            self.status = f"socket error: {error}"
            if self.code and self.code > 0:
                self.code = -self.code
            raise
        self.response_length += len(data)

    def _write_with_headers(self, data: bytes) -> None:
        # NOTE: pywsgi sends the head and the body in two sendall calls; one is cheaper, and with
        # small JSON answers the copy costs less than the extra syscall.
        self.headers_sent = True
        if self.provided_date is None:
            self.provided_date = True
            self.response_headers.append((b"Date", _http_date()))
        self.finalize_headers()
        head = bytearray(b"HTTP/1.1 ")
        # NOTE: start_response has encoded the status line to bytes by now; pywsgi's inferred type is str.
        head += cast(bytes, self.status)
        head += b"\r\n"
        for name, value in self.response_headers:
            head += name
            head += b": "
            head += value
            head += b"\r\n"
        head += b"\r\n"
        if data and not self.response_use_chunked and len(data) <= 65_536:
            head += data
            self._sendall(head)
            return
        self._sendall(head)
        self._write(data)

    def get_environ(self) -> dict[str, Any]:
        environ = self.server.environ.copy()
        environ["REQUEST_METHOD"] = self.command
        environ["SCRIPT_NAME"] = ""
        environ["PATH_INFO"] = self.raw_path.decode("latin-1")
        environ["QUERY_STRING"] = self.query
        environ["RAW_URI"] = environ["REQUEST_URI"] = self.path
        environ["SERVER_PROTOCOL"] = self.request_version
        address = self.client_address
        if isinstance(address, tuple):
            environ["REMOTE_ADDR"] = str(address[0])
            environ["REMOTE_PORT"] = str(address[1])
        environ["hero.path"] = self.hero_path
        #: The connection ends after this response (the client asked, or its last keep-alive request).
        environ["hero.closes"] = self.close_connection
        headers = self.headers
        for key, value in headers.items():
            if key == "content-type":
                environ["CONTENT_TYPE"] = value
            elif key == "content-length":
                environ["CONTENT_LENGTH"] = value
            else:
                environ[_environ_key(key)] = value
        if self.upgrade:
            environ["wsgi.input"] = self.rfile
            environ["wsgi.input_terminated"] = False
        else:
            expect = headers.get("expect") == "100-continue"
            if expect:
                self._write_waiting()  # NOTE: earlier responses go before this one's 100 Continue
            body = HeroInput(self.rfile, self.content_length, socket=self.socket if expect else None,
                             chunked_input=self.chunked)
            body.handler = self
            self.wsgi_input = body
            environ["wsgi.input"] = body
            environ["wsgi.input_terminated"] = True
        return environ


class HeroWSGIServer(WSGIServer):
    """pywsgi's server with hero's handler; ``web`` is the :class:`~hero.servers.http.server.WebServer`."""

    handler_class = HeroHandler

    def __init__(self, listener: Any, application: Any, *, web: WebServer, spawn: Any, **ssl_args: Any) -> None:
        self.web = web
        super().__init__(listener, application, spawn=spawn, log=None,
                         error_log=logging.getLogger("hero.servers.pywsgi"), **ssl_args)
