"""Statements sent ahead to the kernel never leave a run waiting for a reply that has arrived."""

from __future__ import annotations

import asyncio

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
