"""One kernel connection: execute requests out, replies and iopub routed back by parent id."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any, Protocol

Message = dict[str, Any]
Listener = Callable[[str, Message], None]
"""Called with the channel name (``"iopub"`` or ``"shell"``) and the message."""


class KernelClientLike(Protocol):
    """The part of jupyter_client's ``AsyncKernelClient`` the gateway uses."""

    def start_channels(self) -> Any: ...

    def stop_channels(self) -> None: ...

    async def wait_for_ready(self, timeout: float | None = None) -> None: ...

    async def get_iopub_msg(self, timeout: float | None = None) -> Message: ...

    async def get_shell_msg(self, timeout: float | None = None) -> Message: ...

    def execute(self, code: str, **kwargs: Any) -> str: ...


class KernelConnection:
    """A started kernel client whose two reader tasks dispatch messages to listeners.

    Every request the gateway sends registers a listener under its ``msg_id``; iopub
    messages and the shell reply whose ``parent_header.msg_id`` matches go to it, in
    the order each channel delivers them. Messages for no listener go to ``on_other``.

    Parameters
    ----------
    client : KernelClientLike
        A kernel client from the kernel manager (``km.client()``), not yet started.
    log : logging.Logger
        Where reader failures are logged.
    name : str
        A label for log lines (the session id).
    """

    def __init__(self, client: KernelClientLike, log: logging.Logger, name: str) -> None:
        self.client = client
        self.log = log
        self.name = name
        self.on_other: Callable[[str, Message], None] | None = None
        self._listeners: dict[str, Listener] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def start(self, ready_timeout: float) -> None:
        """Start the channels, wait until the kernel answers, then start reading."""
        started = self.client.start_channels()
        if inspect.isawaitable(started):
            await started
        await self.client.wait_for_ready(timeout=ready_timeout)
        for channel in ("iopub", "shell"):
            task = asyncio.create_task(self._read(channel), name=f"pdit-{channel}-{self.name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def execute(self, code: str, listener: Listener, **options: Any) -> str:
        """Send an ``execute_request`` and route what answers it to ``listener``."""
        msg_id = self.client.execute(code, **options)
        self._listeners[msg_id] = listener
        return msg_id

    def forget(self, msg_id: str) -> None:
        """Stop routing messages of ``msg_id``."""
        self._listeners.pop(msg_id, None)

    async def _read(self, channel: str) -> None:
        get = self.client.get_iopub_msg if channel == "iopub" else self.client.get_shell_msg
        while not self._closed:
            try:
                msg = await get()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._closed:
                    return
                self.log.exception(
                    "pdit session %s: reading the %s channel failed", self.name, channel
                )
                await asyncio.sleep(0.1)  # a broken channel must not spin the loop
                continue
            parent = msg.get("parent_header") or {}
            listener = self._listeners.get(parent.get("msg_id", ""))
            try:
                if listener is not None:
                    listener(channel, msg)
                elif self.on_other is not None:
                    self.on_other(channel, msg)
            except Exception:
                self.log.exception(
                    "pdit session %s: handling a %s %s message failed",
                    self.name,
                    channel,
                    msg.get("msg_type"),
                )

    async def close(self) -> None:
        """Stop reading and close the channels."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._listeners.clear()
        try:
            self.client.stop_channels()
        except Exception:
            self.log.exception("pdit session %s: closing kernel channels failed", self.name)
