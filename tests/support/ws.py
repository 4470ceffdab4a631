"""WebSocket clients for the tests: a booted hero's WebSocket address and websocket-client connections to
it (``WsHero``), message helpers, and ``RawClient`` on a bare socket for frames websocket-client will not
send."""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websocket

from hero.servers.websocket.endpoint import WebSocketEndpoint


@dataclass
class WsHero:
    api: Any
    endpoint: WebSocketEndpoint
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{self.endpoint.config.path}"

    def connect(self, query: str = "", *, welcome: bool = True, **options: Any) -> websocket.WebSocket:
        """A websocket-client connection (its welcome message read unless ``welcome=False``)."""
        options.setdefault("timeout", 5)
        # NOTE: websocket-client checks UTF-8 in pure Python (~40 ms per 64 KiB); the server checks it.
        options.setdefault("skip_utf8_validation", True)
        ws = websocket.create_connection(self.url + query, **options)
        if welcome:
            assert json.loads(ws.recv())["context"] == "api"
        return ws

    def websocket_connections(self) -> int:
        return sum(1 for connection in self.api.connections if connection.type == "websocket")

    def wait_for(self, predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()


def find_endpoint(api: Any) -> WebSocketEndpoint:
    web = api.servers["web"]
    for value in vars(web).values():
        if isinstance(value, WebSocketEndpoint):
            return value
    raise AssertionError("the web server has no WebSocket endpoint")


def send(ws: websocket.WebSocket, message: Any) -> None:
    ws.send(message if isinstance(message, str) else json.dumps(message))


def receive(ws: websocket.WebSocket) -> dict[str, Any]:
    return json.loads(ws.recv())


def ask(ws: websocket.WebSocket, message: dict[str, Any]) -> dict[str, Any]:
    """Send one message and return the reply (skipping chat pushes)."""
    send(ws, message)
    while True:
        reply = receive(ws)
        if reply.get("context") == "response":
            return reply


def close_code(ws: websocket.WebSocket) -> int | None:
    """Read until the server's close frame; its code (None when the TCP connection just ended)."""
    while True:
        try:
            opcode, frame = ws.recv_data_frame(True)
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else 1005


class RawClient:
    """A WebSocket client on a bare socket, for frames websocket-client will not send."""

    def __init__(self, host: str, port: int, path: str = "/ws", headers: dict[str, str] | None = None,
                 *, first_frame: bytes = b"") -> None:
        self.sock = socket.create_connection((host, port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + first_frame)
        self.buffer = b""
        head = self._read_until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def _read_exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    @staticmethod
    def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0) -> bytes:
        head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
        length = len(payload)
        mask_bit = 0x80 if mask else 0
        if length < 126:
            head += bytes([mask_bit | length])
        elif length < 65536:
            head += bytes([mask_bit | 126]) + struct.pack("!H", length)
        else:
            head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))

    def send_frame(self, opcode: int, payload: bytes, **options: Any) -> None:
        self.sock.sendall(self.frame(opcode, payload, **options))

    def send_json(self, message: Any) -> None:
        self.send_frame(1, json.dumps(message).encode())

    def read_frame(self) -> tuple[int, bytes]:
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read_exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read_exactly(8))[0]
        return first & 0x0F, self._read_exactly(length)

    def read_until_close(self) -> tuple[int | None, list[tuple[int, bytes]]]:
        """Frames up to the close frame: (its code, the frames before it)."""
        frames = []
        while True:
            try:
                opcode, payload = self.read_frame()
            except (ConnectionError, OSError):
                return None, frames
            if opcode == 8:
                return (struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005), frames
            frames.append((opcode, payload))

    def close(self) -> None:
        self.sock.close()
