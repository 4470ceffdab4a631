"""hero's HTTP/1.1 front door: a strict ``gevent.pywsgi.WSGIHandler`` per client connection.

pywsgi alone accepts request-smuggling shapes, has no header-read or idle deadline and leaves
Nagle on. :class:`HeroHandler` keeps pywsgi's response machinery and replaces what comes before
the application: it sets ``TCP_NODELAY`` and a per-read socket timeout on each connection, reads
the request line and headers under a deadline (:mod:`hero.servers.http.request`), refuses anything
ambiguous with a 4xx/5xx and ``Connection: close``, builds the WSGI environ without the
email-parser detour pywsgi takes, hands WebSocket upgrades to the attached endpoint, and writes
small responses at the end of the loop's turn (:mod:`hero.servers.http.writer`). The limits and
what a client gets at each: docs/http.md and docs/limits.md.
"""
from __future__ import annotations

import functools
import logging
import socket
import ssl
import time
from typing import Any, Protocol

import gevent
from gevent import ssl as gevent_ssl
from gevent.pywsgi import WSGIServer

from hero.runtime.deadlines import RestartableTimeout
from hero.servers.base import WebSocketSeam
from hero.servers.http.request import TIMED_OUT, HeroInput, HttpLimits, Reject, RequestReader
from hero.servers.http.writer import TurnEndWriter

log = logging.getLogger(__name__)

#: Seconds a client gets to finish its TLS handshake (``web.tls``).
TLS_HANDSHAKE_SECONDS = 10.0


@functools.lru_cache(maxsize=512)
def _environ_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


class WebHost(Protocol):
    """What a connection's handler uses of the web server (:class:`~hero.servers.http.server.WebServer`)."""

    limits: HttpLimits
    #: Live connections, for a graceful stop and the status numbers.
    handlers: set[HeroHandler]
    stopping: bool
    websocket: WebSocketSeam | None
    websocket_path: str

    def count_rejected(self) -> None: ...


class HeroHandler(RequestReader, TurnEndWriter):
    """One client connection: strict parsing, deadlines, keep-alive, then pywsgi's response writer."""

    #: Waiting for the next request (nothing in flight): a graceful stop may close it at once.
    idle = True

    def __init__(self, sock: Any, address: Any, server: HeroWSGIServer) -> None:
        super().__init__(sock, address, server)
        self.web: WebHost = server.web
        self.limits = server.web.limits
        self.requests_served = 0
        self.raw_path = b"/"
        self.query = ""
        # NOTE: two timeouts per connection, restarted for each request, rather than a new
        # gevent.Timeout per request (a visible cost on the hot path); each start counts afresh.
        self._header_deadline = RestartableTimeout(self.limits.header_timeout)
        self._idle_deadline = RestartableTimeout(self.limits.keepalive_timeout)

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
        sock = self.socket
        # NOTE: the deadline bounds the wait for the head: the per-read socket timeout, which made
        # gevent start and cancel a timer on every wait (~5% of a small request), is off meanwhile.
        sock.settimeout(None)
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
                sock.settimeout(self.limits.body_timeout)
        except gevent.Timeout as fired:
            if fired is not self._header_deadline and fired is not self._idle_deadline:
                raise
            self.close_connection = True
            if self.idle:
                return None  # an idle keep-alive connection: just close it
            self.web.count_rejected()
            return ("408", TIMED_OUT)
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
        websocket = self.web.websocket
        # NOTE: only a request to the WebSocket endpoint is handed the raw socket; any other asking
        # for an upgrade (``Upgrade: foo``, or a WebSocket elsewhere) is ordinary, its body framed
        # by its own headers.
        self.upgrade = self.upgrade and websocket is not None and self.hero_path == self.web.websocket_path
        self.environ = self.get_environ()
        if self.upgrade and websocket is not None:
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


class HeroTLSHandler(HeroHandler):
    """:class:`HeroHandler` on a TLS socket: every write goes out from the handler's own greenlet.

    NOTE: the end-of-turn outbox sends from the hub with a zero timeout, which an SSL socket does not
    honour (OpenSSL may want to read or write first and gevent would wait in the hub)."""

    def _sendall(self, data: bytes | bytearray) -> None:
        self._send_now(data)


class HeroWSGIServer(WSGIServer):
    """pywsgi's server with hero's handler; ``web`` is the :class:`~hero.servers.http.server.WebServer`.

    With ``ssl_context`` (``web.tls``, or gunicorn's ``--certfile/--keyfile``) it serves HTTPS: each
    client's handshake runs in its own greenlet within ``TLS_HANDSHAKE_SECONDS`` and WebSockets on the
    port are ``wss://``."""

    handler_class: type[HeroHandler] = HeroHandler

    def __init__(self, listener: Any, application: Any, *, web: WebHost, spawn: Any,
                 ssl_context: ssl.SSLContext | None = None, **ssl_args: Any) -> None:
        self.web = web
        if ssl_args and ssl_context is None:  # NOTE: keyfile/certfile, as older callers pass them
            ssl_context = gevent_ssl.SSLContext(gevent_ssl.PROTOCOL_TLS_SERVER)
            ssl_context.load_cert_chain(ssl_args["certfile"], ssl_args.get("keyfile"))
        #: The TLS context, or None for plain HTTP.
        self.tls_context = ssl_context
        super().__init__(listener, application, spawn=spawn, log=None,
                         error_log=logging.getLogger("hero.servers.pywsgi"),
                         environ={"wsgi.url_scheme": "https"} if ssl_context is not None else None)
        if ssl_context is not None:
            self.handler_class = HeroTLSHandler

    def handle(self, sock: Any, address: Any) -> None:
        context = self.tls_context
        if context is not None:
            sock.settimeout(TLS_HANDSHAKE_SECONDS)
            try:
                sock = context.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError) as error:
                log.info("web: TLS handshake with %s failed: %s", address[0] if address else "?", error)
                sock.close()
                return
        super().handle(sock, address)
