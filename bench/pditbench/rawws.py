"""A minimal WebSocket reader (RFC 6455) for measuring how fast a server sends many frames.

Tornado's client costs about 20 µs of Python per frame received, so reading 10,000 frames
through it measures the client. This reader parses frames straight out of large socket
reads; a browser's native client is closer to it than to a Python one.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct

from .wire import READ_TIMEOUT

_CLOSE = 0x8
_CONTROL = 0x8


class RawChannel:
    """One WebSocket connection read frame by frame from a buffer (text/binary only)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = bytearray()
        self.pos = 0
        self.bytes = 0

    @classmethod
    async def connect(cls, port: int, path: str, token: str) -> RawChannel:
        """Open ``ws://127.0.0.1:PORT/PATH`` with the token in an ``Authorization`` header."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, limit=1 << 22), READ_TIMEOUT
        )
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nAuthorization: token {token}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        if not head.startswith(b"HTTP/1.1 101"):
            writer.close()
            raise ConnectionError(f"no WebSocket upgrade: {head[:200]!r}")
        return cls(reader, writer)

    async def send_text(self, text: str) -> None:
        """Send one masked text frame (clients must mask)."""
        payload = text.encode()
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x81, 0x80 | size)
        elif size < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)
        await self.writer.drain()

    def _next_frame(self) -> bytes | None:
        """Return the next complete data frame in the buffer, or None (control frames skipped)."""
        buf = self.buffer
        while True:
            pos = self.pos
            if len(buf) - pos < 2:
                return None
            first, second = buf[pos], buf[pos + 1]
            size, start = second & 0x7F, pos + 2
            if size == 126:
                if len(buf) - pos < 4:
                    return None
                (size,) = struct.unpack_from("!H", buf, pos + 2)
                start = pos + 4
            elif size == 127:
                if len(buf) - pos < 10:
                    return None
                (size,) = struct.unpack_from("!Q", buf, pos + 2)
                start = pos + 10
            if len(buf) < start + size:
                return None
            self.pos = start + size
            opcode = first & 0x0F
            if opcode == _CLOSE:
                raise ConnectionError("the server closed the WebSocket")
            if opcode & _CONTROL:
                continue  # ping/pong: not counted
            return bytes(buf[start : start + size])

    async def recv(self, timeout: float = READ_TIMEOUT) -> bytes:
        """Return the next data frame's payload."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = self._next_frame()
            if frame is not None:
                return frame
            if self.pos:
                del self.buffer[: self.pos]
                self.pos = 0
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no frame within {timeout:g} s")
            data = await asyncio.wait_for(self.reader.read(1 << 20), left)
            if not data:
                raise ConnectionError("the connection closed")
            self.bytes += len(data)
            self.buffer += data

    def close(self) -> None:
        """Close the connection (without a closing handshake)."""
        self.writer.close()
