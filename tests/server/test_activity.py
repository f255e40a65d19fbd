"""The server's record of a session kernel's activity: kept by the gateway's own connection where
jupyter_server has the rule it applies (2.15 on), else by the server's own watcher."""

from __future__ import annotations

import asyncio
import json

from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

from pdit_gateway.pytest_plugin import results, texts

#: whether the gateway's connection takes the record over (pdit_gateway.compat.ActivityRecorder)
TAKEN_OVER = hasattr(MappingKernelManager, "untracked_message_types")


async def kernel_model(jp_fetch, kernel_id: str) -> dict:
    return json.loads((await jp_fetch("api", "kernels", kernel_id)).body)


async def wait_state(jp_fetch, kernel_id: str, state: str) -> dict:
    for _ in range(200):
        model = await kernel_model(jp_fetch, kernel_id)
        if model["execution_state"] == state:
            return model
        await asyncio.sleep(0.05)
    raise AssertionError(f"the kernel never looked {state}: {model}")


async def test_rest_shows_busy_idle_and_activity_whoever_keeps_the_record(
    pdit_channel, jp_fetch, jp_serverapp
):
    channel = await pdit_channel("activity")
    await channel.welcome()
    assert texts(results(await channel.run("1 + 1"))[0]) == "2"
    session = jp_serverapp.web_app.settings["pdit_session_manager"].get("activity")
    km = jp_serverapp.kernel_manager.get_kernel(session.kernel_id)
    # the server's watcher is stopped where the gateway keeps the record
    assert (getattr(km, "_activity_stream", None) is None) == TAKEN_OVER
    before = await wait_state(jp_fetch, session.kernel_id, "idle")

    eid = await channel.execute("import time\ntime.sleep(2)\n")
    await wait_state(jp_fetch, session.kernel_id, "busy")
    await channel.until(lambda e: e.get("type") == "complete" and e.get("executionId") == eid)
    after = await wait_state(jp_fetch, session.kernel_id, "idle")
    assert after["last_activity"] > before["last_activity"]

    # a restart brings the server's watcher back; the session takes over again
    await channel.send(type="reset")
    await channel.until(lambda e: e.get("type") == "kernel-status" and e["state"] == "idle")
    assert (getattr(km, "_activity_stream", None) is None) == TAKEN_OVER
    eid = await channel.execute("import time\ntime.sleep(2)\n")
    await wait_state(jp_fetch, session.kernel_id, "busy")
    await channel.until(lambda e: e.get("type") == "complete" and e.get("executionId") == eid)
    again = await wait_state(jp_fetch, session.kernel_id, "idle")
    assert again["last_activity"] > after["last_activity"]
