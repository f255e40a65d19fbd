"""The clients that drive each system: raw jupyter_client, the gateway, pdit, jupyter_server's WS.

Every client returns the wall time of one run and, when asked, the frames it received as
``(receive time, text)`` pairs, decoded only after the clock stopped.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from pdit_gateway.client import execute_frame

from .wire import READ_TIMEOUT, Wire

#: Seconds one whole run (an execution, a loop of statements) may take.
RUN_TIMEOUT = 600.0

Frames = list[tuple[float, str]]


def trivial_statements(n: int) -> list[str]:
    """Return ``n`` trivial statements ``xN = N``."""
    return [f"x{i} = {i}" for i in range(n)]


def script_of(codes: list[str]) -> str:
    """Return a script of one statement per line."""
    return "".join(f"{code}\n" for code in codes)


@dataclass
class Run:
    """One measured run: wall time in seconds, and the frames received when collected."""

    elapsed: float
    frames: Frames = field(default_factory=list)
    bytes: int = 0
    #: bytes read from the socket (the wire), where measured
    wire: int = 0


class Deadline:
    """A bound on a whole loop; ``left()`` is the time a single read may still take."""

    def __init__(self, seconds: float = RUN_TIMEOUT) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Return the seconds left (at most ``READ_TIMEOUT``); fail when none are."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("the run did not finish in time")
        return min(left, READ_TIMEOUT)


# -- raw jupyter_client ---------------------------------------------------------------------


async def raw_sequential(kc: Any, codes: list[str], store_history: bool = True) -> Run:
    """Send one statement, wait for its reply and its idle status, then the next."""
    deadline = Deadline()
    start = time.perf_counter()
    for code in codes:
        msg_id = kc.execute(code, store_history=store_history)
        while True:
            reply = await kc.get_shell_msg(timeout=deadline.left())
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        while True:
            msg = await kc.get_iopub_msg(timeout=deadline.left())
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                break
    return Run(time.perf_counter() - start)


async def raw_pipelined(kc: Any, codes: list[str], store_history: bool = True) -> Run:
    """Send every statement at once, then wait for every reply and the last idle status."""
    deadline = Deadline()
    start = time.perf_counter()
    ids = [kc.execute(code, store_history=store_history) for code in codes]
    pending = set(ids)
    while pending:
        reply = await kc.get_shell_msg(timeout=deadline.left())
        pending.discard(reply["parent_header"].get("msg_id"))
    last = ids[-1]
    while True:
        msg = await kc.get_iopub_msg(timeout=deadline.left())
        if (
            msg["parent_header"].get("msg_id") == last
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            break
    return Run(time.perf_counter() - start)


# -- the gateway ------------------------------------------------------------------------------


def parse_ts(ts: str) -> float:
    """Return a gateway ``ts`` (UTC ISO 8601, ms, ``Z``) as seconds since the epoch."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


async def gateway_open(server: Any, session_id: str) -> tuple[Wire, dict[str, Any]]:
    """Open the channel of ``session_id`` (created with its kernel if new), read ``welcome``."""
    wire = await server.connect(urlsplit(server.address.channel_url(session_id)).path)
    welcome = await wire.recv_json()
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"expected welcome, got {welcome}")
    return wire, welcome


async def gateway_run(
    wire: Wire,
    script: str,
    execution_id: str,
    *,
    store_history: bool = True,
    collect: bool = False,
    until: str = "complete",
    timeout: float = RUN_TIMEOUT,
) -> Run:
    """Execute ``script`` and wait for its ``complete`` (or its first ``until`` event)."""
    deadline = Deadline(timeout)
    frames: Frames = []
    marker = f'"{until}"'
    before, before_wire = wire.bytes, wire.socket_bytes
    start = time.perf_counter()
    await wire.send(execute_frame(script, execution_id=execution_id, storeHistory=store_history))
    while True:
        text = await wire.recv(deadline.left())
        if collect:
            frames.append((time.time(), text))
        if marker in text:
            event = json.loads(text)
            if event.get("executionId") != execution_id:
                continue
            if event["type"] == until:
                break
            if event["type"] == "complete":
                raise RuntimeError(f"{execution_id} completed without a {until}: {event}")
    elapsed = time.perf_counter() - start
    if until == "complete" and event["status"] != "ok":
        raise RuntimeError(f"execution {execution_id} ended {event['status']}")
    return Run(elapsed, frames, wire.bytes - before, wire.socket_bytes - before_wire)


async def gateway_wait_idle(wire: Wire, timeout: float = RUN_TIMEOUT) -> None:
    """Start the stream from the beginning and wait for the session's kernel to be idle."""
    deadline = Deadline(timeout)
    await wire.send({"type": "resume", "lastSeq": 0})
    while True:
        event = await wire.recv_json(deadline.left())
        if event.get("type") == "kernel-status":
            if event["state"] == "idle":
                return
            if event["state"] == "dead":
                raise RuntimeError(f"the kernel did not start: {event}")


# -- pdit 0.7.0 -------------------------------------------------------------------------------


async def pdit_run(
    wire: Wire, script: str, *, collect: bool = False, until: str = "complete"
) -> Run:
    """Execute ``script`` over pdit's ``/ws/session`` and wait for ``complete`` (or ``until``)."""
    deadline = Deadline()
    frames: Frames = []
    marker = f'"{until}"'
    before, before_wire = wire.bytes, wire.socket_bytes
    start = time.perf_counter()
    await wire.send({"type": "execute", "script": script})
    while True:
        text = await wire.recv(deadline.left())
        if collect:
            frames.append((time.time(), text))
        if marker in text or '"error"' in text or '"busy"' in text:
            event = json.loads(text)
            if event["type"] == until:
                break
            if event["type"] in ("error", "busy"):
                raise RuntimeError(f"pdit answered {event}")
    return Run(
        time.perf_counter() - start, frames, wire.bytes - before, wire.socket_bytes - before_wire
    )


# -- jupyter_server's kernel WebSocket (default JSON protocol) ---------------------------------


class KernelChannels:
    """jupyter_server's ``/api/kernels/{id}/channels``, spoken in its default JSON protocol."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.session = uuid.uuid4().hex

    @classmethod
    async def open(cls, server: Any, kernel_id: str) -> KernelChannels:
        """Connect to kernel ``kernel_id`` of ``server``."""
        session = uuid.uuid4().hex
        wire = await server.connect(f"/api/kernels/{kernel_id}/channels?session_id={session}")
        channels = cls(wire)
        channels.session = session
        return channels

    def _execute(self, code: str, store_history: bool) -> tuple[str, str]:
        msg_id = uuid.uuid4().hex
        msg = {
            "header": {
                "msg_id": msg_id,
                "msg_type": "execute_request",
                "username": "bench",
                "session": self.session,
                "date": datetime.now(timezone.utc).isoformat(),
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": code,
                "silent": False,
                "store_history": store_history,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "channel": "shell",
            "buffers": [],
        }
        return msg_id, json.dumps(msg)

    async def _until_done(
        self, last: str, pending: set[str], deadline: Deadline, frames: Frames | None, until: str
    ) -> None:
        """Read until every id in ``pending`` has replied and ``last`` went idle (or ``until``)."""
        idle = False
        while pending or not idle:
            text = await self.wire.recv(deadline.left())
            if frames is not None:
                frames.append((time.time(), text))
            msg = json.loads(text)
            parent = msg["parent_header"].get("msg_id")
            msg_type = msg["msg_type"]
            if parent == last and msg_type == until:
                return
            if msg["channel"] == "shell":
                pending.discard(parent)
            elif (
                parent == last
                and msg_type == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                idle = True

    async def sequential(self, codes: list[str], store_history: bool = True) -> Run:
        """One cell at a time: send, wait for its reply and idle, then the next."""
        deadline = Deadline()
        start = time.perf_counter()
        for code in codes:
            msg_id, text = self._execute(code, store_history)
            await self.wire.send(text)
            await self._until_done(msg_id, {msg_id}, deadline, None, "")
        return Run(time.perf_counter() - start)

    async def pipelined(self, codes: list[str], store_history: bool = True) -> Run:
        """Send every cell at once, then wait for every reply and the last idle."""
        deadline = Deadline()
        start = time.perf_counter()
        ids = []
        for code in codes:
            msg_id, text = self._execute(code, store_history)
            ids.append(msg_id)
            await self.wire.send(text)
        await self._until_done(ids[-1], set(ids), deadline, None, "")
        return Run(time.perf_counter() - start)

    async def collect(self, code: str, until: str = "") -> Run:
        """Run one cell and return every frame received until it is done (or ``until``)."""
        deadline = Deadline()
        frames: Frames = []
        before, before_wire = self.wire.bytes, self.wire.socket_bytes
        start = time.perf_counter()
        msg_id, text = self._execute(code, True)
        await self.wire.send(text)
        await self._until_done(msg_id, {msg_id}, deadline, frames, until)
        return Run(
            time.perf_counter() - start,
            frames,
            self.wire.bytes - before,
            self.wire.socket_bytes - before_wire,
        )

    def close(self) -> None:
        """Close the WebSocket."""
        self.wire.close()
