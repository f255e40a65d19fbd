"""One kernel connection: execute requests out, replies and iopub routed back by parent id."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

Message = dict[str, Any]
Listener = Callable[[str, Message], None]
"""Called with the channel name (``"iopub"`` or ``"shell"``) and the message."""


class KernelConnection:
    """A connection whose incoming messages are dispatched to listeners by parent ``msg_id``.

    Every request the gateway sends registers a listener under its ``msg_id``; iopub
    messages and the shell reply whose ``parent_header.msg_id`` matches go to it, in
    the order each channel delivers them. Listeners are called synchronously, so the
    events they emit keep the kernel's order.
    """

    def __init__(self, log: logging.Logger, name: str) -> None:
        self.log = log
        self.name = name
        self._listeners: dict[str, Listener] = {}
        self._closed = False

    async def start(self, ready_timeout: float) -> None:
        """Connect and wait until the kernel answers on shell and iopub."""
        raise NotImplementedError

    def send_execute(self, content: dict[str, Any]) -> str:
        """Send an ``execute_request`` with ``content``; return its ``msg_id``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop receiving and close the channels."""
        self._closed = True
        self._listeners.clear()

    def execute(self, code: str, listener: Listener, **options: Any) -> str:
        """Send ``code`` and route what answers it to ``listener``; return the ``msg_id``."""
        content = {
            "code": code,
            "silent": options.get("silent", False),
            "store_history": options.get("store_history", True),
            "user_expressions": {},
            "allow_stdin": options.get("allow_stdin", False),
            "stop_on_error": options.get("stop_on_error", True),
        }
        msg_id = self.send_execute(content)
        self._listeners[msg_id] = listener
        return msg_id

    def forget(self, msg_id: str) -> None:
        """Stop routing messages of ``msg_id``."""
        self._listeners.pop(msg_id, None)

    def dispatch(self, channel: str, msg: Message) -> None:
        """Hand one received message to its listener (messages of no request are dropped)."""
        parent = msg.get("parent_header") or {}
        listener = self._listeners.get(parent.get("msg_id", ""))
        if listener is None:
            return
        try:
            listener(channel, msg)
        except Exception:
            self.log.exception(
                "pdit session %s: handling a %s %s message failed",
                self.name,
                channel,
                msg.get("msg_type"),
            )


class ZMQKernelConnection(KernelConnection):
    """A local kernel reached through tornado ``ZMQStream``s, as jupyter_server's own channels are.

    The streams call back for every message, so there is no receive loop to starve: an
    asyncio receive on the shell socket can miss its wake-up when requests are sent on
    that same socket, leaving replies unread (seen with pyzmq 27 under pipelined
    requests); ``ZMQStream`` re-checks the socket after every send.
    """

    def __init__(self, kernel_manager: Any, log: logging.Logger, name: str) -> None:
        super().__init__(log, name)
        self.kernel_manager = kernel_manager
        self.session = kernel_manager.session
        self._streams: dict[str, Any] = {}
        self._seen: set[str] = set()
        self._ready: asyncio.Future[None] | None = None
        self._probe_ids: set[str] = set()

    async def start(self, ready_timeout: float) -> None:
        """Open shell and iopub streams; ping with ``kernel_info`` until both answer."""
        km = self.kernel_manager
        identity = self.session.bsession
        self._streams = {"shell": km.connect_shell(identity=identity), "iopub": km.connect_iopub()}
        for channel, stream in self._streams.items():
            stream.on_recv(functools.partial(self._receive, channel), copy=False)
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        deadline = time.monotonic() + ready_timeout
        # iopub subscriptions take effect asynchronously: repeat the probe until an iopub
        # message of one of our probes arrives, so no output of the first request is lost
        while not self._ready.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await self.close()
                raise TimeoutError(f"kernel did not answer within {ready_timeout:g} s")
            msg = self.session.send(self._streams["shell"], "kernel_info_request")
            self._probe_ids.add(msg["header"]["msg_id"])
            try:
                await asyncio.wait_for(asyncio.shield(self._ready), min(0.25, remaining))
            except asyncio.TimeoutError:
                continue
        self._probe_ids.clear()

    def _receive(self, channel: str, frames: list[Any]) -> None:
        if self._closed:
            return
        try:
            _, parts = self.session.feed_identities(frames, copy=False)
            msg = self.session.deserialize(parts, content=True, copy=False)
        except Exception:
            self.log.exception("pdit session %s: undecodable %s message", self.name, channel)
            return
        if self._probe_ids:
            parent_id = (msg.get("parent_header") or {}).get("msg_id")
            if parent_id in self._probe_ids:
                self._seen.add(channel)
                if {"shell", "iopub"} <= self._seen and self._ready and not self._ready.done():
                    self._ready.set_result(None)
                return
        self.dispatch(channel, msg)

    def send_execute(self, content: dict[str, Any]) -> str:
        """Send on the shell stream."""
        msg = self.session.send(self._streams["shell"], "execute_request", content)
        return str(msg["header"]["msg_id"])

    async def close(self) -> None:
        """Close both streams."""
        await super().close()
        for stream in self._streams.values():
            if not stream.closed():
                stream.on_recv(None)
                stream.close(linger=0)
        self._streams.clear()


class KernelClientLike(Protocol):
    """The part of jupyter_client's ``AsyncKernelClient`` used for remote (gateway) kernels."""

    def start_channels(self) -> Any: ...

    def stop_channels(self) -> None: ...

    async def wait_for_ready(self, timeout: float | None = None) -> None: ...

    async def get_iopub_msg(self, timeout: float | None = None) -> Message: ...

    async def get_shell_msg(self, timeout: float | None = None) -> Message: ...

    def execute(self, code: str, **kwargs: Any) -> str: ...


class ClientKernelConnection(KernelConnection):
    """A kernel reached through its manager's client (gateway mode: a WebSocket to the remote
    gateway), read by one task per channel."""

    def __init__(self, client: KernelClientLike, log: logging.Logger, name: str) -> None:
        super().__init__(log, name)
        self.client = client
        self._tasks: set[asyncio.Task[None]] = set()

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

    def send_execute(self, content: dict[str, Any]) -> str:
        """Send through the client."""
        code = content.pop("code")
        return self.client.execute(code, **content)

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
                self.log.exception("pdit session %s: reading %s failed", self.name, channel)
                await asyncio.sleep(0.1)  # a broken channel must not spin the loop
                continue
            self.dispatch(channel, msg)

    async def close(self) -> None:
        """Stop reading and close the channels."""
        await super().close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self.client.stop_channels()
        except Exception:
            self.log.exception("pdit session %s: closing kernel channels failed", self.name)


def connect(kernel_manager: Any, log: logging.Logger, name: str) -> KernelConnection:
    """Return the right connection for a kernel manager: ZMQ streams for a local kernel,
    the manager's own client for anything else (a remote kernel in gateway mode)."""
    local = getattr(kernel_manager, "shell_port", 0) and hasattr(kernel_manager, "connect_shell")
    from jupyter_server.gateway.managers import GatewayKernelManager

    if local and not isinstance(kernel_manager, GatewayKernelManager):
        return ZMQKernelConnection(kernel_manager, log, name)
    return ClientKernelConnection(kernel_manager.client(), log, name)
