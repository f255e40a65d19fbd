"""The WebSocket transport: small frames leave at once, a long log leaves in few writes."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct

import pytest

from pdit_gateway.clients import MAX_BATCH_BYTES, Client, ClientGone
from pdit_gateway.compat import text_frame
from pdit_gateway.eventlog import EventLog


def parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """Decode unmasked frames by RFC 6455 (first byte, payload)."""
    frames, pos = [], 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        assert second & 0x80 == 0  # server frames are not masked
        size, pos = second & 0x7F, pos + 2
        if size == 126:
            (size,) = struct.unpack_from("!H", data, pos)
            pos += 2
        elif size == 127:
            (size,) = struct.unpack_from("!Q", data, pos)
            pos += 8
        frames.append((first, data[pos : pos + size]))
        pos += size
    return frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frames_encode_every_length_form(size):
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert parse_frames(text_frame(payload) + text_frame(b"next")) == [
        (0x81, payload),
        (0x81, b"next"),
    ]


async def test_the_channel_socket_has_tcp_nodelay(pdit_channel, jp_serverapp):
    channel = await pdit_channel("nodelay")
    await channel.welcome()
    session = jp_serverapp.web_app.settings["pdit_session_manager"].get("nodelay")
    (client,) = session.clients
    sock = client.transport.handler.ws_connection.stream.socket
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    events = await channel.run("1 + 1")
    assert [e["type"] for e in events] == ["queued", "expressions", "running", "result", "complete"]


async def test_a_long_log_replays_intact_through_batched_writes(pdit_channel):
    live = await pdit_channel("replay-batches")
    await live.welcome()
    # about 1,000 small events and one larger than 64 KiB (the 8-byte length form)
    script = "print('y' * 70000)\n" + "".join(f"print({i})\n" for i in range(300))
    events = await live.run(script, wait=120)
    assert events[-1]["status"] == "ok"
    seen = [e for e in live.received if "seq" in e]

    replay = await pdit_channel("replay-batches")
    await replay.welcome()
    await replay.send(type="resume", lastSeq=0)
    last = seen[-1]["seq"]
    replayed = await replay.until(lambda e: e.get("seq") == last)
    assert replayed[0]["seq"] == 1
    assert [e["seq"] for e in replayed] == list(range(1, last + 1))
    by_seq = {e["seq"]: e for e in replayed}
    assert all(by_seq[e["seq"]] == e for e in seen)
    assert any(e["type"] == "stream" and len(e["text"]) > 65536 for e in replayed)


class BatchTransport:
    """A transport with ``send_many``; each call waits for ``gate``."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.called = asyncio.Event()

    async def send(self, text: str) -> None:
        self.calls.append([text])
        self.called.set()

    async def send_many(self, texts: list[str]) -> None:
        self.calls.append(list(texts))
        self.called.set()
        await self.gate.wait()

    def close(self, code=None, reason=None) -> None:
        pass


class FakeSession:
    def __init__(self, log: EventLog) -> None:
        self.event_log = log

    def snapshot(self):
        return {"sessionId": "s", "lastSeq": self.event_log.last_seq}

    def detach(self, client) -> None:
        pass


async def wait_calls(transport: BatchTransport, count: int) -> None:
    async def enough() -> None:
        while len(transport.calls) < count:
            transport.called.clear()
            await transport.called.wait()

    await asyncio.wait_for(enough(), 5)


async def test_the_writer_batches_the_log_up_to_a_byte_bound():
    log = EventLog(max_events=0)
    text = "z" * (MAX_BATCH_BYTES // 4)
    for i in range(10):
        log.append({"type": "e", "i": i, "text": text})
    transport = BatchTransport()
    client = Client(FakeSession(log), transport, logging.getLogger("t"))
    client.start()
    client.start_stream(0)
    await wait_calls(transport, 4)
    sizes = [len(call) for call in transport.calls]
    assert sum(sizes) == 10 and max(sizes) <= 4 and min(sizes) >= 1
    sent = [json.loads(t)["i"] for call in transport.calls for t in call]
    assert sent == list(range(10))
    assert client.cursor == log.last_seq
    client.close()
    await client.drained()


async def test_a_resume_during_a_batch_write_keeps_its_position():
    log = EventLog(max_events=0)
    for i in range(5):
        log.append({"type": "e", "i": i})
    transport = BatchTransport()
    transport.gate.clear()
    client = Client(FakeSession(log), transport, logging.getLogger("t"))
    client.start()
    client.start_stream(0)
    await wait_calls(transport, 1)  # the batch of 5 is being written
    client.start_stream(2)  # the client resumed meanwhile
    transport.gate.set()
    await wait_calls(transport, 2)
    assert [json.loads(t)["i"] for t in transport.calls[1]] == [2, 3, 4]
    client.close()
    await client.drained()


async def test_a_closed_transport_detaches_the_batching_client():
    log = EventLog(max_events=0)
    log.append({"type": "e"})

    class Closed(BatchTransport):
        async def send_many(self, texts):
            raise ClientGone

    client = Client(FakeSession(log), Closed(), logging.getLogger("t"))
    client.start()
    client.start_stream(0)
    await asyncio.wait_for(client.drained(), 5)
    assert client.closed
