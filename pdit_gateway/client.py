"""A client of the gateway's protocol v1: an address, a session's channel, an execution's events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from .jsontypes import JSONDict

__all__ = [
    "EOF_INPUT",
    "ChannelConnection",
    "GatewayAddress",
    "RunFailure",
    "execute_frame",
    "execution_events",
    "session_channel",
]


#: Seconds to connect (HTTP and WebSocket) and to get the ``welcome``.
CONNECT_TIMEOUT = 30.0
#: Seconds to wait for the ``complete`` of a cancelled execution.
CANCEL_WAIT = 5.0
#: Seconds for deleting a session when its channel is left.
SHUTDOWN_TIMEOUT = 30.0
#: Seconds between WebSocket pings, and without a pong before the connection counts as lost.
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
#: Largest event frame accepted, in bytes (results carry whole images).
MAX_EVENT_SIZE = 512 * 1024 * 1024
#: What ipykernel takes as the end of input (``input()`` raises ``EOFError``): the value of
#: an ``input-reply`` when there is no more input.
EOF_INPUT = "\x04"


class RunFailure(Exception):
    """The gateway could not be reached, refused a request, or closed the connection."""


@dataclass(frozen=True)
class GatewayAddress:
    """Where a gateway listens: the server's base URL (with ``/``) and its token."""

    base_url: str
    token: str | None

    @classmethod
    def parse(cls, url: str, token: str | None) -> GatewayAddress:
        """Read ``http(s)://`` or ``ws(s)://host:port/base_url/``; ``?token=`` is the default token.

        Raises
        ------
        ValueError
            When the URL is not an http(s) or ws(s) URL with a host.
        """
        parts = urlsplit(url)
        scheme = {"http": "http", "ws": "http", "https": "https", "wss": "https"}.get(
            parts.scheme.lower()
        )
        if scheme is None or not parts.netloc:
            raise ValueError(f"{url!r}: expected http://HOST:PORT/ (or https, ws, wss)")
        if token is None:
            tokens = parse_qs(parts.query).get("token")
            token = tokens[0] if tokens else None
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return cls(urlunsplit((scheme, parts.netloc, path, "", "")), token)

    def http(self, *path: str) -> str:
        """Return the URL of a REST path under the base URL."""
        return self.base_url + "/".join(quote(part, safe="") for part in path)

    def ws(self, *path: str) -> str:
        """Return the ``ws(s)://`` URL of a WebSocket path under the base URL."""
        return "ws" + self.http(*path)[len("http") :]

    @classmethod
    def local(cls, port: int, token: str | None) -> GatewayAddress:
        """Return the address of a gateway on ``127.0.0.1:port`` (base URL ``/``)."""
        return cls(f"http://127.0.0.1:{port}/", token)

    def channel_url(self, session_id: str) -> str:
        """Return the ``ws(s)://`` URL of a session's protocol v1 channel."""
        return self.ws("pdit", "api", "sessions", session_id, "channel")

    def headers(self) -> dict[str, str]:
        """Return the authentication header (none without a token)."""
        return {"Authorization": f"token {self.token}"} if self.token else {}


def _http_failure(address: GatewayAddress, err: Exception) -> RunFailure:
    from tornado.httpclient import HTTPClientError

    where = address.base_url
    if isinstance(err, HTTPClientError):
        if err.code in (401, 403):
            return RunFailure(f"{where}: authentication failed (HTTP {err.code}); check the token")
        if err.code == 404:
            return RunFailure(f"{where}: no pdit gateway there (HTTP 404)")
        if err.code == 599:
            return RunFailure(f"{where}: cannot connect: {err.message}")
        return RunFailure(f"{where}: the gateway answered HTTP {err.code} {err.message or ''}")
    if isinstance(err, asyncio.TimeoutError):
        return RunFailure(f"{where}: no answer within {CONNECT_TIMEOUT:g} s")
    return RunFailure(f"{where}: cannot connect: {err}")


class ChannelConnection:
    """One WebSocket connection to a session's protocol v1 channel, and the REST calls around it.

    Frames are queued as they arrive; :meth:`recv` returns ``None`` when the connection closed.
    """

    def __init__(self, address: GatewayAddress) -> None:
        from tornado.httpclient import AsyncHTTPClient

        self.address = address
        self.http = AsyncHTTPClient(force_instance=True)
        self._frames: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._connection: Any = None

    async def _fetch(self, method: str, *path: str, body: Any = None) -> Any:
        from tornado.httpclient import HTTPRequest

        request = HTTPRequest(
            self.address.http(*path),
            method=method,
            headers=self.address.headers(),
            body=None if body is None else json.dumps(body),
            connect_timeout=CONNECT_TIMEOUT,
            request_timeout=CONNECT_TIMEOUT,
        )
        try:
            response = await self.http.fetch(request)
        except Exception as err:  # tornado/OS errors: the gateway cannot be used
            raise _http_failure(self.address, err) from None
        return json.loads(response.body) if response.body else None

    async def check_kernel(self, name: str) -> None:
        """Fail with a list of the kernels there are when ``name`` is not one of them."""
        specs = await self._fetch("GET", "api", "kernelspecs")
        known = sorted((specs or {}).get("kernelspecs", {}))
        if name not in known:
            raise RunFailure(f"no kernel named {name!r} (there are: {', '.join(known) or 'none'})")

    async def kernelspec(self, name: str | None) -> dict[str, str] | None:
        """Return ``{name, display_name, language}`` of a kernel spec (None: the default)."""
        specs = await self._fetch("GET", "api", "kernelspecs") or {}
        name = name or specs.get("default")
        entry = (specs.get("kernelspecs") or {}).get(name)
        spec = entry.get("spec") if isinstance(entry, dict) else None
        if not isinstance(spec, dict):
            return None
        return {
            "name": str(name),
            "display_name": str(spec.get("display_name", name)),
            "language": str(spec.get("language", "")),
        }

    async def open_session(
        self, session_id: str, kernel_name: str | None, path: str | None = None
    ) -> JSONDict:
        """Create the session (or find it) and return its snapshot; this also checks the token.

        ``path`` is the session's path under the server's root (the kernel's directory).
        """
        body: dict[str, Any] = {"sessionId": session_id}
        if kernel_name:
            body["kernelName"] = kernel_name
        if path is not None:
            body["path"] = path
        snapshot: JSONDict = await self._fetch("POST", "pdit", "api", "sessions", body=body)
        return snapshot

    async def delete_session(self, session_id: str) -> None:
        """Shut the session and its kernel down."""
        await self._fetch("DELETE", "pdit", "api", "sessions", session_id)

    async def connect(self, session_id: str) -> JSONDict:
        """Open the channel and return its ``welcome``."""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        request = HTTPRequest(
            self.address.channel_url(session_id),
            headers=self.address.headers(),
            connect_timeout=CONNECT_TIMEOUT,
            request_timeout=CONNECT_TIMEOUT,
        )
        try:
            self._connection = await asyncio.wait_for(
                websocket_connect(
                    request,
                    on_message_callback=self._frames.put_nowait,
                    ping_interval=PING_INTERVAL,
                    ping_timeout=PING_TIMEOUT,
                    max_message_size=MAX_EVENT_SIZE,
                ),
                CONNECT_TIMEOUT,
            )
        except Exception as err:
            raise _http_failure(self.address, err) from None
        try:
            welcome = await self.recv(CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            raise _http_failure(self.address, asyncio.TimeoutError()) from None
        if welcome is None or welcome.get("type") != "welcome":
            raise RunFailure(f"{self.address.base_url}: expected a welcome, got {welcome!r}")
        return welcome

    async def send(self, frame: JSONDict) -> None:
        """Send one frame; a closed connection is a :class:`RunFailure`."""
        from tornado.websocket import WebSocketClosedError

        try:
            await self._connection.write_message(json.dumps(frame))
        except WebSocketClosedError:
            raise RunFailure("the connection to the gateway closed") from None

    async def recv(self, timeout: float | None = None) -> JSONDict | None:
        """Return the next event, ``None`` once the connection closed.

        Raises
        ------
        TimeoutError
            When ``timeout`` seconds pass first (nothing is lost: the next call gets it).
        """
        raw = await asyncio.wait_for(self._frames.get(), timeout)
        if raw is None:
            self._frames.put_nowait(None)  # stays closed for later calls
            return None
        event: JSONDict = json.loads(raw)
        return event

    def close_channel(self) -> None:
        """Close the WebSocket (REST calls still work)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        """Close the WebSocket and the HTTP client."""
        self.close_channel()
        self.http.close()


# -- one execution's events ----------------------------------------------------------------------


def execute_frame(
    source: str,
    *,
    execution_id: str,
    script_name: str | None = None,
    line_range: tuple[int, int] | None = None,
    timeout: float | None = None,
    **extra: Any,
) -> JSONDict:
    """Build an ``execute`` frame.

    ``script_name``, ``line_range`` and ``timeout`` are left out when not given (the
    gateway's defaults apply); ``extra`` adds fields as they are, e.g. ``mode="cell"``.
    """
    frame: JSONDict = {"type": "execute", "script": source, "executionId": execution_id}
    if script_name is not None:
        frame["scriptName"] = script_name
    frame.update(extra)
    if line_range is not None:
        frame["lineRange"] = {"from": line_range[0], "to": line_range[1]}
    if timeout is not None:
        frame["timeout"] = timeout
    return frame


async def execution_events(
    channel: ChannelConnection, frame: JSONDict, cancel: asyncio.Event | None = None
) -> AsyncIterator[JSONDict]:
    """Send an ``execute`` frame and yield its events up to and including its ``complete``.

    Session events without an ``executionId`` (``kernel-status``) are yielded too; other
    executions' events are skipped. When ``cancel`` is set, a ``cancel`` frame is sent and
    the ``complete`` is awaited for at most ``CANCEL_WAIT`` seconds.

    Raises
    ------
    RunFailure
        The gateway refused the request (an ``error`` event), or the connection closed
        before the ``complete``.
    TimeoutError
        No ``complete`` within ``CANCEL_WAIT`` s of a cancel.
    """
    execution_id = frame["executionId"]
    await channel.send(frame)
    cancel_deadline: float | None = None
    cancel_wait: asyncio.Task[bool] | None = None
    try:
        while True:
            if cancel is not None and cancel.is_set() and cancel_deadline is None:
                cancel_deadline = time.monotonic() + CANCEL_WAIT
                await channel.send({"type": "cancel", "executionId": execution_id})
            if cancel_deadline is not None:
                event = await channel.recv(max(0.0, cancel_deadline - time.monotonic()))
            elif cancel is not None:
                # wait for an event or for the cancel request, whichever comes first
                cancel_wait = cancel_wait or asyncio.ensure_future(cancel.wait())
                receive = asyncio.ensure_future(channel.recv())
                try:
                    await asyncio.wait({receive, cancel_wait}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not receive.done():
                        receive.cancel()  # safe: a queued frame stays for the next recv
                if not receive.done():
                    continue
                event = receive.result()
            else:
                event = await channel.recv()
            if event is None:
                raise RunFailure("the connection to the gateway closed before the run ended")
            kind = event.get("type")
            owner = event.get("executionId")
            if kind == "error" and owner in (None, execution_id):
                if cancel_deadline is not None:
                    continue  # e.g. the execution ended just before the cancel arrived
                raise RunFailure(f"the gateway refused the run: {event.get('message')}")
            if owner is None and kind == "kernel-status":
                yield event
            elif owner == execution_id:
                yield event
                if kind == "complete":
                    return
    finally:
        if cancel_wait is not None:
            cancel_wait.cancel()


@asynccontextmanager
async def session_channel(
    address: GatewayAddress,
    session_id: str,
    *,
    kernel: str | None = None,
    path: str | None = None,
    delete: bool = True,
) -> AsyncIterator[tuple[ChannelConnection, JSONDict]]:
    """Open (or find) a session, connect to its channel, and yield the channel and snapshot.

    On exit the channel is closed and, with ``delete``, the session (and its kernel) deleted.

    Parameters
    ----------
    address : GatewayAddress
        The gateway.
    session_id : str
        The session to run in.
    kernel : str, optional
        The kernel spec; checked first, so an unknown name fails with the names there are.
    path : str, optional
        The session's path under the server's root: the kernel starts in its directory.
    delete : bool, optional
        Delete the session afterwards.
    """
    channel = ChannelConnection(address)
    opened = False
    try:
        if kernel:
            await channel.check_kernel(kernel)
        snapshot = await channel.open_session(session_id, kernel, path)
        opened = True
        await channel.connect(session_id)
        yield channel, snapshot
    finally:
        channel.close_channel()
        try:
            if opened and delete:
                with contextlib.suppress(RunFailure, asyncio.TimeoutError):
                    await asyncio.wait_for(channel.delete_session(session_id), SHUTDOWN_TIMEOUT)
        finally:
            channel.close()
