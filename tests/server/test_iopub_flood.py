"""A kernel that floods iopub while the gateway's loop is stalled loses nothing.

ZMQ's default high-water marks (1,000 messages at the kernel's PUB socket and 1,000 at the
subscriber) make a PUB socket drop messages once a slow subscriber falls that far behind.
The gateway's own iopub subscription has no receive limit, so its ZMQ I/O thread keeps
draining the kernel while the Python loop is busy.
"""

from __future__ import annotations

import time

import pytest

from pdit_gateway.pytest_plugin import results

MESSAGES = 12_000


@pytest.fixture
def pdit_config():
    # every display is an event: keep them all in the log for the reader that catches up
    return {"event_log_size": 4 * MESSAGES}


async def test_iopub_messages_survive_a_stalled_gateway_loop(pdit_channel, tmp_path):
    channel = await pdit_channel("flood")
    await channel.welcome()
    done = tmp_path / "flooded"
    # one statement: the stalled gateway would not send a second one
    script = (
        f"for i in range({MESSAGES}):\n"
        "    display(i)\n"
        "else:\n"
        f"    open({str(done)!r}, 'w').close()\n"
    )
    await channel.execute(script)
    await channel.until(lambda e: e["type"] == "running" and e.get("index") == 0)
    # Fault injection, not synchronisation: the test shares the server's event loop, so
    # blocking here stalls the gateway for as long as the kernel floods its iopub.
    deadline = time.monotonic() + 90
    while not done.exists():
        assert time.monotonic() < deadline, "the kernel did not finish its flood"
        time.sleep(0.01)
    events = await channel.until(lambda e: e["type"] == "complete", wait=90)
    (flood,) = results(events)
    assert flood["status"] == "ok"
    shown = [item["content"] for item in flood["output"]]
    assert shown == [str(i) for i in range(MESSAGES)]
