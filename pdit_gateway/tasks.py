"""Background tasks that are kept referenced until they end."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def spawn(
    tasks: set[asyncio.Task[Any]], coro: Coroutine[Any, Any, Any], name: str
) -> asyncio.Task[Any]:
    """Start ``coro`` as a task kept in ``tasks`` until it ends."""
    task = asyncio.create_task(coro, name=name)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task
