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
    # a document's session (JupyterLab's) cannot use a pooled kernel: the pool stays empty
    document = await pdit_channel("doc", params={"path": "doc.py"})
    await document.welcome()
    assert not manager.pool.ready and manager.pool._starting == 0
    # the first session that can use one starts the pool
    channel = await pdit_channel("first")
    await channel.welcome()
    assert manager.pool.ready or manager.pool._starting == 1
