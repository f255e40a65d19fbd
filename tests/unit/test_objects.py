"""Per-object state: timestamps, executions, client writers with a list transport."""

from __future__ import annotations

import asyncio
import logging
import time

from pdit_gateway.clients import Client, ClientGone
from pdit_gateway.eventlog import EventLog
from pdit_gateway.protocol import ExecuteRequest
from pdit_gateway.runner import Execution


def test_timestamps_differ_between_objects_created_apart():
    first = Execution("a", ExecuteRequest(script=""), [])
    time.sleep(0.002)  # the point of the test: two objects made at different moments
    second = Execution("b", ExecuteRequest(script=""), [])
    assert first.created_at < second.created_at
    assert first.snapshot()["createdAt"] != second.snapshot()["createdAt"]
    assert first.created_at.tzinfo is not None


class ListTransport:
    """A transport that records frames; ``gate`` holds each send until released."""

    def __init__(self, gated: bool = False) -> None:
        self.frames: list[str] = []
        self.closed = False
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()
        self.sent = asyncio.Event()

    async def send(self, text: str) -> None:
        if self.closed:
            raise ClientGone
        await self.gate.wait()
        self.frames.append(text)
        self.sent.set()

    def close(self, code=None, reason=None) -> None:
        self.closed = True


class FakeSession:
    def __init__(self, log: EventLog) -> None:
        self.event_log = log
        self.detached: list[Client] = []

    def snapshot(self):
        return {"sessionId": "s", "lastSeq": self.event_log.last_seq}

    def detach(self, client: Client) -> None:
        if client not in self.detached:
            self.detached.append(client)


async def wait_frames(transport: ListTransport, count: int) -> None:
    async def enough() -> None:
        while len(transport.frames) < count:
            transport.sent.clear()
            await transport.sent.wait()

    await asyncio.wait_for(enough(), 5)


async def test_client_streams_in_order_after_start():
    log = EventLog(max_events=100)
    session = FakeSession(log)
    transport = ListTransport()
    client = Client(session, transport, logging.getLogger("t"))
    client.start()
    log.append({"type": "before"})
    client.reply({"type": "welcome"})
    client.start_stream(0)
    for i in range(3):
        log.append({"type": "e", "i": i})
        client.notify()
    await wait_frames(transport, 5)
    kinds = [f.split('"type":"')[1].split('"')[0] for f in transport.frames]
    assert kinds == ["welcome", "before", "e", "e", "e"]
    client.close()
    await client.drained()
    assert session.detached == [client]


async def test_slow_client_falls_back_to_resync_without_buffering():
    log = EventLog(max_events=5)
    session = FakeSession(log)
    transport = ListTransport(gated=True)
    client = Client(session, transport, logging.getLogger("t"), batch=2)
    client.start()
    client.start_stream(0)
    log.append({"type": "e"})
    client.notify()
    await asyncio.sleep(0)  # let the writer take the first batch and block on the gate
    for _ in range(50):  # the log rolls far past the client's cursor
        log.append({"type": "e"})
        client.notify()
    transport.gate.set()
    await wait_frames(transport, 2)
    assert '"seq":1,' in transport.frames[0]
    assert transport.frames[1].startswith('{"type":"resync"')
    assert client.cursor == log.last_seq
    log.append({"type": "after"})
    client.notify()
    await wait_frames(transport, 3)
    assert f'"seq":{log.last_seq},' in transport.frames[2]
    client.close()
    await client.drained()


async def test_client_that_never_reads_replies_is_dropped():
    log = EventLog(max_events=5)
    session = FakeSession(log)
    transport = ListTransport(gated=True)
    client = Client(session, transport, logging.getLogger("t"), max_replies=3)
    client.start()
    for i in range(10):
        client.reply({"type": "pong", "id": i})
    assert transport.closed and client.closed
    await client.drained()
    assert session.detached == [client]


class FailingTransport(ListTransport):
    """Sends like a WebSocket that cannot encode a lone surrogate as UTF-8."""

    def __init__(self) -> None:
        super().__init__()
        self.close_args: tuple[int | None, str | None] | None = None

    async def send(self, text: str) -> None:
        text.encode("utf-8")
        await super().send(text)

    def close(self, code=None, reason=None) -> None:
        self.close_args = (code, reason)
        super().close(code, reason)


async def test_a_writer_that_fails_closes_its_socket_with_1011():
    """A writer that died left its socket open and silent (issue 13, point 3)."""
    log = EventLog(max_events=5)
    session = FakeSession(log)
    transport = FailingTransport()
    client = Client(session, transport, logging.getLogger("t"))
    client.start()
    client.start_stream(0)
    # not made by encode(), which escapes such text: a frame the transport cannot send
    log._events.append(type(log.append({"type": "e"}))(2, {}, '{"x":"\ud800"}'))
    log.last_seq = 2
    client.notify()
    await asyncio.wait_for(client.drained(), 5)
    assert transport.close_args is not None and transport.close_args[0] == 1011
    assert client.closed and session.detached == [client]
