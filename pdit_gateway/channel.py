"""The protocol conversation on one connection: decode each client frame and act on the session."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .clients import Client, Transport
from .errors import GatewayError, SessionBusyError
from .introspect import Introspector
from .labsessions import JupyterSessions
from .protocol import (
    CancelRequest,
    ChangeKernelRequest,
    ExecuteRequest,
    GetStateRequest,
    InputReplyRequest,
    InterruptRequest,
    IntrospectRequest,
    PingRequest,
    ResetRequest,
    ResumeRequest,
    decode_frame,
    parse_request,
)
from .sessions import Session
from .tasks import spawn


class Channel:
    """One client's side of a session's event channel.

    The stream of session events starts with the client's first frame: a first
    ``resume`` starts it after the given ``lastSeq`` (replay, or ``resync``); any other
    first frame starts it after the ``lastSeq`` the ``welcome`` announced.

    Frames that act on the session's executions and kernel are acted on in the order
    received: one that follows ``interrupt``, ``reset`` or ``change-kernel`` waits until
    that is done, so an ``execute`` sent right after a ``reset`` runs on the restarted
    kernel instead of being cancelled by it. ``ping``, ``complete`` and ``inspect`` are
    answered at once.
    """

    def __init__(
        self,
        session: Session,
        transport: Transport,
        max_message_size: int,
        log: logging.Logger,
        introspector: Introspector | None = None,
        jupyter_sessions: JupyterSessions | None = None,
    ) -> None:
        self.session = session
        self.max_message_size = max_message_size
        self.log = log
        self.introspector = introspector
        self.jupyter_sessions = jupyter_sessions
        self.welcome_seq = session.event_log.last_seq
        self.client: Client = session.attach(transport)
        self._tasks: set[asyncio.Task[Any]] = set()
        #: the last ordered action still under way; later ordered frames wait for it
        self._pending: asyncio.Task[Any] | None = None
        if jupyter_sessions is not None:
            jupyter_sessions.follow(session)

    def handle(self, raw: str | bytes) -> None:
        """Act on one frame; every failure is answered with an ``error`` and the connection kept."""
        try:
            request = parse_request(decode_frame(raw, self.max_message_size))
        except GatewayError as err:
            self._start_stream(self.welcome_seq)
            self.client.reply(err.to_event())
            return
        if isinstance(request, ResumeRequest):
            self._start_stream(request.last_seq, force=True)
            return
        self._start_stream(self.welcome_seq)
        ordered = not isinstance(request, (PingRequest, IntrospectRequest))
        if ordered and self._pending is not None and not self._pending.done():
            self._pending = spawn(
                self._tasks, self._after(self._pending, request), "pdit-ordered-frame"
            )
            return
        under_way = self._act(request)
        if ordered and under_way is not None:
            self._pending = under_way

    async def _after(self, previous: asyncio.Task[Any], request: Any) -> None:
        """Act on ``request`` once ``previous`` is done, and end when its own action has."""
        await asyncio.wait([previous])
        under_way = self._act(request)
        if under_way is not None:
            await asyncio.wait([under_way])

    def _act(self, request: Any) -> asyncio.Task[Any] | None:
        """Dispatch one request, answering a failure; return the task that carries it on."""
        try:
            return self._dispatch(request)
        except GatewayError as err:
            self.client.reply(err.to_event())
        except Exception:
            self.log.exception("pdit session %s: request failed", self.session.session_id)
            self.client.reply(
                {"type": "error", "code": "internal-error", "message": "the request failed"}
            )
        return None

    def _start_stream(self, after_seq: int, *, force: bool = False) -> None:
        if force or not self.client.streaming:
            self.client.start_stream(after_seq)

    def _dispatch(self, request: Any) -> asyncio.Task[Any] | None:
        """Act on one request; an action that goes on (interrupt, reset, change-kernel, an
        introspection) is a task, returned."""
        session = self.session
        if isinstance(request, ExecuteRequest):
            try:
                session.submit(request)
            except SessionBusyError as err:
                self.client.reply(err.to_event())
        elif isinstance(request, CancelRequest):
            session.cancel(request.execution_id)
        elif isinstance(request, InterruptRequest):
            return spawn(self._tasks, self._guard(session.interrupt_current()), "pdit-interrupt")
        elif isinstance(request, ResetRequest):
            return spawn(self._tasks, self._guard(session.reset()), "pdit-reset")
        elif isinstance(request, GetStateRequest):
            if request.execution_id is None:
                self.client.reply({"type": "state", "session": session.snapshot()})
            else:
                execution = session.execution(request.execution_id)
                self.client.reply({"type": "state", "execution": execution.snapshot()})
        elif isinstance(request, PingRequest):
            self.client.reply(session.pong(request.id))
        elif isinstance(request, InputReplyRequest):
            session.answer_input(request.value, request.execution_id)
        elif isinstance(request, IntrospectRequest):
            return spawn(self._tasks, self._introspect(request), f"pdit-{request.kind}")
        elif isinstance(request, ChangeKernelRequest):
            if self.jupyter_sessions is None:
                raise GatewayError("changing the kernel is not available here")
            change = self.jupyter_sessions.change_kernel(session, request.kernel_name)
            return spawn(self._tasks, self._guard(change), "pdit-change-kernel")
        return None

    async def _introspect(self, request: IntrospectRequest) -> None:
        """Answer ``complete``/``inspect``; an error carries the request's ``id``."""
        try:
            if self.introspector is None:
                raise GatewayError("completion and inspection are not available here")
            reply = await self.introspector.answer(self.session, request)
        except GatewayError as err:
            reply = {**err.to_event(), "id": request.id}
        except Exception:
            self.log.exception("pdit session %s: %s failed", self.session.session_id, request.kind)
            reply = {
                "type": "error",
                "code": "internal-error",
                "message": f"the {request.kind} failed",
                "id": request.id,
            }
        self.client.reply(reply)

    async def _guard(self, action: Any) -> None:
        try:
            await action
        except GatewayError as err:
            self.client.reply(err.to_event())
        except Exception:
            self.log.exception("pdit session %s: request failed", self.session.session_id)
            self.client.reply(
                {"type": "error", "code": "internal-error", "message": "the request failed"}
            )

    def close(self) -> None:
        """The connection closed: detach the client (the session goes on)."""
        self.client.close()
        self.session.detach(self.client)
