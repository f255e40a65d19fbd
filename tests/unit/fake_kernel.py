"""A scripted kernel for the runner's unit tests: it implements the runner's KernelControl and
KernelChannel and answers each statement with the messages its script says, in the order and
on the channels an ipykernel uses."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kernel_messages import Msg, msg

Listener = Callable[[str, Msg], None]


@dataclass
class Behaviour:
    """What the kernel does with one statement."""

    #: iopub messages published after ``execute_input``
    outputs: list[Msg] = field(default_factory=list)
    #: ``(ename, evalue)`` of the error the statement raises
    error: tuple[str, str] | None = None
    #: wait after the outputs: until an interrupt (``"interrupt"``), forever (``"forever"``)
    hang: str | None = None
    #: the kernel process ends after the outputs
    dies: bool = False
    #: ask ``input(prompt)`` on stdin and print the answer
    asks: str | None = None


def ok(*outputs: Msg) -> Behaviour:
    return Behaviour(outputs=list(outputs))


def fails(ename: str = "ZeroDivisionError", evalue: str = "division by zero") -> Behaviour:
    return Behaviour(error=(ename, evalue))


def result(text: str) -> Msg:
    """Return an ``execute_result`` whose plain text is ``text``."""
    return msg("execute_result", data={"text/plain": text}, metadata={}, execution_count=1)


@dataclass
class Request:
    msg_id: str
    code: str
    options: dict[str, Any]
    replied: bool = False


class FakeKernel:
    """A kernel that runs requests one at a time, as ipykernel's shell does.

    ``behaviours`` maps a statement's code to its :class:`Behaviour` (default: ``ok()``).
    ``sent`` lists the requests in the order the runner sent them; ``max_in_flight`` is the
    most requests ever sent and not yet replied to. ``abort_late`` is how many requests
    arriving after an error's reply are still aborted (ipykernel stops aborting only once it
    has dispatched its own "stop aborting" step: a request sent in answer to the reply can
    come first).
    """

    scripting = False

    def __init__(self, behaviours: dict[str, Behaviour] | None = None, abort_late: int = 0) -> None:
        self.behaviours = behaviours or {}
        self.abort_late = abort_late
        #: as KernelConnection.aborting: the last reply was the error of a stop_on_error request
        self.aborting = False
        self._late = 0
        self.sent: list[Request] = []
        self.forgotten: set[str] = set()
        self.interrupts = 0
        self.restarts: list[str] = []
        self.max_in_flight = 0
        #: set when the kernel starts running a statement's code (its ``execute_input``)
        self.started: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._ids = itertools.count(1)
        self._listeners: dict[str, Listener] = {}
        self._queue: asyncio.Queue[Request] = asyncio.Queue()
        self._interrupted = asyncio.Event()
        self._answer: asyncio.Future[str] | None = None
        self._died: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._count = 0
        # the kernel's shell: runs while requests wait, ends when none does
        self._worker: asyncio.Future[None] | None = None

    # -- KernelControl -------------------------------------------------------------------

    @property
    def connection(self) -> FakeKernel:
        return self

    @property
    def died(self) -> asyncio.Future[None]:
        return self._died

    async def interrupt(self) -> None:
        self.interrupts += 1
        self._interrupted.set()

    async def restart(self, reason: str) -> None:
        self.restarts.append(reason)
        await self.close()
        self._listeners.clear()
        self._queue = asyncio.Queue()
        if self._died.done():
            self._died = asyncio.get_running_loop().create_future()

    # -- KernelChannel -------------------------------------------------------------------

    def execute(self, code: str, listener: Listener, **options: Any) -> str:
        msg_id = f"req-{next(self._ids)}"
        request = Request(msg_id, code, options)
        self.sent.append(request)
        self._listeners[msg_id] = listener
        self.max_in_flight = max(self.max_in_flight, sum(not r.replied for r in self.sent))
        self._queue.put_nowait(request)
        if (self._worker is None or self._worker.done()) and not self._died.done():
            self._worker = asyncio.ensure_future(self._serve())
        return msg_id

    def forget(self, msg_id: str) -> None:
        self.forgotten.add(msg_id)
        self._listeners.pop(msg_id, None)

    def send_input(self, value: str, parent: Msg | None = None) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(value)

    def may_have_lost_setup(self) -> bool:
        return False

    def setup_installed(self) -> None:
        pass

    # -- the kernel ----------------------------------------------------------------------

    def codes(self) -> list[str]:
        """Return the code of every request sent, in order."""
        return [request.code for request in self.sent]

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _serve(self) -> None:
        aborting = False
        while not self._queue.empty():
            request = self._queue.get_nowait()
            late = not aborting and self._late > 0
            if late:
                self._late -= 1
            if (aborting and request.options.get("stop_on_error", True)) or late:
                # ipykernel aborts what it already holds after an error (stop_on_error), and
                # every execute request that reaches it before it has stopped aborting
                await self._send(request, "iopub", msg("status", execution_state="busy"))
                await self._reply(request, status="aborted")
                await self._send(request, "iopub", msg("status", execution_state="idle"))
                continue
            aborting = False
            failed = await self._run(request)
            if failed is None:
                return  # the kernel died
            if failed and request.options.get("stop_on_error", True):
                aborting = not self._queue.empty()
                self._late = self.abort_late
            await asyncio.sleep(0)  # a request sent in answer to this one's idle is next

    async def _run(self, request: Request) -> bool | None:
        behaviour = self.behaviours.get(request.code, ok())
        self._count += 1
        self._interrupted.clear()
        await self._send(request, "iopub", msg("status", execution_state="busy"))
        await self._send(
            request, "iopub", msg("execute_input", code=request.code, execution_count=self._count)
        )
        self.started[request.code].set()
        for output in behaviour.outputs:
            await self._send(request, "iopub", output)
        if behaviour.asks is not None:
            self._answer = asyncio.get_running_loop().create_future()
            prompt = msg("input_request", prompt=behaviour.asks, password=False)
            await self._send(request, "stdin", prompt)
            answer = await self._answer
            await self._send(request, "iopub", msg("stream", name="stdout", text=answer + "\n"))
        if behaviour.dies:
            self._died.set_result(None)
            return None
        error = behaviour.error
        if behaviour.hang == "forever":
            await asyncio.Event().wait()
        if behaviour.hang == "interrupt":
            await self._interrupted.wait()
            error = ("KeyboardInterrupt", "")
        if error is not None:
            ename, evalue = error
            await self._send(
                request, "iopub", msg("error", ename=ename, evalue=evalue, traceback=[ename])
            )
            await self._reply(request, status="error", ename=ename, evalue=evalue, traceback=[])
        else:
            await self._reply(request, status="ok", execution_count=self._count)
        await self._send(request, "iopub", msg("status", execution_state="idle"))
        return error is not None

    async def _reply(self, request: Request, **content: Any) -> None:
        request.replied = True
        status = content.get("status")
        stops = request.options.get("stop_on_error", True) and not request.options.get("silent")
        if status == "error" and stops:
            self.aborting = True
        elif status != "aborted":
            self.aborting = False
        await self._send(request, "shell", msg("execute_reply", **content))

    async def _send(self, request: Request, channel: str, message: Msg) -> None:
        await asyncio.sleep(0)  # one message a turn of the loop, as the streams deliver them
        listener = self._listeners.get(request.msg_id)
        if listener is not None:
            listener(channel, message)


class ListSink:
    """The runner's event sink, keeping every event in a list."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.events.append(payload)
        return payload

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

    def results(self) -> dict[int, dict[str, Any]]:
        return {event["index"]: event for event in self.of("result")}
