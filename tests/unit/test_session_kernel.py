"""A kernel that another client restarts through the server is not taken for dead."""

from __future__ import annotations

import asyncio
import concurrent.futures
from types import SimpleNamespace

from pdit_gateway.session_kernel import _restarting_elsewhere


def done_future() -> concurrent.futures.Future[None]:
    future: concurrent.futures.Future[None] = concurrent.futures.Future()
    future.set_result(None)
    return future


def test_a_kernel_being_shut_down_for_a_restart_is_restarting():
    assert _restarting_elsewhere(SimpleNamespace(shutting_down=True, ready=done_future()))


async def test_a_kernel_whose_start_is_pending_is_restarting():
    pending = asyncio.get_running_loop().create_future()
    assert _restarting_elsewhere(SimpleNamespace(shutting_down=False, ready=pending))
    pending.set_result(None)
    assert not _restarting_elsewhere(SimpleNamespace(shutting_down=False, ready=pending))


def test_a_started_kernel_or_one_of_another_shape_is_not():
    assert not _restarting_elsewhere(SimpleNamespace(shutting_down=False, ready=done_future()))
    assert not _restarting_elsewhere(SimpleNamespace())  # a remote kernel manager's kernel
