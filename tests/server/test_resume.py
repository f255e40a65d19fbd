"""Reconnect and resume: replay, resync snapshots, repositioning, and runs that never wait."""

from __future__ import annotations

import random
from typing import Any

import pytest

from pdit_gateway.jsontypes import JSONDict
from pdit_gateway.pytest_plugin import ChannelClient, results, texts

BASE_CONFIG = {"interrupt_grace": 3.0, "kernel_poll_interval": 0.5, "ping_interval": 0}
SMALL_LOG = {**BASE_CONFIG, "event_log_size": 20}
# no output or log byte limits: a run may print more than the defaults hold
UNLIMITED = {**BASE_CONFIG, "max_output_bytes": 0, "event_log_bytes": 0}

# 60 flushed lines, 20 ms apart, then an expression: one stream event a line
DROP_LINES = 60
DROP_SCRIPT = (
    "import time\n"
    f"for i in range({DROP_LINES}):\n"
    "    print(f'line {i:02d}', flush=True)\n"
    "    time.sleep(0.02)\n"
    "'done-' + str(i)\n"
)


def session_events(frames: list[JSONDict]) -> list[JSONDict]:
    """Return the frames that are session events (they carry a ``seq``)."""
    return [f for f in frames if "seq" in f]


def contiguous(seqs: list[int]) -> bool:
    return seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def stream_text(events: list[JSONDict], execution_id: str) -> str:
    return "".join(
        e["text"] for e in events if e["type"] == "stream" and e.get("executionId") == execution_id
    )


async def last_seq(channel: ChannelClient) -> int:
    """Ask the session's ``lastSeq`` with a ``ping`` (the ``pong`` may overtake events)."""
    await channel.send(type="ping", id="where")
    pongs = await channel.until(lambda e: e["type"] == "pong" and e["id"] == "where")
    return int(pongs[-1]["lastSeq"])


async def read_to(channel: ChannelClient, seq: int) -> list[JSONDict]:
    """Read until the channel is at ``seq``: an event with that ``seq`` or a resync at/after it."""
    position = max([e["seq"] for e in session_events(channel.received)] or [0])
    resyncs = [e["lastSeq"] for e in channel.received if e["type"] == "resync"]
    if max([position, *resyncs]) >= seq:
        return []
    return await channel.until(
        lambda e: e.get("seq", -1) >= seq or (e["type"] == "resync" and e["lastSeq"] >= seq)
    )


async def test_three_drops_mid_run_lose_and_repeat_nothing(pdit_channel):
    rng = random.Random(20240611)
    # drop points by the count of stream events received so far (over all connections)
    drops = sorted(rng.sample(range(1, DROP_LINES - 15), 3))
    channel = await pdit_channel("drops")
    welcome = await channel.welcome()
    execution_id = await channel.execute(DROP_SCRIPT, executionId="dropped")
    seen: list[JSONDict] = []
    pending = list(drops)
    streams = 0
    reconnects = 0
    while True:
        event = await channel.recv()
        assert "seq" in event, event  # nothing but session events is expected here
        seen.append(event)
        if event["type"] == "complete" and event["executionId"] == execution_id:
            break
        if event["type"] == "stream":
            streams += 1
            if pending and streams == pending[0]:
                pending.pop(0)
                channel.close()
                channel = await pdit_channel("drops")
                again = await channel.welcome()
                assert execution_id in [x["executionId"] for x in again["executions"]]
                await channel.send(type="resume", lastSeq=max(e["seq"] for e in seen))
                reconnects += 1
    assert reconnects == 3, f"the run ended after {streams} stream events, drops at {drops}"
    # after complete, read up to the session's lastSeq: no second complete or result comes
    rest = await read_to(channel, await last_seq(channel))
    seen += session_events(rest)
    seqs = [e["seq"] for e in seen]
    assert seqs == list(range(welcome["lastSeq"] + 1, welcome["lastSeq"] + 1 + len(seqs)))
    mine = [e for e in seen if e.get("executionId") == execution_id]
    printed = "".join(f"line {i:02d}\n" for i in range(DROP_LINES))
    assert stream_text(mine, execution_id) == printed
    assert [r["index"] for r in results(mine)] == [0, 1, 2]
    assert texts(results(mine)[2]) == f"'done-{DROP_LINES - 1}'"
    completes = [e for e in mine if e["type"] == "complete"]
    assert len(completes) == 1 and completes[0]["status"] == "ok"
    assert [e["type"] for e in mine].count("queued") == 1


@pytest.mark.parametrize("pdit_config", [SMALL_LOG], ids=["event_log_size=20"])
async def test_resume_from_a_dropped_position_gets_one_resync_then_live(pdit_channel):
    runner = await pdit_channel("gap")
    await runner.welcome()
    script = "".join(f"{i} * 3\n" for i in range(30))
    events = await runner.run(script, executionId="many")
    assert events[-1]["status"] == "ok" and events[-1]["seq"] > 2 * 20  # seq 1 is long gone
    late = await pdit_channel("gap")
    await late.welcome()
    await late.send(type="resume", lastSeq=0)
    resync = await late.recv()
    assert resync["type"] == "resync"
    assert "seq" not in resync and resync["sessionId"] == "gap"
    assert resync["lastSeq"] >= events[-1]["seq"]
    assert resync["current"] is None and resync["queue"] == []
    (snapshot,) = [x for x in resync["executions"] if x["executionId"] == "many"]
    assert snapshot["status"] == "ok"
    expressions = next(e for e in events if e["type"] == "expressions")["expressions"]
    assert snapshot["expressions"] == expressions
    assert sorted(snapshot["results"], key=int) == [str(i) for i in range(30)]
    assert all(r["status"] == "ok" for r in snapshot["results"].values())
    assert [texts(snapshot["results"][str(i)]) for i in range(30)] == [
        str(i * 3) for i in range(30)
    ]
    assert "running" not in snapshot
    # live from the snapshot's lastSeq on, and no second resync
    after = await late.run("'af' + 'ter'", executionId="after")
    assert texts(results(after)[0]) == "'after'"
    later = late.received[2:]
    assert [f["type"] for f in later].count("resync") == 0
    seqs = [e["seq"] for e in session_events(later)]
    assert len(seqs) == len(later)  # nothing but session events after the resync
    assert seqs[0] == resync["lastSeq"] + 1 and contiguous(seqs)


@pytest.mark.parametrize("pdit_config", [SMALL_LOG], ids=["event_log_size=20"])
async def test_resync_mid_run_holds_the_running_statement_output_so_far(pdit_channel):
    runner = await pdit_channel("mid")
    await runner.welcome()
    # more than 20 events first, so that seq 1 is no longer retained
    await runner.run("".join(f"w{i} = {i}\n" for i in range(15)))
    watcher = await pdit_channel("mid")
    await watcher.send(type="resume", lastSeq=(await watcher.welcome())["lastSeq"])
    lines = [f"line {i:03d}\n" for i in range(400)]
    await runner.execute(
        "import time\n"
        f"for i in range({len(lines)}):\n"
        "    print(f'line {i:03d}', flush=True)\n"
        "    time.sleep(0.05)\n",
        executionId="slow",
    )
    printed: list[str] = []

    def ten_lines(event: JSONDict) -> bool:
        if event["type"] == "stream" and event.get("executionId") == "slow":
            printed.append(event["text"])
        return "".join(printed).count("\n") >= 10

    await watcher.until(ten_lines)
    seen_by_watcher = "".join(printed)
    late = await pdit_channel("mid")
    await late.welcome()
    await late.send(type="resume", lastSeq=0)
    resync = await late.recv()
    assert resync["type"] == "resync"
    assert resync["current"] == "slow"
    (snapshot,) = [x for x in resync["executions"] if x["executionId"] == "slow"]
    assert snapshot["status"] == "running"
    assert snapshot["running"]["index"] == 1
    assert [item["type"] for item in snapshot["running"]["output"]] == ["stdout"]
    so_far = snapshot["running"]["output"][0]["content"]
    assert so_far.startswith(seen_by_watcher)
    assert "".join(lines).startswith(so_far)
    assert sorted(snapshot["results"]) == ["0"]  # the import ended, the loop did not
    # the snapshot plus the live events after its lastSeq make the whole output
    await late.send(type="cancel", executionId="slow")
    live = await late.until(lambda e: e["type"] == "complete" and e["executionId"] == "slow")
    seqs = [e["seq"] for e in session_events(live)]
    assert seqs[0] == resync["lastSeq"] + 1 and contiguous(seqs)
    assert live[-1]["status"] == "cancelled"
    loop_result = next(r for r in results(live) if r["index"] == 1)
    final = loop_result["output"][0]["content"]
    assert so_far + stream_text(live, "slow") == final
    assert "".join(lines).startswith(final)
    assert loop_result["output"][-1]["ename"] == "KeyboardInterrupt"


async def test_a_new_tab_replays_the_whole_session_from_seq_1(pdit_channel):
    first = await pdit_channel("tab")
    await first.welcome()
    events = await first.run("print('hi')\nx = 6\nx * 7\n", executionId="r")
    tab = await pdit_channel("tab")
    welcome = await tab.welcome()
    assert [x["executionId"] for x in welcome["executions"]] == ["r"]
    await tab.send(type="resume", lastSeq=0)
    replay = await tab.until(lambda e: e.get("seq") == welcome["lastSeq"])
    assert [e["seq"] for e in replay] == list(range(1, welcome["lastSeq"] + 1))
    assert replay[0]["type"] == "kernel-status" and replay[0]["state"] == "starting"
    run = [e for e in replay if e.get("executionId") == "r"]
    assert run == events  # the same events, seq and ts included
    assert run[0]["type"] == "queued" and run[-1]["type"] == "complete"
    assert [e["type"] for e in run].count("complete") == 1
    # the replay is exactly what the first tab saw live
    live = session_events(first.received)
    assert replay[live[0]["seq"] - 1 : live[-1]["seq"]] == live
    await tab.send(type="get-state")
    state = (await tab.until(lambda e: e["type"] == "state"))[-1]
    (snapshot,) = state["session"]["executions"]
    assert snapshot["executionId"] == "r" and snapshot["status"] == "ok"
    assert snapshot["results"] == {str(r["index"]): r for r in results(run)}
    assert texts(snapshot["results"]["2"]) == "42"
    assert state["session"]["lastSeq"] == welcome["lastSeq"]


async def test_a_later_resume_sends_the_events_after_the_new_position_again(pdit_channel):
    channel = await pdit_channel("again")
    await channel.welcome()
    events = await channel.run("1\n2\n3\n", executionId="once")
    end = await last_seq(channel)
    await read_to(channel, end)
    before = session_events(channel.received)
    assert before[-1]["seq"] == end
    back = next(e for e in events if e["type"] == "expressions")["seq"]
    await channel.send(type="resume", lastSeq=back)
    again = await channel.until(lambda e: e.get("seq") == end)
    assert session_events(again) == again  # no reply, only events
    assert again == [e for e in before if e["seq"] > back]  # sent again, the same frames
    # a resume at the current position sends nothing again; live events follow on
    await channel.send(type="resume", lastSeq=end)
    follow = await channel.run("4", executionId="next")
    assert texts(results(follow)[0]) == "4"
    position = await last_seq(channel)
    await read_to(channel, position)
    tail = [e["seq"] for e in session_events(channel.received)][len(before) + len(again) :]
    assert tail == list(range(end + 1, position + 1))


@pytest.mark.parametrize("pdit_config", [UNLIMITED], ids=["no-output-limit"])
async def test_a_later_resume_repositions_a_stream_that_is_still_being_written(pdit_channel):
    # far more than the socket buffers hold: the connection's writer is blocked mid-stream
    statements = 300
    chunk = 100_000
    script = "".join(f"print('{i:03d}' + 'x' * {chunk})\n" for i in range(statements))
    reader = await pdit_channel("busy-writer")
    await reader.send(type="resume", lastSeq=(await reader.welcome())["lastSeq"])
    behind = await pdit_channel("busy-writer")
    welcome = await behind.welcome()
    await behind.send(type="execute", executionId="big", script=script)
    done = await reader.until(lambda e: e["type"] == "complete" and e["executionId"] == "big")
    assert done[-1]["status"] == "ok"
    back = next(e for e in done if e["type"] == "expressions")["seq"]
    # `behind` has read nothing yet; it moves its stream back to just after `expressions`
    await behind.send(type="resume", lastSeq=back)
    end = await last_seq(behind)
    await behind.until(lambda e: e.get("seq") == end)
    seqs = [e["seq"] for e in session_events(behind.received)]
    restart = next((i for i in range(1, len(seqs)) if seqs[i] <= seqs[i - 1]), None)
    assert restart is not None, (
        f"resume lastSeq={back} had no effect: the stream ran on from seq {seqs[0]} to "
        f"{seqs[-1]} and nothing after {back} was sent again"
    )
    assert seqs[:restart] == list(range(welcome["lastSeq"] + 1, seqs[restart - 1] + 1))
    assert seqs[restart:] == list(range(back + 1, end + 1))


async def test_a_resume_beyond_the_newest_event_gets_a_resync(pdit_channel):
    channel = await pdit_channel("ahead")
    welcome = await channel.welcome()
    await channel.send(type="resume", lastSeq=welcome["lastSeq"] + 1000)
    resync = (await channel.until(lambda e: e["type"] == "resync"))[-1]
    assert resync["sessionId"] == "ahead"
    events = await channel.run("5", executionId="five")
    assert texts(results(events)[0]) == "5"
    seqs = [e["seq"] for e in session_events(channel.received)]
    assert seqs[0] == resync["lastSeq"] + 1 and contiguous(seqs)


def check_order(frames: list[JSONDict], position: int) -> dict[str, Any]:
    """Check that events and resyncs after ``position`` never go back, skip or repeat."""
    resyncs = 0
    for frame in frames:
        if frame["type"] == "resync":
            assert frame["lastSeq"] > position, (position, frame["lastSeq"])
            position = frame["lastSeq"]
            resyncs += 1
        elif "seq" in frame:
            assert frame["seq"] == position + 1, (position, frame["seq"])
            position = frame["seq"]
    return {"position": position, "resyncs": resyncs}


@pytest.mark.parametrize("pdit_config", [SMALL_LOG], ids=["event_log_size=20"])
async def test_the_run_never_waits_for_a_client_that_does_not_read(pdit_channel):
    lines = 20_000
    reader = await pdit_channel("stall")
    await reader.send(type="resume", lastSeq=(await reader.welcome())["lastSeq"])
    idle = await pdit_channel("stall")
    # 20,000 lines as fast as the kernel prints them, flushed every 50: 400 stream events
    await idle.send(
        type="execute",
        executionId="flood",
        script=(
            "import sys\n"
            f"for i in range({lines}):\n"
            "    print(f'{i:05d} ' + 'x' * 40)\n"
            "    if i % 50 == 49:\n"
            "        sys.stdout.flush()\n"
            "'flooded'\n"
        ),
    )

    # `idle` reads nothing until the reader has seen the run end (the reader itself may
    # fall behind the small log: then a resync tells it the run is over)
    def finished(event: JSONDict) -> bool:
        if event["type"] == "resync":
            flood = [x for x in event["executions"] if x["executionId"] == "flood"]
            return bool(flood) and flood[0]["status"] not in ("queued", "running")
        return event["type"] == "complete" and event["executionId"] == "flood"

    await reader.until(finished)
    printed = "".join(f"{i:05d} {'x' * 40}\n" for i in range(lines))
    # now read: either every event in order, or a resync and live events after it
    welcome = await idle.welcome()
    end = await last_seq(idle)
    await read_to(idle, end)
    seen = check_order(idle.received[1:], welcome["lastSeq"])
    assert seen["position"] == end
    assert await last_seq(idle) == end
    completes = [e for e in idle.received if e["type"] == "complete"]
    assert len(completes) <= 1
    if seen["resyncs"] == 0:
        assert stream_text(idle.received, "flood") == printed
        assert completes[0]["executionId"] == "flood" and completes[0]["status"] == "ok"
    else:
        # the last snapshot plus the stream events after it make the whole output
        last = max(i for i, e in enumerate(idle.received) if e["type"] == "resync")
        (flood,) = [x for x in idle.received[last]["executions"] if x["executionId"] == "flood"]
        after = stream_text(idle.received[last + 1 :], "flood")
        if "1" in flood["results"]:
            assert texts(flood["results"]["1"]) + after == printed
            assert flood["status"] == "ok" or completes[0]["status"] == "ok"
        else:
            assert flood["running"]["index"] == 1
            assert texts(flood["running"]) + after == printed
            assert completes[0]["status"] == "ok"
