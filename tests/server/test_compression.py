"""permessage-deflate (RFC 7692) on the event channel: fewer bytes, the same events."""

from __future__ import annotations

from typing import Any

from pdit_gateway.pytest_plugin import ChannelClient

LINES = 20_000
PRINTED = "".join(f"{i}\n" for i in range(LINES))


def count_received(client: ChannelClient) -> list[int]:
    """Count the bytes the connection reads from its socket from now on (frames as sent)."""
    stream: Any = client.connection.protocol.stream
    total = [0]
    read = stream.read_from_fd

    def counting(buf: Any) -> int | None:
        n = read(buf)
        if n:
            total[0] += n
        return n

    stream.read_from_fd = counting
    return total


def extensions(client: ChannelClient) -> str:
    return str(client.connection.headers.get("Sec-WebSocket-Extensions", ""))


async def test_a_client_offering_compression_gets_deflated_events(pdit_channel):
    live = await pdit_channel("deflate", compression_options={})
    assert extensions(live).startswith("permessage-deflate")
    received = count_received(live)
    await live.welcome()
    script = f"for i in range({LINES}):\n    print(i)\n" + "".join(
        f"v{i} = {i}\nv{i}\n" for i in range(50)
    )
    events = await live.run(script, wait=120)
    assert events[-1]["status"] == "ok"
    streamed = "".join(e["text"] for e in events if e["type"] == "stream")
    assert streamed == PRINTED
    values = [r["output"][0]["content"] for r in events if r["type"] == "result" and r["output"]]
    assert values == [PRINTED] + [str(i) for i in range(50)]
    # the stream's deltas and the statement's result each carry the printed text once, and
    # together take fewer bytes than that text once (uncompressed: 2.3 times as many)
    assert received[0] < len(PRINTED.encode())

    # the same log replayed in batched writes through a second compressed connection, with
    # replies (pong, written by Tornado with the same compressor) between the batches
    replay = await pdit_channel("deflate", compression_options={})
    await replay.welcome()
    await replay.send(type="resume", lastSeq=0)
    await replay.send(type="ping")
    seen = [e for e in live.received if "seq" in e]
    last = seen[-1]["seq"]
    replayed = await replay.until(lambda e: e.get("seq") == last, 60)
    by_seq = {e["seq"]: e for e in replayed if "seq" in e}
    assert sorted(by_seq) == list(range(1, last + 1))
    assert all(by_seq[e["seq"]] == e for e in seen)
    if not any(e["type"] == "pong" for e in replay.received):
        await replay.until(lambda e: e["type"] == "pong", 10)
    assert (await replay.run("v49 + 1"))[-1]["status"] == "ok"


async def test_compression_is_only_used_when_both_sides_want_it(pdit_channel, jp_serverapp):
    plain = await pdit_channel("plain")
    assert extensions(plain) == ""
    await plain.welcome()
    assert (await plain.run("1 + 1"))[-1]["status"] == "ok"

    jp_serverapp.web_app.settings["pdit_compression_level"] = 0
    refused = await pdit_channel("plain", compression_options={})
    assert extensions(refused) == ""
    await refused.welcome()
    assert (await refused.run("2 + 2"))[-1]["status"] == "ok"
