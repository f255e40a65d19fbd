"""Pytest fixtures for tests against a real gateway (``pdit_gateway.pytest_plugin``)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from .client import GatewayAddress, execute_frame
from .jsontypes import JSONDict

# re-exported: the tests start standalone gateways with them
from .process import free_port as free_port
from .process import gateway_argv as gateway_argv

#: Seconds any single wait on a socket may take before the test fails.
SOCKET_WAIT = 60.0


class ChannelClient:
    """A test client of the protocol v1 channel: every wait is bounded.

    It speaks frames as they are (bad-input tests send raw ones, and look at the
    connection's close code); the frames it builds are the client module's
    (:func:`pdit_gateway.client.execute_frame`). A program that runs scripts uses
    :class:`pdit_gateway.client.ChannelConnection`.

    Parameters
    ----------
    connection : Any
        A ``tornado.websocket.WebSocketClientConnection``.
    """

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.received: list[JSONDict] = []

    async def send(self, **frame: Any) -> None:
        """Send one frame."""
        await self.connection.write_message(json.dumps(frame))

    async def send_raw(self, raw: str | bytes) -> None:
        """Send a frame as given (for bad-input tests)."""
        await self.connection.write_message(raw, binary=isinstance(raw, bytes))

    async def recv(self, timeout: float = SOCKET_WAIT) -> JSONDict:
        """Return the next frame; fail if none arrives within ``timeout`` s or the socket closed."""
        message = await asyncio.wait_for(self.connection.read_message(), timeout)
        if message is None:
            raise ConnectionError(f"the channel closed (code {self.connection.close_code})")
        event: JSONDict = json.loads(message)
        self.received.append(event)
        return event

    async def until(
        self, predicate: Callable[[JSONDict], bool], wait: float = SOCKET_WAIT
    ) -> list[JSONDict]:
        """Return every frame up to and including the first that satisfies ``predicate``.

        Fails when ``wait`` seconds pass first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        events: list[JSONDict] = []
        while True:
            event = await self.recv(max(0.0, deadline - loop.time()))
            events.append(event)
            if predicate(event):
                return events

    async def welcome(self) -> JSONDict:
        """Read the ``welcome`` frame (the first frame of a connection)."""
        event = await self.recv()
        assert event["type"] == "welcome", event
        return event

    async def resync(self) -> JSONDict:
        """Read the ``welcome``, ask to resume past the newest event, and return the ``resync``
        snapshot the gateway answers with (what a client far behind is sent)."""
        welcome = await self.welcome()
        await self.send(type="resume", lastSeq=welcome["lastSeq"] + 1000)
        event = await self.recv()
        assert event["type"] == "resync", event
        return event

    async def execute(self, script: str, **options: Any) -> str:
        """Send an ``execute`` and return its execution id (given or made up here)."""
        # the fields go out as given (bad-input tests send bad ones), an id made up if none
        execution_id = options.pop("executionId") if "executionId" in options else uuid.uuid4().hex
        await self.send(**execute_frame(script, execution_id=execution_id, **options))
        return str(execution_id)

    async def run(self, script: str, wait: float = SOCKET_WAIT, **options: Any) -> list[JSONDict]:
        """Execute ``script`` and return this execution's events up to its ``complete``.

        ``options`` are fields of the ``execute`` frame (``timeout`` among them); ``wait``
        bounds the wait for the events, in seconds.
        """
        execution_id = await self.execute(script, **options)
        events = await self.until(
            lambda e: e.get("type") == "complete" and e.get("executionId") == execution_id,
            wait,
        )
        return [e for e in events if e.get("executionId") == execution_id]

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


@pytest.fixture
def pdit_channel(
    jp_ws_fetch: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[ChannelClient]]:
    """Open a channel to session ``session_id`` and return a :class:`ChannelClient`."""

    async def open_channel(session_id: str = "test", **kwargs: Any) -> ChannelClient:
        connection = await jp_ws_fetch("pdit", "api", "sessions", session_id, "channel", **kwargs)
        return ChannelClient(connection)

    return open_channel


def results(events: list[JSONDict]) -> list[JSONDict]:
    """Return the ``result`` events of a list of events."""
    return [e for e in events if e["type"] == "result"]


def texts(result: JSONDict) -> str:
    """Return the concatenated ``content`` of a result's output items."""
    return "".join(str(item.get("content", "")) for item in result["output"])


async def accepting(port: int) -> None:
    """Wait until ``port`` accepts connections (bound the wait with ``asyncio.wait_for``)."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            await asyncio.sleep(0.05)  # a readiness probe; the caller bounds it
            continue
        writer.close()
        return


@asynccontextmanager
async def server_process(
    argv: list[str], url_pattern: bytes = rb"http://127\.0\.0\.1:(\d+)/"
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """Run a Jupyter-style server process; yield it and its port once it serves.

    The port is read from the server's own log (it can differ from the one asked for:
    jupyter_server takes the next one when a port is still in TIME_WAIT). The process
    is stopped with SIGTERM on exit (bounded), killed if it does not stop.
    """
    process = await asyncio.create_subprocess_exec(
        *argv,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stderr is not None
    stderr = process.stderr
    drain: asyncio.Future[bytes] | None = None
    try:

        async def serving() -> int:
            while True:
                line = await stderr.readline()
                if not line:
                    raise RuntimeError(f"{argv[:3]} exited before serving")
                found = re.search(url_pattern, line)
                if found:
                    return int(found.group(1))

        port = await asyncio.wait_for(serving(), SOCKET_WAIT)
        await asyncio.wait_for(accepting(port), SOCKET_WAIT)
        drain = asyncio.ensure_future(stderr.read())  # keep the pipe from filling
        yield process, port
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), SOCKET_WAIT)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        if drain is not None:
            drain.cancel()


@contextmanager
def standalone_gateway(
    argv: list[str], token: str, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[int]:
    """Run a standalone gateway (``argv`` from :func:`gateway_argv`) for a fixture that has no
    event loop of its own (module-scoped ones); yield its port once ``/api/status`` answers.

    Its log goes to ``log`` (shown when it exits or does not start within ``SOCKET_WAIT``
    seconds); the port is read from it, as jupyter_server may take another one than asked.
    On exit the process group gets SIGTERM, and SIGKILL if it has not ended 30 s later.
    """
    with log.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 (the gateway's own command line)
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    try:
        yield _serving(process, token, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def _serving(process: subprocess.Popen[bytes], token: str, log: Path) -> int:
    deadline = time.monotonic() + SOCKET_WAIT
    port = None
    while time.monotonic() < deadline:
        assert process.poll() is None, "the gateway exited:\n" + log.read_text(errors="replace")
        if port is None:
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text(errors="replace"))
            port = int(found.group(1)) if found else None
        if port is not None:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return port
            except OSError:
                pass
        time.sleep(0.2)  # a bounded readiness poll
    raise AssertionError("the gateway did not start:\n" + log.read_text(errors="replace"))


async def open_channel(
    port: int, token: str, session_id: str, max_message_size: int = 10 * 1024 * 1024
) -> ChannelClient:
    """Connect to a standalone gateway's channel (frames up to ``max_message_size`` bytes)."""
    address = GatewayAddress.local(port, token)
    request = HTTPRequest(address.channel_url(session_id), headers=address.headers())
    return ChannelClient(await websocket_connect(request, max_message_size=max_message_size))


async def fetch_json(url: str, token: str | None = None, method: str = "GET") -> tuple[int, Any]:
    """Fetch ``url``; return the status and the decoded JSON body (or None)."""
    headers = {"Authorization": f"token {token}"} if token else {}
    response = await AsyncHTTPClient().fetch(
        url, method=method, headers=headers, raise_error=False, allow_nonstandard_methods=True
    )
    return response.code, json.loads(response.body) if response.body else None
