"""Statements sent ahead to the kernel never leave a run waiting for a reply that has arrived."""

from __future__ import annotations

import asyncio
import time

from pdit_gateway.pytest_plugin import results


async def test_many_pipelined_executions_with_idle_gaps_all_complete(pdit_channel):
    """Regression: an asyncio receive on the shell socket could miss its wake-up while requests
    were sent on it, and a run stalled after its first statement with every reply unread."""
    channel = await pdit_channel("pipeline")
    await channel.welcome()
    script = "".join(f"x{i} = {i}\n" for i in range(200)) + "x199\n"
    for round_number in range(12):
        events = await channel.run(script, wait=30)
        assert events[-1]["status"] == "ok", round_number
        assert len(results(events)) == 201
        # the idle gap between runs is the condition that used to lose the wake-up
        await asyncio.sleep(0.3 if round_number % 2 else 0.0)


async def test_nothing_runs_after_a_failed_statement_while_the_gateway_lags(pdit_channel, tmp_path):
    """Regression (found by the soak): with statements queued in the kernel ahead, one sent
    while the gateway lagged reached the kernel after its stop_on_error abort window and ran
    after the failed statement."""
    channel = await pdit_channel("strict")
    await channel.welcome()
    marker = tmp_path / "ran"
    script = f"import time\nraise ValueError('stop here')\nopen({str(marker)!r}, 'w').close()\n"
    execution_id = await channel.execute(script)
    await channel.until(lambda e: e["type"] == "running" and e.get("index") == 0)
    # Fault injection, not synchronisation: the test shares the server's loop, so this
    # stalls the gateway while the kernel runs (and fails) the next statement.
    time.sleep(0.5)
    events = await channel.until(
        lambda e: e["type"] == "complete" and e["executionId"] == execution_id
    )
    assert events[-1]["status"] == "error"
    (cancelled,) = [e for e in events if e["type"] == "cancelled"]
    assert [x["index"] for x in cancelled["expressions"]] == [2]
    assert not marker.exists()
