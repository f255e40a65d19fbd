"""A WebSocket client connection that counts what it receives; every read has a bound."""

from __future__ import annotations

import asyncio
import json
from typing import Any

#: Seconds any single read may wait before the benchmark fails.
READ_TIMEOUT = 120.0


class Wire:
    """Count the payload bytes, socket bytes and frames received on one WebSocket.

    ``bytes`` counts the messages as the application reads them (decompressed); ``socket_bytes``
    counts what the connection read from its TCP socket (frame headers included, compressed
    when the server compressed): the bytes on the wire.

    Parameters
    ----------
    connection : tornado.websocket.WebSocketClientConnection
        The open connection.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        # as browsers do: the client's own frames leave at once (what the server does with its
        # frames is the server's business, and part of what is measured)
        connection.protocol.set_nodelay(True)
        self.bytes = 0
        self.frames = 0
        self.socket_bytes = 0
        stream = connection.protocol.stream
        read = stream.read_from_fd

        def counting(buf: Any) -> int | None:
            n = read(buf)
            if n:
                self.socket_bytes += n
            return n

        stream.read_from_fd = counting

    async def recv(self, timeout: float = READ_TIMEOUT) -> str:
        """Return the next frame's text; fail when none arrives in ``timeout`` s or it closed."""
        try:
            message = await asyncio.wait_for(self.connection.read_message(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no frame within {timeout:g} s") from None
        if message is None:
            raise ConnectionError(f"the WebSocket closed (code {self.connection.close_code})")
        if isinstance(message, bytes):
            self.bytes += len(message)
            message = message.decode()
        else:
            self.bytes += len(message.encode())
        self.frames += 1
        return message

    async def recv_json(self, timeout: float = READ_TIMEOUT) -> dict[str, Any]:
        """Return the next frame decoded as JSON."""
        return dict(json.loads(await self.recv(timeout)))

    async def send(self, payload: dict[str, Any] | str) -> None:
        """Send one text frame."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        await self.connection.write_message(text)

    def reset(self) -> None:
        """Zero the counters."""
        self.bytes = 0
        self.frames = 0
        self.socket_bytes = 0

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()
