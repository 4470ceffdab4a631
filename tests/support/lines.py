"""A client of hero's TCP line protocol on a raw socket: one line out, one JSON reply back."""
from __future__ import annotations

import json
import socket
from typing import Any


class LineClient:
    """One raw socket to the TCP server; reads ``\\r\\n``-terminated JSON replies."""

    def __init__(self, address: tuple[str, int], *, timeout: float = 5.0, sock: socket.socket | None = None) -> None:
        self.sock = sock or socket.create_connection(address, timeout=timeout)
        self.sock.settimeout(timeout)
        self.buffer = b""
        self.welcome = self.read()

    def __repr__(self) -> str:
        return f"LineClient({self.sock.getsockname()})"

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def raw_line(self) -> bytes:
        """The next line with its terminator; what is left (b"" at a clean EOF) when the server closed."""
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                rest, self.buffer = self.buffer, b""
                return rest
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line + b"\r\n"

    def read(self) -> dict[str, Any]:
        line = self.raw_line()
        if not line:
            raise EOFError("the server closed the connection")
        return json.loads(line)

    def ask(self, line: str) -> dict[str, Any]:
        """Send one line and read the next reply that is not a chat push."""
        self.send(line + "\n")
        return self.reply()

    def reply(self) -> dict[str, Any]:
        while True:
            message = self.read()
            if message.get("context") != "user":
                return message

    def closed_by_server(self) -> bool:
        return self.raw_line() == b""

    def close(self) -> None:
        self.sock.close()
