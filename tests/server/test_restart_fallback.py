"""A restarted kernel that ends at once (its old ports taken meanwhile) is replaced by a new one."""

from __future__ import annotations

import json

import pytest

from pdit_gateway.pytest_plugin import results, texts


@pytest.fixture
def pdit_config():
    # far longer than the socket waits: a probe that waited for a dead kernel would fail the test
    return {"kernel_ready_timeout": 600, "kernel_poll_interval": 0}


async def test_a_restarted_kernel_that_dies_at_once_is_replaced(
    jp_serverapp, jp_fetch, pdit_channel
):
    kernels = jp_serverapp.kernel_manager
    restart = kernels.restart_kernel

    async def restart_that_dies(kernel_id, now=False):
        # what the soak saw: the restarted kernel could not bind its old iopub port and ended
        await restart(kernel_id, now=now)
        await kernels.get_kernel(kernel_id).provisioner.kill()

    kernels.restart_kernel = restart_that_dies
    channel = await pdit_channel("replaced")
    await channel.welcome()
    await channel.run("kept = 1")
    before = json.loads((await jp_fetch("pdit", "api", "sessions", "replaced")).body)
    await channel.send(type="reset")
    states = await channel.until(lambda e: e["type"] == "kernel-status" and e["state"] == "idle")
    assert "dead" not in [e["state"] for e in states if e["type"] == "kernel-status"]
    events = await channel.run("'kept' in dir(), 1 + 1")
    assert texts(results(events)[-1]) == "(False, 2)"
    after = json.loads((await jp_fetch("pdit", "api", "sessions", "replaced")).body)
    assert after["kernel"]["id"] != before["kernel"]["id"]
    assert before["kernel"]["id"] not in kernels  # the dead one is gone from the server
