"""Completion and inspection from a session's kernel: the ``complete`` and ``inspect`` frames.

The questions go to the kernel on connections of their own, never through the runner's:
the statements of a run keep their order and their replies. ipykernel (measured with 7.4)
answers shell requests one at a time, so a ``complete_request`` sent on the shell channel
while a statement runs waits until the statement ends (2.1 s behind a ``time.sleep(2)``).
A kernel that supports *kernel subshells* (JEP 91, ipykernel 7) answers on a subshell of
its own thread at once (0.02 s behind the same sleep): the introspector creates one subshell
per kernel process and asks there. Other kernels are asked on the shell channel and answer
when the running statement ends, within ``timeout`` seconds or not at all (the error
``introspection-timeout``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from traitlets import Float
from traitlets.config import LoggingConfigurable

from .compat import deserialize
from .errors import (
    GatewayError,
    IntrospectionTimeoutError,
    IntrospectionUnavailableError,
    KernelUnavailableError,
)
from .protocol import IntrospectRequest

#: The kernel-info feature that says a kernel has subshells (JEP 91).
SUBSHELLS = "kernel subshells"


def complete_reply(request_id: Any, content: dict[str, Any]) -> dict[str, Any]:
    """Return the ``complete-reply`` event for a kernel's ``complete_reply`` content."""
    return {
        "type": "complete-reply",
        "id": request_id,
        "status": content.get("status", "ok"),
        "matches": list(content.get("matches") or []),
        "cursorStart": content.get("cursor_start"),
        "cursorEnd": content.get("cursor_end"),
        "metadata": content.get("metadata") or {},
    }


def inspect_reply(request_id: Any, content: dict[str, Any]) -> dict[str, Any]:
    """Return the ``inspect-reply`` event for a kernel's ``inspect_reply`` content."""
    return {
        "type": "inspect-reply",
        "id": request_id,
        "status": content.get("status", "ok"),
        "found": bool(content.get("found")),
        "data": content.get("data") or {},
        "metadata": content.get("metadata") or {},
    }


class _KernelLink:
    """Shell and control streams of one kernel process, and its subshell (if any)."""

    def __init__(self, km: Any, log: logging.Logger, name: str) -> None:
        self.km = km
        self.log = log
        self.name = name
        self.session = km.session
        identity = f"pdit-introspect-{uuid.uuid4().hex}".encode()
        self.streams = {
            "shell": km.connect_shell(identity=identity),
            "control": km.connect_control(identity=identity),
        }
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.subshell: asyncio.Task[str | None] | None = None
        for stream in self.streams.values():
            stream.on_recv(self._receive, copy=False)

    def _receive(self, frames: list[Any]) -> None:
        try:
            _, parts = self.session.feed_identities(frames, copy=False)
            msg = deserialize(self.session, parts)
        except Exception:
            self.log.exception("pdit session %s: an undecodable introspection reply", self.name)
            return
        parent = (msg.get("parent_header") or {}).get("msg_id", "")
        future = self.waiting.pop(parent, None)
        if future is not None and not future.done():
            future.set_result(msg.get("content") or {})

    async def ask(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        timeout: float,
        subshell: str | None = None,
    ) -> dict[str, Any]:
        msg = self.session.msg(msg_type, content)
        if subshell is not None:
            msg["header"]["subshell_id"] = subshell
        msg_id = msg["header"]["msg_id"]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[msg_id] = future
        self.session.send(self.streams[channel], msg)
        try:
            return await asyncio.wait_for(future, timeout or None)
        except asyncio.TimeoutError:
            raise IntrospectionTimeoutError(
                f"the kernel did not answer the {msg_type} within {timeout:g} s"
            ) from None
        finally:
            self.waiting.pop(msg_id, None)

    def close(self) -> None:
        if self.subshell is not None:
            self.subshell.cancel()
        for future in self.waiting.values():
            future.cancel()
        self.waiting.clear()
        for stream in self.streams.values():
            if not stream.closed():
                stream.on_recv(None)
                stream.close(linger=0)


class Introspector(LoggingConfigurable):
    """Answer ``complete`` and ``inspect`` frames from the session's kernel."""

    introspect_timeout = Float(
        10.0,
        min=0.0,
        config=True,
        help="Seconds a 'complete' or 'inspect' request waits for the kernel's reply before "
        "it is answered with the error code 'introspection-timeout' (0 = no limit).",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # keyed by the session's kernel connection: a new connection (a restart) is a new
        # kernel process, whose subshells are not the old one's
        self._links: dict[str, tuple[Any, Any, _KernelLink]] = {}

    async def answer(self, session: Any, request: IntrospectRequest) -> dict[str, Any]:
        """Ask the kernel; return the ``complete-reply``/``inspect-reply`` event.

        Raises
        ------
        GatewayError
            ``kernel-unavailable`` (no kernel: starting, restarting, dead), the request's
            ``introspection-timeout``, ``introspection-unavailable`` (a remote kernel).
        """
        if session.closed or session.kernel_state in ("starting", "restarting", "dead"):
            raise KernelUnavailableError(
                f"the session's kernel is {session.kernel_state if not session.closed else 'gone'}"
            )
        link = self._link(session)
        subshell = await self._subshell(session, link)
        if request.kind == "complete":
            content = {"code": request.code, "cursor_pos": request.cursor_pos}
            reply = await link.ask(
                "shell", "complete_request", content, self.introspect_timeout, subshell
            )
            return complete_reply(request.id, reply)
        content = {
            "code": request.code,
            "cursor_pos": request.cursor_pos,
            "detail_level": request.detail_level,
        }
        reply = await link.ask(
            "shell", "inspect_request", content, self.introspect_timeout, subshell
        )
        return inspect_reply(request.id, reply)

    def _link(self, session: Any) -> _KernelLink:
        connection = session.connection  # SessionClosedError without one
        for session_id, (other, _, _) in list(self._links.items()):
            if other.closed:  # a session shut down since: its streams go with it
                self.forget(session_id)
        held = self._links.get(session.session_id)
        if held is not None and held[0] is session and held[1] is connection:
            return held[2]
        self.forget(session.session_id)
        try:
            km = session.kernel_manager.get_kernel(session.kernel_id)
        except KeyError:
            raise KernelUnavailableError("the session's kernel is gone") from None
        if not hasattr(km, "connect_shell") or not hasattr(km, "connect_control"):
            raise IntrospectionUnavailableError(
                "completion and inspection need a local kernel (this one is remote)"
            )
        link = _KernelLink(km, self.log, session.session_id)
        self._links[session.session_id] = (session, connection, link)
        return link

    async def _subshell(self, session: Any, link: _KernelLink) -> str | None:
        """The kernel's subshell for introspection (created once), None without subshells."""
        if link.subshell is None:
            link.subshell = asyncio.ensure_future(self._create_subshell(session, link))
        return await asyncio.shield(link.subshell)

    async def _create_subshell(self, session: Any, link: _KernelLink) -> str | None:
        features = session.connection.kernel_info.get("supported_features") or []
        if SUBSHELLS not in features:
            return None
        try:
            reply = await link.ask(
                "control", "create_subshell_request", {}, self.introspect_timeout
            )
        except GatewayError:
            self.log.warning("pdit session %s: no subshell for completions", session.session_id)
            return None
        subshell = reply.get("subshell_id")
        if reply.get("status") == "ok" and isinstance(subshell, str):
            return subshell
        return None

    def forget(self, session_id: str) -> None:
        """Close the streams held for a session."""
        held = self._links.pop(session_id, None)
        if held is not None:
            held[2].close()

    async def close(self) -> None:
        """Close every stream."""
        for session_id in list(self._links):
            self.forget(session_id)
