"""Inside a larger server (JupyterLab) the kernel pool starts with the first session."""

from __future__ import annotations

import pytest


@pytest.fixture
def pdit_config():
    return {"kernel_pool_size": 1}


async def test_no_pool_kernel_before_the_first_session(jp_serverapp, pdit_channel):
    manager = jp_serverapp.web_app.settings["pdit_session_manager"]
    # the test server's starter app is not the gateway: it runs as inside JupyterLab
    assert manager.lazy_pool is True
    manager.start()
    assert not manager.pool.ready and manager.pool._starting == 0
    assert list(jp_serverapp.kernel_manager.list_kernel_ids()) == []
    channel = await pdit_channel("first")
    await channel.welcome()
    # the first session fills the pool (its own kernel is not a pooled one: size 1 remains)
    assert manager.pool.ready or manager.pool._starting == 1
