"""pdit's own protocol on ``/ws/session``: the same sessions and event log, in pdit's messages."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GatewayError, SessionBusyError
from .files import FileEvent, FileService, Listener
from .jsontypes import JSONDict
from .outputs import ItemForm, OutputArea
from .protocol import ExecuteRequest, decode_frame, encode, parse_request
from .tasks import spawn

if TYPE_CHECKING:
    from .clients import Client, Transport
    from .sessions import PditSessionManager, Session


#: The fields of an output item that pdit knows; the others are left out.
PDIT_ITEM_FIELDS = ("type", "content", "width", "height")


def pdit_item(item: dict[str, Any]) -> JSONDict:
    """Return an OutputItem as pdit knows it: ``{type, content, width?, height?}``."""
    return {key: item[key] for key in PDIT_ITEM_FIELDS if key in item}


def pdit_span(expression: dict[str, Any]) -> JSONDict:
    """Return ``{lineStart, lineEnd}`` of an expression (pdit's expressions have no index)."""
    return {"lineStart": expression["lineStart"], "lineEnd": expression["lineEnd"]}


def error_message(message: str, code: str | None = None) -> JSONDict:
    """Return pdit's ``error`` message (``code``: the gateway's error code, when there is one)."""
    error: JSONDict = {"type": "error", "message": message}
    if code is not None:
        error["code"] = code
    return error


class PditOutput:
    """One statement's output so far, rebuilt from its ``stream``/``display``/``clear`` events.

    pdit's ``stream`` message carries the statement's whole output, where a session event
    carries only what is new; this keeps the whole (an output area, outputs.py), and when it
    was last sent.
    """

    def __init__(self, line_start: int, line_end: int) -> None:
        self.line_start = line_start
        self.line_end = line_end
        self.area = OutputArea(ItemForm())
        self.dirty = False
        self.sent_at = float("-inf")

    @property
    def items(self) -> list[dict[str, Any]]:
        """The output items so far."""
        return self.area.entries

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply a ``stream``, ``display`` or ``clear`` event; return whether the output changed."""
        changed = self.area.apply(event)
        self.dirty = self.dirty or changed
        return changed

    def message(self, now: float) -> JSONDict:
        """Return pdit's ``stream`` message of the output so far, and note it as sent."""
        self.dirty = False
        self.sent_at = now
        return {
            "type": "stream",
            "lineStart": self.line_start,
            "lineEnd": self.line_end,
            "output": [pdit_item(item) for item in self.items],
        }


class PditTranslator:
    """Translate a session's events into pdit's messages, for the executions one socket started.

    Pure and synchronous: :meth:`feed` takes one session event and the time (seconds on
    a monotonic clock) and returns the pdit messages to send now. A statement's ``stream``
    messages carry its accumulated output and are held back so that at most one goes out
    per ``interval`` seconds per statement; :meth:`due` returns the held ones whose time has
    come, :meth:`next_due` tells when that is. The last state before a statement's
    ``result`` is always sent, just before the ``result``.

    Parameters
    ----------
    interval : float
        Least seconds between two ``stream`` messages of one statement.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.executions: set[str] = set()
        self._outputs: dict[tuple[str, int], PditOutput] = {}

    def follow(self, execution_id: str) -> None:
        """Translate the events of ``execution_id`` from now on."""
        self.executions.add(execution_id)

    def forget(self, execution_id: str) -> None:
        """Stop translating ``execution_id`` (and drop its held output)."""
        self.executions.discard(execution_id)
        for key in [key for key in self._outputs if key[0] == execution_id]:
            del self._outputs[key]

    def feed(self, event: dict[str, Any], now: float) -> list[JSONDict]:
        """Return the pdit messages for one session event (none for events pdit has no word for)."""
        execution_id = event.get("executionId")
        if execution_id not in self.executions:
            return []
        assert isinstance(execution_id, str)
        kind = event["type"]
        if kind == "expressions":
            spans = [pdit_span(expression) for expression in event["expressions"]]
            return [{"type": "expressions", "expressions": spans}]
        if kind in ("stream", "display", "clear"):
            key = (execution_id, int(event["index"]))
            output = self._outputs.get(key)
            if output is None:
                output = self._outputs[key] = PditOutput(event["lineStart"], event["lineEnd"])
            if output.apply(event) and now - output.sent_at >= self.interval:
                return [output.message(now)]
            return []
        if kind == "result":
            messages = []
            output = self._outputs.pop((execution_id, int(event["index"])), None)
            if output is not None and output.dirty:
                messages.append(output.message(now))
            messages.append(
                {
                    "type": "result",
                    "lineStart": event["lineStart"],
                    "lineEnd": event["lineEnd"],
                    "output": [pdit_item(item) for item in event["output"]],
                    "isInvisible": bool(event["isInvisible"]),
                }
            )
            return messages
        if kind == "cancelled":
            spans = [pdit_span(expression) for expression in event["expressions"]]
            return [{"type": "cancelled", "expressions": spans}]
        if kind == "complete":
            messages = [
                output.message(now)
                for key, output in sorted(self._outputs.items())
                if key[0] == execution_id and output.dirty
            ]
            self.forget(execution_id)
            messages.append({"type": "complete"})
            return messages
        return []  # queued, running: pdit has no such message

    def due(self, now: float) -> list[JSONDict]:
        """Return the held ``stream`` messages whose interval has passed."""
        return [
            output.message(now)
            for _, output in sorted(self._outputs.items())
            if output.dirty and now - output.sent_at >= self.interval
        ]

    def next_due(self) -> float | None:
        """Return when the next held ``stream`` message may go out (None: nothing is held)."""
        times = [o.sent_at + self.interval for o in self._outputs.values() if o.dirty]
        return min(times) if times else None

    def lost(self) -> list[JSONDict]:
        """The socket fell behind the session's retained events: end what it was following."""
        if not self.executions:
            return []
        for execution_id in list(self.executions):
            self.forget(execution_id)
        return [error_message("the connection fell behind and missed events of this execution")]


class PditTransport:
    """The transport the session's client writes to: session events become pdit messages.

    The core's :class:`~pdit_gateway.clients.Client` reads the session's event log at
    this socket's pace and calls :meth:`send` for every event and every reply, one at a
    time. Session events (they carry ``seq``) are translated; ``welcome`` is dropped;
    replies made by :class:`PditChannel` are already pdit messages and pass through.
    A ``stream`` message released by the throttle timer while a send is in progress is sent
    right after it, before the writer goes on to later events.
    """

    def __init__(self, inner: Transport, channel: PditChannel) -> None:
        self.inner = inner
        self.channel = channel
        self._sending = False
        self._held: deque[str] = deque()

    async def send(self, text: str) -> None:
        """Translate one frame of the core and send the result."""
        frames = self.channel.render(text)
        self._sending = True
        try:
            for frame in frames:
                await self.inner.send(frame)
            while self._held:
                await self.inner.send(self._held.popleft())
        finally:
            self._sending = False

    def push(self, message: JSONDict) -> None:
        """Send a message made outside the writer (the throttle timer), in order."""
        if self._sending:
            self._held.append(encode(message))
        else:
            self.channel.client.reply(message)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the socket."""
        self.inner.close(code, reason)


class PditChannel:
    """One pdit socket on a session: pdit's messages in, pdit's messages out.

    The pdit-flavoured sibling of :class:`~pdit_gateway.channel.Channel`, on the same
    session, runner and event log: ``execute`` is submitted with ``whenBusy: "reject"``
    (``busy`` when anything runs or waits), ``interrupt`` and ``reset`` act on the session,
    and ``watch`` follows a file under the server's root. The event stream starts at once,
    at the session's current ``lastSeq`` (pdit's client does not resume), and only the
    executions this socket started are translated: pdit's messages carry no execution id.

    Frames are acted on one at a time, in order, as pdit's server does: a frame that
    follows a ``reset`` or an ``interrupt`` waits until it is done (an ``execute`` after
    a ``reset`` runs on the new kernel).

    Parameters
    ----------
    session : Session
        The session to attach to.
    transport : Transport
        The socket.
    files : FileService
        The files ``watch`` may follow.
    max_message_size : int
        Largest client frame in bytes.
    log : logging.Logger
        Where failures are logged.
    stream_interval : float
        Least seconds between two ``stream`` messages of one statement.
    """

    def __init__(
        self,
        session: Session,
        transport: Transport,
        files: FileService,
        max_message_size: int,
        log: logging.Logger,
        stream_interval: float = 0.05,
    ) -> None:
        self.session = session
        self.files = files
        self.max_message_size = max_message_size
        self.log = log
        self.translator = PditTranslator(stream_interval)
        self.transport = PditTransport(transport, self)
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._watch: tuple[Path, Listener] | None = None
        self._closed = False
        self._inbox: deque[str | bytes] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.client: Client = session.attach(self.transport)
        self.client.start_stream(session.event_log.last_seq)

    @classmethod
    def connect(
        cls,
        manager: PditSessionManager,
        session_id: str,
        transport: Transport,
        files: FileService,
        max_message_size: int,
        log: logging.Logger,
        stream_interval: float = 0.05,
        idle_timeout: float = 0.0,
    ) -> PditChannel:
        """Attach to session ``session_id``, creating it if absent.

        A session this creates is culled after ``idle_timeout`` seconds without clients
        (0: the server's ``session_idle_timeout``): pdit's client makes a new session id on
        every page load, and its old sessions would otherwise keep their kernels.
        """
        created = session_id not in manager.sessions
        session = manager.get_or_create(session_id)
        if created and idle_timeout > 0:
            session.idle_timeout = idle_timeout
        return cls(session, transport, files, max_message_size, log, stream_interval)

    # -- from the client -----------------------------------------------------------------

    def handle(self, raw: str | bytes) -> None:
        """Take one pdit frame; frames are acted on in order (see the class)."""
        if len(self._inbox) >= self.client.max_replies:
            self.client.reply(error_message("too many frames waiting; this one was dropped"))
            return
        self._inbox.append(raw)
        if self._worker is None:
            self._worker = spawn(self._tasks, self._work(), "pdit-frames")

    async def _work(self) -> None:
        try:
            while self._inbox:
                await self._act(self._inbox.popleft())
        finally:
            self._worker = None

    async def _act(self, raw: str | bytes) -> None:
        """Act on one frame; a bad one is answered with ``error`` and the socket kept."""
        try:
            frame = decode_frame(raw, self.max_message_size)
            kind = frame["type"]
            if kind == "execute":
                self._execute(frame)
            elif kind == "interrupt":
                await self.session.interrupt_current()
            elif kind == "reset":
                await self.session.reset()
            elif kind == "watch":
                await self._watch_file(frame.get("path"))
            else:
                # pdit's own server ignores what it does not know; a newer client may send more
                self.log.debug("pdit session %s: ignored a %r frame", self.session.session_id, kind)
        except GatewayError as err:
            self.client.reply(error_message(err.message, err.code))
        except Exception:
            self.log.exception("pdit session %s: a request failed", self.session.session_id)
            self.client.reply(error_message("the request failed", "internal-error"))

    def _execute(self, frame: dict[str, Any]) -> None:
        request = parse_request(frame)
        assert isinstance(request, ExecuteRequest)
        execution_id = request.execution_id or str(uuid.uuid4())
        watched = self._watch[0] if self._watch is not None else None
        script_file = (
            str(watched)
            if watched is not None and request.script_name == Path(watched).name
            else None
        )
        # pdit's client has no answer to input(): it raises StdinNotImplementedError at once
        request = dataclasses.replace(
            request,
            execution_id=execution_id,
            when_busy="reject",
            allow_stdin=False,
            script_file=script_file,
            interactive_tables=True,  # pdit's kernel shows DataFrames with itables
        )
        followed = execution_id in self.translator.executions
        self.translator.follow(execution_id)
        try:
            self.session.submit(request)
        except GatewayError as err:
            if not followed:
                self.translator.forget(execution_id)
            if isinstance(err, SessionBusyError):
                self.client.reply({"type": "busy"})
            else:
                self.client.reply(error_message(err.message, err.code))

    async def _watch_file(self, path: Any) -> None:
        if not isinstance(path, str) or not path:
            self.client.reply(error_message("'watch' needs a 'path'", "missing-field"))
            return
        # in a thread: a large file, a slow disk or a FIFO must not stop the event loop
        real, content = await asyncio.to_thread(self.files.read, path)
        if self._closed:
            return
        self._unwatch()
        listener: Listener = functools.partial(self._on_file_event, path)
        self.client.reply(
            {"type": "initial", "path": path, "content": content, "timestamp": int(time.time())}
        )
        reader = functools.partial(self.files.read_real, real)
        self.files.watchers.subscribe(real, listener, reader, content)
        self._watch = (real, listener)

    def _on_file_event(self, path: str, event: FileEvent) -> None:
        message: JSONDict = {"type": event.kind, "path": path, "timestamp": int(time.time())}
        if event.kind == "error":
            message.update(code=event.code, message=event.message)
        elif event.content is not None:
            message["content"] = event.content
        self.client.reply(message)

    def _unwatch(self) -> None:
        if self._watch is not None:
            self.files.watchers.unsubscribe(*self._watch)
            self._watch = None

    # -- to the client -------------------------------------------------------------------

    def render(self, text: str) -> list[str]:
        """Return the frames to send for one frame of the core (see :class:`PditTransport`)."""
        event = json.loads(text)
        if "seq" in event:
            messages: Iterable[JSONDict] = self.translator.feed(event, self._loop.time())
            self._arm_timer()
        elif event.get("type") == "welcome":
            messages = ()
        elif event.get("type") == "resync":
            messages = self.translator.lost()
        else:
            return [text]
        return [encode(message) for message in messages]

    def _arm_timer(self) -> None:
        due = self.translator.next_due()
        if due is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        if self._timer is not None and self._timer_at <= due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = self._loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        for message in self.translator.due(self._loop.time()):
            self.transport.push(message)
        self._arm_timer()

    def close(self) -> None:
        """The socket closed: stop watching, detach the client (the session goes on)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._unwatch()
        self._inbox.clear()
        self.client.close()
        self.session.detach(self.client)
