"""The kernel pool: a new session gets a started kernel, and a used kernel is never handed out again."""

from __future__ import annotations

import pytest

from pdit_gateway.pytest_plugin import results, texts


@pytest.fixture
def pdit_config():
    return {"kernel_pool_size": 1, "digest_history_size": 123}


async def wait_pool_ready(manager, channel_factory):
    """Fill the pool and wait (bounded) until its kernel is connected."""
    pool = manager.pool
    manager.start()
    warm = await channel_factory("warm-up")  # runs on its own; makes the server loop turn
    await warm.welcome()
    for _ in range(600):
        if pool.ready:
            return
        await warm.run("0", wait=30)
    raise AssertionError("the pool never became ready")


async def test_new_sessions_take_pooled_kernels_once(pdit_channel, jp_serverapp):
    manager = jp_serverapp.web_app.settings["pdit_session_manager"]
    await wait_pool_ready(manager, pdit_channel)
    pooled_id = manager.pool.ready[0].kernel_id

    first = await pdit_channel("first")
    welcome = await first.welcome()
    assert welcome["kernel"]["state"] == "idle"  # no start to wait for
    assert manager.get("first").kernel_id == pooled_id
    assert texts(results(await first.run("40 + 2"))[0]) == "42"
    # connected by the pool as a session connects its own kernel: the same replay window
    signer = jp_serverapp.kernel_manager.get_kernel(pooled_id).session
    assert signer.digest_history_size == 123

    # the pool refills with a different kernel; the used one is not handed out again
    await wait_pool_ready(manager, pdit_channel)
    assert manager.pool.ready[0].kernel_id != pooled_id
    second = await pdit_channel("second")
    await second.welcome()
    assert manager.get("second").kernel_id not in (pooled_id, manager.get("warm-up").kernel_id)
    assert texts(results(await second.run("'x' in dir()"))[0]) == "False"


async def test_the_pool_is_shut_down_with_the_server(pdit_channel, jp_serverapp):
    manager = jp_serverapp.web_app.settings["pdit_session_manager"]
    await wait_pool_ready(manager, pdit_channel)
    pooled_id = manager.pool.ready[0].kernel_id
    await manager.shutdown()
    assert pooled_id not in jp_serverapp.kernel_manager
