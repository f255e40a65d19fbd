"""A kernel that floods iopub while the gateway's loop is stalled loses nothing.

ZMQ's default high-water marks (1,000 messages at the kernel's PUB socket and 1,000 at the
subscriber) make a PUB socket drop messages once a slow subscriber falls that far behind.
The gateway's own iopub subscription has no receive limit, so its ZMQ I/O thread keeps
draining the kernel while the Python loop is busy.
"""

from __future__ import annotations

import os
import secrets
import signal
import time

import pytest

from pdit_gateway.pytest_plugin import gateway_argv, open_channel, results, server_process

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


async def printed_past_a_stopped_gateway(code: str, *options: str, max_message_size: int) -> str:
    """Run ``code`` on a standalone gateway that is stopped (SIGSTOP) for 3 s while the
    statement runs, as a starved process would be; return the stdout the client received."""
    token = secrets.token_hex(8)
    argv = gateway_argv(
        token, "--PditGatewayApp.db_path=:memory:", "--PditGatewayApp.kernel_pool_size=0", *options
    )
    async with server_process(argv) as (process, port):
        # the result event carries the whole output
        channel = await open_channel(port, token, "stopped", max_message_size=max_message_size)
        await channel.welcome()
        execution_id = await channel.execute(code)
        await channel.until(lambda e: e.get("type") == "running" and e.get("index") == 1)
        os.kill(process.pid, signal.SIGSTOP)  # fault injection, not synchronisation
        try:
            time.sleep(3)
        finally:
            os.kill(process.pid, signal.SIGCONT)
        events = await channel.until(
            lambda e: e.get("type") == "complete" and e.get("executionId") == execution_id, 120
        )
        channel.close()
    assert events[-1]["status"] == "ok"
    return "".join(e["text"] for e in events if e["type"] == "stream")


LINES = 30_000


async def test_a_stopped_gateway_process_loses_no_flushed_line():
    """The whole gateway process (its ZMQ I/O thread too) stops for 3 s while a kernel prints
    30,000 flushed lines, one iopub message each. What the kernel cannot send waits in the TCP
    buffers; the gateway's iopub subscription has a receive buffer large enough to hold the
    backlog (with the system's default buffer and ipykernel's own launcher, lines were lost in 3
    runs of 3)."""
    printed = await printed_past_a_stopped_gateway(
        f"import sys\nfor i in range({LINES}):\n    print(i, flush=True)\n",
        f"--PditGatewayApp.event_log_size={3 * LINES}",
        max_message_size=10 * 1024 * 1024,
    )
    assert printed == "".join(f"{i}\n" for i in range(LINES))


BIG_LINES = 6_000
BIG_LINE = 4096


async def test_a_kernel_queues_what_the_tcp_buffers_cannot_hold():
    """The gateway process stops for 3 s while its kernel prints 6,000 flushed lines of 4 KiB
    (24 MiB): more than the socket buffers on both sides hold, so the kernel's IOPub socket
    queues thousands of messages for the stopped gateway. ipykernel's own launcher keeps
    ZeroMQ's limit of 1,000 there and drops the rest (with ``kernel_iopub_hwm=-1`` this test
    lost lines in 3 runs of 3); the gateway's launcher has no limit, and every line arrives."""
    budget = 4 * BIG_LINES * BIG_LINE
    printed = await printed_past_a_stopped_gateway(
        f"line = 'y' * {BIG_LINE - 12}\n"
        f"for i in range({BIG_LINES}):\n    print(f'{{i:10d}}', line, flush=True)\n",
        f"--PditGatewayApp.event_log_size={3 * BIG_LINES}",
        f"--PditGatewayApp.event_log_bytes={budget}",
        f"--PditGatewayApp.max_output_bytes={budget}",
        f"--PditGatewayApp.max_execution_output_bytes={budget}",
        max_message_size=2 * budget,
    )
    lines = printed.splitlines()
    assert [int(line.split()[0]) for line in lines] == list(range(BIG_LINES))
    assert all(len(line) == BIG_LINE - 1 for line in lines)
