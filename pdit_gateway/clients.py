"""Connected clients: one writer per socket, streaming the event log at the socket's pace."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from .protocol import encode

if TYPE_CHECKING:
    from .eventlog import EventLog, LoggedEvent

#: Bytes of logged events a client writer hands to its transport at once (at least one event).
MAX_BATCH_BYTES = 1 << 20

#: WebSocket close code of a client cut off for what it did (RFC 6455: policy violation).
CLOSE_POLICY = 1008
#: WebSocket close code of a connection the gateway failed to serve (RFC 6455: internal error).
CLOSE_INTERNAL = 1011


class ClientGone(Exception):
    """The transport was closed; the client is detached, nothing else happens."""


class Transport(Protocol):
    """One client connection as the core sees it (the Tornado handler is one adapter).

    A transport may also have ``async send_many(texts: list[str])``: send the frames in
    order, in as few writes as it can, and wait until it has taken them all (raising
    ``ClientGone`` if closed). Clients then stream the log in batches of up to
    ``MAX_BATCH_BYTES`` instead of one frame at a time.
    """

    async def send(self, text: str) -> None:
        """Send one frame; wait until the transport has taken it. Raise ``ClientGone`` if closed."""

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the connection."""


class SnapshotSource(Protocol):
    """What a client needs of its session."""

    event_log: EventLog

    def snapshot(self) -> dict[str, Any]: ...

    def detach(self, client: Client) -> None: ...


class Client:
    """A socket attached to a session.

    Replies to this client (``welcome``, ``pong``, ``state``, ``error``, ``busy``,
    ``resync``) go out first, in the order made. Session events are read from the
    event log from a cursor: nothing is queued per client, so a slow client costs
    no memory; one that falls out of the retained log gets a ``resync`` snapshot.
    The stream starts with :meth:`start_stream`.

    Parameters
    ----------
    session : SnapshotSource
        The session whose events are sent.
    transport : Transport
        The connection.
    max_replies : int
        How many replies may wait unsent before the client is dropped as unresponsive.
    """

    def __init__(
        self,
        session: SnapshotSource,
        transport: Transport,
        log: logging.Logger,
        max_replies: int = 1000,
        batch: int = 512,
    ) -> None:
        self.session = session
        self.transport = transport
        self.log = log
        self.max_replies = max_replies
        self.batch = batch
        self.cursor = 0
        self._generation = 0
        self.streaming = False
        self.closed = False
        self._replies: deque[str] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._send_many: Callable[[list[str]], Awaitable[None]] | None = getattr(
            transport, "send_many", None
        )

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._write_loop(), name="pdit-client-writer")

    def notify(self) -> None:
        """Tell the writer that the log has grown."""
        if self.streaming:
            self._wake.set()

    def reply(self, payload: dict[str, Any]) -> None:
        """Send ``payload`` to this client only (not recorded in the session log)."""
        if self.closed:
            return
        if len(self._replies) >= self.max_replies:
            self.log.warning("pdit client is not reading its replies; closing it")
            self.close(
                CLOSE_POLICY, f"more than {self.max_replies} replies wait unread: not reading"
            )
            return
        self._replies.append(encode(payload))
        self._wake.set()

    def start_stream(self, after_seq: int) -> None:
        """Stream session events with ``seq > after_seq`` from now on."""
        self.cursor = after_seq
        self._generation += 1
        self.streaming = True
        self._wake.set()

    async def _write_loop(self) -> None:
        log = self.session.event_log
        try:
            while not self.closed:
                if self._replies:
                    await self.transport.send(self._replies.popleft())
                    continue
                if self.streaming:
                    batch = log.since(self.cursor, self.batch)
                    if batch is None:
                        snapshot = self.session.snapshot()
                        self.cursor = snapshot["lastSeq"]
                        await self.transport.send(encode({"type": "resync", **snapshot}))
                        continue
                    if batch and self._send_many is not None:
                        batch = _first_bytes(batch, MAX_BATCH_BYTES)
                        generation = self._generation
                        await self._send_many([entry.text for entry in batch])
                        if self._generation == generation:  # else a resume moved the stream
                            self.cursor = batch[-1].seq
                        continue
                    if batch:
                        generation = self._generation
                        for entry in batch:
                            self.cursor = entry.seq
                            await self.transport.send(entry.text)
                            if self._generation != generation:
                                break  # a resume moved the stream while we were sending
                        continue
                self._wake.clear()
                await self._wake.wait()
        except ClientGone:
            pass
        except Exception:
            # a frame that cannot be sent must not leave the socket open and silent
            self.log.exception("pdit client writer failed; closing its connection")
            if not self.closed:
                self.closed = True
                self.transport.close(CLOSE_INTERNAL, "the gateway failed to send an event")
        finally:
            self.closed = True
            self.session.detach(self)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the connection and stop the writer."""
        if not self.closed:
            self.closed = True
            self._wake.set()
            self.transport.close(code, reason)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.session.detach(self)

    async def drained(self) -> None:
        """Wait until the writer has ended (for tests and shutdown)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


def _first_bytes(batch: list[LoggedEvent], limit: int) -> list[LoggedEvent]:
    """Return the leading events of ``batch`` whose sizes add up to at most ``limit`` (at
    least one)."""
    total = 0
    for count, entry in enumerate(batch):
        total += entry.size
        if total > limit and count:
            return batch[:count]
    return batch
