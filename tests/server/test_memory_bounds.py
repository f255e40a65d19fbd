"""Output is bounded where it enters the gateway: displays count, executions and history have
byte budgets, and what is elided is marked (issue 13, point 4; RSS figures: bench/memory.py)."""

from __future__ import annotations

import json
import re

import pytest

from pdit_gateway.pytest_plugin import results

MARKER = re.compile(r"… \[pdit-gateway: (\d+) bytes of output elided(?:, (\d+) of them in .*)?\] …")


@pytest.fixture
def pdit_config():
    return {
        "max_output_bytes": 200_000,
        "output_tail_bytes": 1000,
        "max_execution_output_bytes": 500_000,
        "execution_history_bytes": 1_000_000,
    }


def kept(result) -> int:
    return sum(len(str(item.get("content", ""))) for item in result["output"])


async def test_displays_past_the_limit_are_elided_and_marked(pdit_channel):
    """200 displays of 1 MB made one 200 MB result frame (here: 50 of 100 KB)."""
    channel = await pdit_channel("displays")
    await channel.welcome()
    events = await channel.run(
        "from IPython.display import display\n"
        "for i in range(50):\n"
        "    display({'text/plain': str(i % 10) * 100_000}, raw=True)\n"
    )
    displays = [e for e in events if e["type"] == "display" and e["index"] == 1]
    assert len(displays) == 2
    result = results(events)[-1]
    assert kept(result) < 200_000 + 1000
    marker = [i for i in result["output"] if i["type"] == "stderr" and MARKER.search(i["content"])]
    found = MARKER.search(marker[0]["content"])
    assert found is not None and int(found.group(2)) == 48
    assert int(found.group(1)) == 48 * 100_000
    assert max(len(json.dumps(e)) for e in events) < 300_000


async def test_an_execution_keeps_at_most_its_output_budget(pdit_channel):
    """40 statements of 4 MB kept 160 MB in one execution (here: 20 of 100 KB, 500 KB budget)."""
    channel = await pdit_channel("budget")
    await channel.welcome()
    script = "".join(f"print('{i % 10}' * 100_000)\n" for i in range(20))
    events = await channel.run(script)
    assert events[-1]["status"] == "ok"
    outputs = results(events)
    assert len(outputs) == 20
    assert sum(kept(r) for r in outputs) < 500_000 + 20 * 200
    # the first four fit whole (100,001 bytes each); every later one is marked as elided
    assert all(not MARKER.search(json.dumps(r["output"])) for r in outputs[:4])
    assert all(MARKER.search(r["output"][-1]["content"]) for r in outputs[5:])
    await channel.send(type="get-state", executionId=events[-1]["executionId"])
    state = (await channel.until(lambda e: e["type"] == "state"))[-1]
    assert len(json.dumps(state)) < 600_000


async def test_retained_history_is_bounded_by_bytes(pdit_channel, jp_fetch):
    channel = await pdit_channel("history")
    await channel.welcome()
    ids = []
    for i in range(10):
        events = await channel.run(f"print('{i}' * 150_000)", executionId=f"h{i}")
        assert events[-1]["status"] == "ok"
        ids.append(f"h{i}")
    response = await jp_fetch("pdit", "api", "sessions", "history")
    retained = [x["executionId"] for x in json.loads(response.body)["executions"]]
    assert retained[-1] == "h9" and "h0" not in retained
    assert 150_000 * (len(retained) - 1) <= 1_000_000 < 150_000 * (len(retained) + 1)


async def test_a_kernel_that_queues_its_output_gets_a_bounded_subscription(
    pdit_channel, jp_serverapp
):
    """Three flushed print floods grew the gateway to 1.3 GB: its iopub subscription had no
    receive limit. A kernel that keeps output for a lagging reader itself (the gateway's
    launcher) loses nothing with a bounded one: its backlog waits in the kernel."""
    import zmq

    from pdit_gateway.kernel import IOPUB_RCVHWM

    channel = await pdit_channel("bounded")
    await channel.welcome()
    lines = 20_000
    events = await channel.run(f"for i in range({lines}):\n    print(i, flush=True)\n")
    assert events[-1]["status"] == "ok"
    text = "".join(e["text"] for e in events if e["type"] == "stream")
    assert text == "".join(f"{i}\n" for i in range(lines))
    session = jp_serverapp.web_app.settings["pdit_session_manager"].get("bounded")
    socket = session.kernel.connection._streams["iopub"].socket
    assert socket.getsockopt(zmq.RCVHWM) == IOPUB_RCVHWM > 0
