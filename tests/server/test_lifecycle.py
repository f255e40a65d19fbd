"""Bounded memory, history retention and idle-session culling."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from pdit_gateway.pytest_plugin import results, texts
from pdit_gateway.timestamps import utcnow


@pytest.fixture
def pdit_config():
    return {
        "event_log_size": 300,
        "event_log_bytes": 60_000,
        "event_log_total_bytes": 200_000,
        "execution_history_size": 20,
        "max_queue": 600,
        "execution_max_age": 3600,
        "session_idle_timeout": 60,
        "maintenance_interval": 0,  # the tests call maintain() themselves
        "kernel_poll_interval": 0.5,
        "ping_interval": 0,
        "db_path": ":memory:",
        "digest_history_size": 400,
    }


def manager_of(jp_serverapp):
    return jp_serverapp.web_app.settings["pdit_session_manager"]


async def test_500_executions_stay_within_the_bounds(pdit_channel, jp_serverapp):
    channel = await pdit_channel("many")
    await channel.welcome()
    for i in range(500):
        await channel.send(type="execute", executionId=f"e{i}", script=f"v = {i}\nprint(v)\nv")
    await channel.until(lambda e: e["type"] == "complete" and e["executionId"] == "e499", 300)
    session = manager_of(jp_serverapp).get("many")
    assert len(session.executions) <= 20
    assert list(session.executions)[-1] == "e499"
    assert len(session.event_log) <= 300
    assert session.event_log.nbytes <= 60_000
    assert session.event_log.last_seq > 500 * 6  # everything was sequenced, little retained
    assert manager_of(jp_serverapp).budget.used <= 200_000
    # the kernel's replay window: thousands of messages were received, 400 are remembered
    signer = jp_serverapp.kernel_manager.get_kernel(session.kernel_id).session
    assert signer.digest_history_size == 400
    assert 0 < len(signer.digest_history) <= 400


async def test_a_client_that_reads_nothing_does_not_grow_the_gateway(pdit_channel, jp_serverapp):
    mute = await pdit_channel("flood")
    await mute.welcome()
    watcher = await pdit_channel("flood")
    await watcher.welcome()
    await watcher.send(type="resume", lastSeq=0)
    # the mute client starts the run, then never reads again
    await mute.send(
        type="execute",
        executionId="flood",
        script="for i in range(100_000):\n    print('line', i)\n",
    )
    await watcher.until(lambda e: e["type"] == "complete" and e["executionId"] == "flood", 120)
    manager = manager_of(jp_serverapp)
    assert manager.budget.used <= 200_000
    session = manager.get("flood")
    assert session.event_log.nbytes <= 60_000
    result = session.executions["flood"].results[0]
    assert "elided" not in texts(result)  # 100k short lines stay under max_output_bytes
    mute.close()


async def test_history_expires_by_age(pdit_channel, jp_serverapp):
    channel = await pdit_channel("aging")
    await channel.welcome()
    await channel.run("1", executionId="old")
    await channel.run("2", executionId="new")
    manager = manager_of(jp_serverapp)
    session = manager.get("aging")
    session.executions["old"].finished_at = utcnow() - timedelta(hours=2)
    await manager.maintain()
    assert list(session.executions) == ["new"]


async def test_culling_spares_busy_and_connected_sessions(pdit_channel, jp_serverapp, jp_fetch):
    manager = manager_of(jp_serverapp)
    long_ago = utcnow() - timedelta(hours=1)

    connected = await pdit_channel("connected")
    await connected.welcome()
    await connected.run("1")

    running = await pdit_channel("running")
    await running.welcome()
    await running.send(type="execute", executionId="slow", script="import time\ntime.sleep(120)")
    await running.until(lambda e: e["type"] == "running")
    running.close()

    idle = await pdit_channel("idle")
    await idle.welcome()
    await idle.run("1")
    idle.close()
    await jp_fetch("pdit", "api", "sessions", "idle")  # let the server notice the close
    kernel_id = manager.get("idle").kernel_id
    for session_id in ("connected", "running", "idle"):
        manager.get(session_id).last_activity = long_ago

    # the closed sockets detach asynchronously: wait (bounded) until the server saw them go
    async def detached(session_id):
        for _ in range(200):
            if not manager.get(session_id).clients:
                return True
            await jp_fetch("pdit", "api", "sessions")  # one round trip through the server
        return False

    assert await detached("idle")
    assert await detached("running")
    await manager.maintain()
    assert set(manager.sessions) == {"connected", "running"}
    assert kernel_id not in jp_serverapp.kernel_manager
    assert manager.get("running").runner is not None
    listed = json.loads((await jp_fetch("pdit", "api", "sessions")).body)
    assert {s["sessionId"] for s in listed} == {"connected", "running"}
    # a culled session id can be used again: it starts afresh on a new kernel
    again = await pdit_channel("idle")
    await again.welcome()
    assert texts(results(await again.run("'fresh'.upper()"))[0]) == "'FRESH'"
