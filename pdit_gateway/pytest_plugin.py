"""Pytest fixtures for tests against a real gateway (``pdit_gateway.pytest_plugin``)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

Event = dict[str, Any]

#: Seconds any single wait on a socket may take before the test fails.
SOCKET_WAIT = 60.0


class ChannelClient:
    """A test client of the protocol v1 channel: every wait is bounded.

    Parameters
    ----------
    connection : Any
        A ``tornado.websocket.WebSocketClientConnection``.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.received: list[Event] = []

    async def send(self, **frame: Any) -> None:
        """Send one frame."""
        await self.connection.write_message(json.dumps(frame))

    async def send_raw(self, raw: str | bytes) -> None:
        """Send a frame as given (for bad-input tests)."""
        await self.connection.write_message(raw, binary=isinstance(raw, bytes))

    async def recv(self, timeout: float = SOCKET_WAIT) -> Event:
        """Return the next frame; fail if none arrives within ``timeout`` s or the socket closed."""
        message = await asyncio.wait_for(self.connection.read_message(), timeout)
        if message is None:
            raise ConnectionError(f"the channel closed (code {self.connection.close_code})")
        event: Event = json.loads(message)
        self.received.append(event)
        return event

    async def until(
        self, predicate: Callable[[Event], bool], wait: float = SOCKET_WAIT
    ) -> list[Event]:
        """Return every frame up to and including the first that satisfies ``predicate``.

        Fails when ``wait`` seconds pass first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        events: list[Event] = []
        while True:
            event = await self.recv(max(0.0, deadline - loop.time()))
            events.append(event)
            if predicate(event):
                return events

    async def welcome(self) -> Event:
        """Read the ``welcome`` frame (the first frame of a connection)."""
        event = await self.recv()
        assert event["type"] == "welcome", event
        return event

    async def execute(self, script: str, **options: Any) -> str:
        """Send an ``execute`` and return its execution id (given or made up here)."""
        options.setdefault("executionId", uuid.uuid4().hex)
        await self.send(type="execute", script=script, **options)
        return str(options["executionId"])

    async def run(self, script: str, wait: float = SOCKET_WAIT, **options: Any) -> list[Event]:
        """Execute ``script`` and return this execution's events up to its ``complete``.

        ``options`` are fields of the ``execute`` frame (``timeout`` among them); ``wait``
        bounds the wait for the events, in seconds.
        """
        execution_id = await self.execute(script, **options)
        events = await self.until(
            lambda e: e.get("type") == "complete" and e.get("executionId") == execution_id,
            wait,
        )
        return [e for e in events if e.get("executionId") == execution_id]

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


@pytest.fixture
def pdit_channel(
    jp_ws_fetch: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[ChannelClient]]:
    """Open a channel to session ``session_id`` and return a :class:`ChannelClient`."""

    async def open_channel(session_id: str = "test", **kwargs: Any) -> ChannelClient:
        connection = await jp_ws_fetch("pdit", "api", "sessions", session_id, "channel", **kwargs)
        return ChannelClient(connection)

    return open_channel


def results(events: list[Event]) -> list[Event]:
    """Return the ``result`` events of a list of events."""
    return [e for e in events if e["type"] == "result"]


def texts(result: Event) -> str:
    """Return the concatenated ``content`` of a result's output items."""
    return "".join(str(item.get("content", "")) for item in result["output"])
