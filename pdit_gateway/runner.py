"""One execution: statements sent in order, their events, stop on error, cancel and timeout."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from traitlets import Float, Integer
from traitlets.config import Configurable

from .events import StatementOutput, error_item
from .jsontypes import JSONDict
from .outputs import ItemForm
from .protocol import ExecuteRequest
from .scripting import begin_code, exit_status, statement_metadata, unbind_code
from .timestamps import isoformat, utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .incremental import Plan
    from .kernel import Listener
    from .splitter import Statement

StopReason = Literal["error", "cancel", "interrupt", "timeout", "reset", "kernel-died", "exit"]
FinalStatus = Literal["ok", "error", "cancelled", "timeout", "kernel-died", "exited"]

_STATUS_FOR_REASON: dict[str, FinalStatus] = {
    "error": "error",
    "cancel": "cancelled",
    "interrupt": "cancelled",
    "reset": "cancelled",
    "timeout": "timeout",
    "kernel-died": "kernel-died",
    "exit": "exited",
}


#: How retained items are updated by a display id (an item keeps its output type).
ITEM_FORM = ItemForm()

#: When a statement starts after an interrupt, the share of ``interrupt_grace`` after which
#: it is interrupted again if it still runs. Fixed: it follows ``interrupt_grace``; a quarter
#: lets a first SIGINT that did reach the statement be reported before a second one is
#: sent, and leaves three quarters of the grace for the statement to stop.
LATE_INTERRUPT_SHARE = 0.25

#: Seconds to wait for the reply of a statement the kernel went idle on when both
#: ``iopub_timeout`` and ``interrupt_grace`` are 0. Fixed: it only keeps such a run from
#: waiting forever for a reply the kernel dropped; it is ``iopub_timeout``'s default.
REPLY_LOST_FALLBACK = 4.0

#: How many times a run's first request is sent again when the kernel aborts it because it
#: was still aborting after the previous execution's error (see ``KernelChannel.aborting``).
#: Fixed: ipykernel stops aborting once it has dispatched what it held, so one resend
#: almost always suffices; the bound only keeps a kernel that aborts everything from
#: being asked forever (its statements are then reported as not run).
ABORT_RESENDS = 10


class EventSink(Protocol):
    """Where a runner sends its events; the session stamps, records and fans them out."""

    def emit(self, payload: dict[str, Any]) -> dict[str, Any]: ...


class KernelChannel(Protocol):
    """The requests a runner sends to a kernel, and the messages that answer them.

    :class:`~pdit_gateway.kernel.KernelConnection` is one; the runner's unit tests use a
    scripted fake.
    """

    @property
    def scripting(self) -> bool:
        """Whether the kernel runs the gateway's script set-up."""
        ...

    def execute(self, code: str, listener: Listener, **options: Any) -> str:
        """Send an ``execute_request``; the shell reply and the iopub and stdin messages
        whose parent it is go to ``listener(channel, msg)``. Return its ``msg_id``."""
        ...

    def forget(self, msg_id: str) -> None:
        """Stop routing the messages of ``msg_id``."""
        ...

    def send_input(self, value: str, parent: JSONDict | None = None) -> None:
        """Answer an ``input_request`` on stdin."""
        ...

    def may_have_lost_setup(self) -> bool:
        """Whether the kernel's process changed since the script set-up was installed."""
        ...

    def setup_installed(self) -> None:
        """Note that the set-up was (re)installed in the kernel's current process."""
        ...

    @property
    def aborting(self) -> bool:
        """Whether the kernel may abort the next execute request: the last reply was the
        error of a request sent with ``stop_on_error``."""
        ...


class KernelControl(Protocol):
    """What a runner may ask of its session's kernel."""

    @property
    def connection(self) -> KernelChannel:
        """The connected kernel (raises when there is none)."""
        ...

    @property
    def died(self) -> asyncio.Future[None]:
        """A future that resolves when the current kernel is found dead."""
        ...

    async def interrupt(self) -> None:
        """Interrupt the kernel."""
        ...

    async def restart(self, reason: str) -> None:
        """Restart the kernel (its namespace is lost)."""
        ...


class ExecutionPolicy(Configurable):
    """The limits every execution runs under: its timeout, the interrupt's grace, the output
    it may keep and how many statements wait in the kernel."""

    execution_timeout = Float(
        0.0,
        min=0.0,
        config=True,
        help="Seconds an execution may run before the kernel is interrupted (0 = no limit). "
        "An execute request's own 'timeout' overrides it.",
    )
    interrupt_grace = Float(
        3.0,
        min=0.0,
        config=True,
        help="Seconds to wait after an interrupt (timeout, cancel) for the kernel to stop before "
        "it is restarted.",
    )
    iopub_timeout = Float(
        4.0,
        min=0.0,
        config=True,
        help="Seconds without output after which a statement the kernel has replied to is "
        "finished with what arrived (0 = wait as long as it takes).",
    )
    max_output_bytes = Integer(
        4 * 1024 * 1024,
        min=0,
        config=True,
        help="Bytes of output one statement may send and keep (0 = no limit): UTF-8 bytes of "
        "stream text plus the characters of every display and result. Past it stream output "
        "is elided, keeping a tail of output_tail_bytes, and displays and results are elided; "
        "an elision marker on stderr says how many bytes (and displays) were elided.",
    )
    max_execution_output_bytes = Integer(
        16 * 1024 * 1024,
        min=0,
        config=True,
        help="Bytes of output one execution may keep, all its statements together (0 = no "
        "limit); each statement's allowance is max_output_bytes or what the statements before "
        "left, whichever is less, so an execution holds at most about this much in memory "
        "and in the database.",
    )
    output_tail_bytes = Integer(
        16 * 1024,
        min=0,
        config=True,
        help="Bytes of the end of an over-long statement output kept and sent after the elision "
        "marker.",
    )
    pipeline_depth = Integer(
        1,
        min=0,
        config=True,
        help="Statements of one execution sent to the kernel and not yet replied to (0 = all "
        "at once). With 1 the next statement leaves when the kernel replies 'ok' to the one "
        "before, while the kernel still publishes that statement's idle status, so no "
        "statement ever runs after a failed or interrupted one. With more, statements wait in "
        "the kernel and rely on its stop_on_error, which aborts only the requests it already "
        "holds when the error happens: under load a statement after a failed one can run.",
    )

    def timeout_for(self, request: ExecuteRequest) -> float:
        """Return the seconds ``request`` may run: its ``timeout``, else ``execution_timeout``."""
        return request.timeout if request.timeout is not None else self.execution_timeout


def statement_sources(script: str, statements: Sequence[Statement]) -> list[str]:
    """Return each statement's source: its lines of ``script``, ``lineStart`` to ``lineEnd``.

    A CR LF or a lone CR ends a line as LF does (as the splitter reads the script); the
    lines are joined with LF, without a final line end.
    """
    lines = script.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return ["\n".join(lines[s.line_start - 1 : s.line_end]) for s in statements]


@dataclass(eq=False)
class Execution:
    """One ``execute`` request and what became of it."""

    execution_id: str
    request: ExecuteRequest
    statements: list[Statement]
    status: str = "queued"
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The script's absolute path (``__file__``), None when the client named no file.
    script_path: str | None = None
    #: The status ``sys.exit`` ended the run with (status ``exited``).
    exit_code: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    running: StatementRun | None = None
    #: characters of output held in ``results`` (what the history byte bound counts)
    retained_bytes: int = 0
    #: The plan of a whole-script run (``statements`` from the top, ``changed``): what runs.
    plan: Plan | None = None
    #: In a ``changed`` run, the kept statements' results (without their place), by index:
    #: they are not run but sent again, marked ``cached``.
    kept: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Names deleted from the namespace before the first statement runs.
    unbind: frozenset[str] = frozenset()
    #: Whether the run starts as a run from the top (working directory, sibling modules);
    #: None: when it starts at the script's first line.
    fresh: bool | None = None
    #: Each statement's source (:func:`statement_sources`), made when first asked for.
    _sources: list[str] | None = field(default=None, init=False, repr=False)

    @property
    def finished(self) -> bool:
        """Return whether the execution has ended (its ``complete`` was sent)."""
        return self.status not in ("queued", "running")

    def expressions(self) -> list[dict[str, int]]:
        """Return the wire form of the statements (as ``cancelled`` lists them)."""
        return [statement.to_wire() for statement in self.statements]

    def statement_entries(self) -> list[dict[str, Any]]:
        """Return the statements as the ``expressions`` event and snapshots list them.

        Each entry is :meth:`expressions`' with the statement's ``source`` (its lines of the
        script, so a client can tell later whether the document still holds them) and, for
        a statement a ``changed`` run keeps, ``cached: true``.
        """
        if self._sources is None:
            self._sources = statement_sources(self.request.script, self.statements)
        entries: list[dict[str, Any]] = []
        for statement, source in zip(self.statements, self._sources, strict=True):
            entry: dict[str, Any] = {**statement.to_wire(), "source": source}
            if statement.index in self.kept:
                entry["cached"] = True
            entries.append(entry)
        return entries

    def summary(self) -> dict[str, Any]:
        """Return the short form used in ``welcome`` and session listings."""
        return {
            "executionId": self.execution_id,
            "status": self.status,
            "scriptName": self.request.script_name,
        }

    def snapshot(self) -> dict[str, Any]:
        """Return the execution snapshot of protocol section 5."""
        snap: dict[str, Any] = {
            "executionId": self.execution_id,
            "status": self.status,
            "scriptName": self.request.script_name,
            "expressions": self.statement_entries(),
            "results": {str(index): result for index, result in sorted(self.results.items())},
            "createdAt": isoformat(self.created_at),
            "startedAt": isoformat(self.started_at),
            "finishedAt": isoformat(self.finished_at),
        }
        if self.exit_code is not None:
            snap["exitCode"] = self.exit_code
        if self.running is not None:
            snap["running"] = {
                "index": self.running.statement.index,
                "output": list(self.running.output.output),
            }
            if self.running.input_request is not None:
                snap["running"]["inputRequest"] = input_request_fields(self.running.input_request)
        return snap


@dataclass(eq=False)
class StatementRun:
    """The state of one statement inside a running execution."""

    statement: Statement
    output: StatementOutput
    msg_id: str | None = None
    started: float | None = None
    reply: JSONDict | None = None
    idle: bool = False
    complete: bool = False
    held: list[dict[str, Any]] = field(default_factory=list)
    idle_timer: asyncio.TimerHandle | None = None
    #: The kernel's unanswered ``input_request``.
    input_request: JSONDict | None = None
    #: when an interrupt was sent while the kernel was known to be inside this statement
    interrupted_at: float | None = None
    #: the wait for a reply after the statement's idle status (see ``Runner._reply_lost``)
    reply_timer: asyncio.TimerHandle | None = None
    #: a kept statement's result from the last run (it is not sent to the kernel)
    kept: dict[str, Any] | None = None

    @property
    def in_kernel(self) -> bool:
        """Return whether the statement was sent and the kernel has neither replied nor gone
        idle on it."""
        return (
            self.msg_id is not None and self.reply is None and not self.idle and not self.complete
        )


def input_request_fields(msg: JSONDict) -> dict[str, Any]:
    """Return ``{prompt, password}`` of a kernel's ``input_request``."""
    content = msg.get("content") or {}
    return {"prompt": str(content.get("prompt", "")), "password": bool(content.get("password"))}


class Runner:
    """Run one execution on a session's kernel and emit its events.

    Statements are sent as the kernel replies to the ones before (up to
    ``pipeline_depth`` without a reply, 0 = all), with the kernel's ``stop_on_error``;
    nothing more is sent after a failed statement. Events are emitted strictly in
    statement order. The runner never
    touches a socket: it only calls ``sink.emit``.

    A stop (cancel, interrupt, timeout) sends nothing more and interrupts the kernel only
    while a statement is in it (sent, neither replied to nor idle). The kernel is
    restarted only when a statement it was known to be running when interrupted (its
    ``execute_input`` or output had arrived) is still unanswered ``interrupt_grace``
    seconds later; a kernel that replied or went idle is never restarted. ipykernel
    ignores SIGINT between requests, so a statement that starts after the interrupt is
    interrupted again once it runs.
    """

    def __init__(
        self,
        execution: Execution,
        kernel: KernelControl,
        sink: EventSink,
        policy: ExecutionPolicy,
        log: logging.Logger,
    ) -> None:
        self.execution = execution
        self.kernel = kernel
        self.sink = sink
        self.policy = policy
        self.log = log
        #: seconds the execution may run (0 = no limit)
        self.timeout = policy.timeout_for(execution.request)
        self._runs = [
            StatementRun(
                s,
                StatementOutput(policy.max_output_bytes, policy.output_tail_bytes),
                kept=execution.kept.get(s.index),
            )
            for s in execution.statements
        ]
        self._active = 0
        self._next_send = 0
        self._in_flight = 0
        self._not_run: list[int] = []
        self._stopping: StopReason | None = None
        # the statement whose own failure (or exit) stopped the run: the statements after it
        # do not run, kept and markdown ones included; None for a stop from outside
        self._stopped_at: int | None = None
        self._stop_requested = asyncio.Event()
        self._all_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finished = False
        self._had_error = False
        self._connection: KernelChannel | None = None
        self._prologue_id: str | None = None
        self._prologue_setup = False
        self._prologue_sent = False
        # While the kernel may still abort after an earlier execution's error, the run sends
        # one request (the prologue, else its first statement) and waits for its reply; an
        # aborted one is sent again.
        self._holding = False
        self._resends = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: list[asyncio.TimerHandle] = []
        # set when a statement's interrupt was sent late (see _interrupt_if_running)
        self._recheck = asyncio.Event()

    # -- requests from the session -------------------------------------------------

    def stop(self, reason: StopReason) -> None:
        """Ask the execution to stop (``cancel``, ``interrupt`` or ``reset``)."""
        if self._stopping is None or reason == "reset":
            self._stopping = reason
        self._stop_requested.set()

    def answer_input(self, value: str) -> bool:
        """Send ``value`` to the statement waiting in ``input()``; False if none waits."""
        for run in self._runs:
            request = run.input_request
            if request is not None and not run.complete and self._connection is not None:
                run.input_request = None
                self._connection.send_input(value, request)
                return True
        return False

    # -- the run ------------------------------------------------------------------------

    async def run(self) -> FinalStatus:
        """Run the execution to its ``complete`` event and return the final status."""
        execution = self.execution
        execution.status = "running"
        execution.started_at = utcnow()
        started = time.monotonic()
        self._emit({"type": "expressions", "expressions": execution.statement_entries()})
        try:
            if self._runs and self.kernel.died.done():
                self._force_finish("kernel-died", None, None)
            elif self._runs:
                self._connection = self.kernel.connection
                self._flush()
                self._send_more()
                self._check_done()
                await self._supervise(started)
        except asyncio.CancelledError:
            # the session is shutting down: end the execution visibly, then stop
            self._force_finish("cancel", "KernelShutdown", "the session was closed")
            self._complete(started)
            raise
        except Exception:
            self.log.exception("pdit execution %s failed inside the gateway", self._eid)
            self._force_finish("error", "GatewayError", "the gateway failed running this execution")
        finally:
            self._forget_requests()
            for timer in self._timers:
                timer.cancel()
            for task in list(self._tasks):
                task.cancel()
        return self._complete(started)

    async def _supervise(self, started: float) -> None:
        deadline = started + self.timeout if self.timeout > 0 else None
        died = self.kernel.died
        while not self._all_done.done():
            now = time.monotonic()
            restart_at = self._restart_due()
            wake_at = [t for t in (deadline, restart_at) if t is not None]
            wait_for = max(0.0, min(wake_at) - now) if wake_at else None
            stop_wait = asyncio.ensure_future(self._stop_requested.wait())
            recheck = asyncio.ensure_future(self._recheck.wait())
            waits: set[asyncio.Future[Any]] = {self._all_done, died, stop_wait, recheck}
            try:
                await asyncio.wait(
                    waits,
                    timeout=wait_for,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                stop_wait.cancel()
                recheck.cancel()
            self._recheck.clear()
            if self._all_done.done():
                return
            if died.done():
                self._force_finish("kernel-died", "DeadKernelError", "the kernel died")
                return
            now = time.monotonic()
            restart_at = self._restart_due()
            if self._stop_requested.is_set():
                self._stop_requested.clear()
                if self._stopping == "reset":
                    await self._restart_and_finish("reset", None, None)
                    return
                await self._interrupt_statements()
                self._flush()
                self._check_done()
            elif restart_at is not None and now >= restart_at:
                reason = self._stopping or "timeout"
                await self._restart_and_finish(
                    reason,
                    "TimeoutError" if reason == "timeout" else "KernelRestarted",
                    f"the kernel did not stop within {self.policy.interrupt_grace:g} s of an "
                    "interrupt and was restarted",
                )
                return
            elif deadline is not None and now >= deadline:
                deadline = None
                if self._stopping is None:
                    self._stopping = "timeout"
                await self._interrupt_statements()
                self._flush()
                self._check_done()

    def _restart_due(self) -> float | None:
        """Return when the kernel must be restarted: ``interrupt_grace`` after the first
        interrupt sent while it ran a statement still unanswered (None: no such statement)."""
        grace = self.policy.interrupt_grace
        times = [
            run.interrupted_at + grace
            for run in self._runs
            if run.interrupted_at is not None and run.in_kernel
        ]
        return min(times) if times else None

    async def _interrupt_statements(self) -> None:
        """Interrupt the kernel if a statement of this execution is in it.

        With none in it (all replied or idle, the rest not sent) no interrupt is sent: it
        could only reach whatever the kernel does next. The statements the kernel had
        started are marked as interrupted (their restart clock starts); one not yet started
        may have been sent to a kernel between requests, which ignores SIGINT, and is
        interrupted again when it starts (``_start_run``).
        """
        pending = [run for run in self._runs if run.in_kernel]
        if not pending:
            return
        now = time.monotonic()
        running = [run for run in pending if run.started is not None]
        await self._interrupt()
        for run in running:
            if run.interrupted_at is None:
                run.interrupted_at = now

    async def _interrupt(self) -> None:
        try:
            await self.kernel.interrupt()
        except Exception:
            self.log.exception("pdit execution %s: interrupting the kernel failed", self._eid)

    async def _restart_and_finish(
        self, reason: StopReason, ename: str | None, evalue: str | None
    ) -> None:
        self._force_finish(reason, ename, evalue)
        try:
            await self.kernel.restart(reason)
        except Exception:
            self.log.exception("pdit execution %s: restarting the kernel failed", self._eid)

    # -- sending --------------------------------------------------------------------------

    def _scripted(self) -> bool:
        """Whether statements run with script semantics (statements mode, a Python kernel
        with the gateway's set-up)."""
        connection = self._connection
        return connection is not None and connection.scripting and self.execution.request.scripted

    def _send_prologue(self, scripted: bool) -> None:
        """Send ``begin`` (the script's identity and text) ahead of the first statement, and
        delete the names an incremental run unbinds."""
        execution = self.execution
        request = execution.request
        connection = self._connection
        assert connection is not None
        line_range = request.line_range
        fresh = execution.fresh
        if fresh is None:
            fresh = line_range is None or line_range[0] <= 1
        parts = []
        if scripted:
            self._prologue_setup = connection.may_have_lost_setup()
            parts.append(
                begin_code(
                    execution.script_path,
                    request.script,
                    fresh,
                    request.interactive_tables,
                    setup=self._prologue_setup,
                )
            )
        if execution.unbind:
            parts.append(unbind_code(execution.unbind))
        if not parts:
            return
        code = "\n".join(parts)
        self._execute_prologue(code)

    def _execute_prologue(self, code: str) -> None:
        connection = self._connection
        assert connection is not None
        self._prologue_id = connection.execute(
            code,
            functools.partial(self._on_prologue, code),
            silent=True,
            store_history=False,
            allow_stdin=False,
            stop_on_error=False,
        )

    def _resend_aborted(self, status: object) -> bool:
        """Whether a held request the kernel aborted is to be sent again."""
        if not self._holding:
            return False
        if status == "aborted" and self._stopping is None and self._resends < ABORT_RESENDS:
            self._resends += 1
            return True
        self._holding = False  # the kernel has stopped aborting (or the run ends anyway)
        return False

    def _on_prologue(self, code: str, channel: str, msg: JSONDict) -> None:
        if channel != "shell":
            return
        content = msg.get("content") or {}
        connection = self._connection
        held = self._holding
        if self._resend_aborted(content.get("status")):
            assert connection is not None
            assert self._prologue_id is not None
            connection.forget(self._prologue_id)
            self._execute_prologue(code)
            return
        if content.get("status") == "ok" and self._prologue_setup and connection is not None:
            connection.setup_installed()
        if content.get("status") != "ok":
            self.log.warning(
                "pdit execution %s: the script prologue failed: %s: %s",
                self._eid,
                content.get("ename"),
                content.get("evalue"),
            )
        if self._connection is not None and self._prologue_id is not None:
            self._connection.forget(self._prologue_id)
        if held and not self._finished:
            self._send_more()  # the statements held back for the prologue's reply

    def _sends_from(self, start: int) -> bool:
        """Whether a statement from ``start`` on goes to the kernel (code, not kept)."""
        return any(run.statement.kind == "code" and run.kept is None for run in self._runs[start:])

    def _send_more(self) -> None:
        depth = self.policy.pipeline_depth or len(self._runs)
        connection = self._connection
        assert connection is not None
        scripted = self._scripted()
        if not self._prologue_sent and self._sends_from(self._next_send):
            self._prologue_sent = True
            self._holding = connection.aborting
            self._send_prologue(scripted)
            if self._holding and self._prologue_id is not None:
                return  # the statements follow the prologue's reply
        if self._holding and self._prologue_id is not None:
            return
        if self._holding:
            depth = 1
        while (
            self._stopping is None and self._in_flight < depth and self._next_send < len(self._runs)
        ):
            run = self._runs[self._next_send]
            self._next_send += 1
            if run.statement.kind != "code" or run.kept is not None:
                continue
            budget = self.policy.max_execution_output_bytes
            if budget > 0:
                # what the statements before kept is gone from this one's allowance
                room = (
                    budget
                    - self.execution.retained_bytes
                    - sum(
                        other.output.kept_bytes
                        for other in self._runs
                        if other.msg_id is not None and not other.complete
                    )
                )
                run.output.restrict(room, room)
            self._execute_statement(run, scripted)
            self._in_flight += 1

    def _execute_statement(self, run: StatementRun, scripted: bool) -> None:
        request = self.execution.request
        connection = self._connection
        assert connection is not None
        run.msg_id = connection.execute(
            run.statement.code,
            functools.partial(self._on_message, run),
            silent=False,
            store_history=request.store_history,
            allow_stdin=request.allow_stdin,
            stop_on_error=not request.allow_errors,
            metadata=statement_metadata(run.statement.line_start) if scripted else None,
        )

    # -- messages from the kernel ----------------------------------------------------------

    def _on_message(self, run: StatementRun, channel: str, msg: JSONDict) -> None:
        if self._finished or run.complete:
            return
        if channel == "stdin":
            if msg["header"]["msg_type"] == "input_request":
                run.input_request = msg
                self._statement_event(run, {"type": "input-request", **input_request_fields(msg)})
            return
        if channel == "shell":
            if self._resend_aborted((msg.get("content") or {}).get("status")):
                assert self._connection is not None
                assert run.msg_id is not None
                self._connection.forget(run.msg_id)
                self._execute_statement(run, self._scripted())
                return
            run.reply = msg
            self._on_reply(run)
            if run.idle:
                self._complete_run(run)
            elif self.policy.iopub_timeout > 0:
                run.idle_timer = asyncio.get_running_loop().call_later(
                    self.policy.iopub_timeout, self._idle_timed_out, run
                )
            return
        if run.idle_timer is not None:
            # output is still arriving: the timeout counts quiet time, not time since the reply
            run.idle_timer.cancel()
            run.idle_timer = asyncio.get_running_loop().call_later(
                self.policy.iopub_timeout, self._idle_timed_out, run
            )
        msg_type = msg["header"]["msg_type"]
        if msg_type == "status":
            if msg["content"].get("execution_state") == "idle":
                run.idle = True
                if run.reply is not None:
                    self._complete_run(run)
                elif run.reply_timer is None:
                    # the kernel sends its reply before going idle: one that has not come
                    # after a while was lost (ipykernel drops it when a KeyboardInterrupt
                    # reaches its request handler outside the statement's code)
                    wait = (
                        self.policy.iopub_timeout
                        or self.policy.interrupt_grace
                        or REPLY_LOST_FALLBACK
                    )
                    run.reply_timer = asyncio.get_running_loop().call_later(
                        wait, self._reply_lost, run
                    )
            return
        if msg_type == "execute_input":
            run.output.feed(msg)
            self._start_run(run)
            return
        if run.started is None:  # output before execute_input: count it as started
            self._start_run(run)
        for payload in run.output.feed(msg):
            if payload["type"] == "display" and payload.get("update"):
                self._update_earlier_results(payload)
            self._statement_event(run, payload)

    def _update_earlier_results(self, payload: dict[str, Any]) -> None:
        """Apply an ``update_display_data`` to the retained results of earlier statements."""
        display_id = payload.get("displayId")
        for result in self.execution.results.values():
            output = result["output"]
            for position, item in enumerate(output):
                if item.get("displayId") == display_id:
                    output[position] = ITEM_FORM.updated(item, payload["output"])

    def _start_run(self, run: StatementRun) -> None:
        if run.started is not None:
            return
        run.started = time.monotonic()
        if run.statement.index == self._active:
            # a statement whose events are still held is not what snapshots show as running
            self.execution.running = run
        self._statement_event(run, {"type": "running"})
        if self._stopping in ("cancel", "interrupt", "timeout"):
            # The interrupt may have landed between two statements, where ipykernel ignores
            # SIGINT. Interrupt this statement too if it is still running a moment later; not
            # at once: when the first SIGINT did reach it, a second one while the kernel
            # reports the KeyboardInterrupt can cost the reply (and the kernel a restart).
            self._timers.append(
                asyncio.get_running_loop().call_later(
                    self.policy.interrupt_grace * LATE_INTERRUPT_SHARE,
                    self._interrupt_if_running,
                    run,
                )
            )

    def _interrupt_if_running(self, run: StatementRun) -> None:
        if self._finished or not run.in_kernel:
            return
        task = asyncio.ensure_future(self._interrupt_late(run))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _interrupt_late(self, run: StatementRun) -> None:
        now = time.monotonic()
        await self._interrupt()
        if run.interrupted_at is None:
            run.interrupted_at = now
        self._recheck.set()

    def _idle_timed_out(self, run: StatementRun) -> None:
        if not run.complete and not self._finished:
            self.log.warning(
                "pdit execution %s: no idle status %g s after the reply of statement %d",
                self._eid,
                self.policy.iopub_timeout,
                run.statement.index,
            )
            run.idle = True
            self._complete_run(run)

    def _reply_lost(self, run: StatementRun) -> None:
        """The kernel went idle on a statement and never replied: finish it as interrupted."""
        if run.complete or self._finished or run.reply is not None:
            return
        interrupted = self._stopping in ("cancel", "interrupt", "timeout")
        self.log.warning(
            "pdit execution %s: statement %d went idle without a reply%s",
            self._eid,
            run.statement.index,
            " (interrupted outside its code)" if interrupted else "",
        )
        ename = "KeyboardInterrupt" if interrupted else "KernelError"
        evalue = (
            "the interrupt reached the kernel outside the statement's code, and the kernel "
            "sent no reply"
            if interrupted
            else "the kernel went idle without replying to this statement"
        )
        run.reply = {
            "header": {"msg_type": "execute_reply"},
            "content": {"status": "error", "ename": ename, "evalue": evalue, "traceback": []},
            "lost": True,
        }
        self._on_reply(run)
        self._complete_run(run)

    def _on_reply(self, run: StatementRun) -> None:
        """The kernel finished a statement: decide at once whether more are sent.

        A failed statement stops the execution here, before its traceback arrives on iopub:
        with ``pipeline_depth`` 1 the next statement is sent only on an ``ok`` reply, so no
        statement ever runs after a failed one.
        """
        assert run.reply is not None
        self._in_flight -= 1
        run.input_request = None
        status = run.reply["content"].get("status")
        if self._exits(run):
            if self._stopping is None or self._stopping == "error":
                self._stopping = "exit"
                self._stopped_at = run.statement.index
        elif (
            status == "error" and not self.execution.request.allow_errors and self._stopping is None
        ):
            self._stopping = "error"
            self._stopped_at = run.statement.index
        self._send_more()

    def _exits(self, run: StatementRun) -> bool:
        """Whether the statement raised ``SystemExit`` in a script run (it ends the run)."""
        reply = run.reply
        return (
            reply is not None
            and self.execution.request.scripted
            and reply["content"].get("status") == "error"
            and reply["content"].get("ename") == "SystemExit"
        )

    def _complete_run(self, run: StatementRun) -> None:
        run.complete = True
        if run.idle_timer is not None:
            run.idle_timer.cancel()
        if run.reply_timer is not None:
            run.reply_timer.cancel()
        assert run.reply is not None
        assert run.msg_id is not None
        if self._connection is not None:
            self._connection.forget(run.msg_id)
        self._flush()
        self._check_done()

    # -- ordered emission -------------------------------------------------------------------

    def _statement_event(self, run: StatementRun, payload: dict[str, Any]) -> None:
        statement = run.statement
        payload["executionId"] = self._eid
        payload["index"] = statement.index
        payload["lineStart"] = statement.line_start
        payload["lineEnd"] = statement.line_end
        if statement.index == self._active:
            self.sink.emit(payload)
        else:
            run.held.append(payload)

    def _flush(self) -> None:
        """Emit results in statement order, as far as they are known."""
        runs = self._runs
        while self._active < len(runs):
            run = runs[self._active]
            statement = run.statement
            for payload in run.held:
                self.sink.emit(payload)
            run.held.clear()
            if run.started is not None and not run.complete and statement.kind == "code":
                self.execution.running = run
            if run.kept is not None or statement.kind in ("markdown", "syntax-error"):
                if self._stopped_before(statement.index):
                    self._not_run.append(statement.index)
                elif run.kept is not None:
                    self._emit_kept_result(run, run.kept)
                else:
                    self._emit_local_result(run)
            elif run.complete:
                self._emit_kernel_result(run)
            elif run.msg_id is None and self._stopping is not None:
                self._not_run.append(statement.index)
            else:
                return
            self._active += 1

    def _stopped_before(self, index: int) -> bool:
        """Whether the run stopped before statement ``index`` (which the kernel never sees).

        A failing statement's reply can come before the result of the one ahead of it: what
        lies between the two is shown, as a run statement by statement shows it.
        """
        if self._stopping is None:
            return False
        return self._stopped_at is None or self._stopped_at < index

    def _emit_kept_result(self, run: StatementRun, kept: dict[str, Any]) -> None:
        """Send a kept statement's last result again, at its new place, marked ``cached``."""
        output = list(kept["output"])
        payload = {**kept, "type": "result", "output": output}
        self._statement_event(run, payload)
        self.execution.results[run.statement.index] = {**payload, "output": list(output)}
        self.execution.retained_bytes += output_size(output)

    def _emit_local_result(self, run: StatementRun) -> None:
        statement = run.statement
        run.started = time.monotonic()
        self._statement_event(run, {"type": "running"})
        if statement.kind == "markdown":
            output = [
                {
                    "type": "text/markdown",
                    "content": statement.markdown,
                    "outputType": "display_data",
                }
            ]
            self._result(run, output, "ok", None)
            return
        assert statement.error is not None
        details = statement.error
        output = [error_item(details.ename, details.evalue, details.traceback)]
        self._result(run, output, "error", None)
        if self._stopping is None:
            self._stopping = "error"
            self._stopped_at = statement.index

    def _emit_kernel_result(self, run: StatementRun) -> None:
        assert run.reply is not None
        content = run.reply["content"]
        status = content.get("status")
        if status == "aborted":
            self._not_run.append(run.statement.index)
            return
        if run.started is None:  # its execute_input was lost (the kernel died right after)
            run.started = time.monotonic()
            self._statement_event(run, {"type": "running"})
        for payload in run.output.finish():
            self._statement_event(run, payload)
        count = content.get("execution_count", run.output.execution_count)
        output = list(run.output.output)
        if self._exits(run):
            # python prints nothing for SystemExit: the status is the result
            value = str(content.get("evalue", ""))
            for item in output:
                if item["type"] == "error" and item.get("ename") == "SystemExit":
                    value = str(item.get("evalue", ""))
            output = [
                i for i in output if not (i["type"] == "error" and i.get("ename") == "SystemExit")
            ]
            self.execution.exit_code = exit_status(value)
            self._result(run, output, "exited", count)
            return
        if run.reply.get("lost") and run.output.error is None:
            output.append(error_item(str(content["ename"]), str(content["evalue"]), []))
        self._result(run, output, "error" if status == "error" else "ok", count)

    def _result(
        self, run: StatementRun, output: list[dict[str, Any]], status: str, count: int | None
    ) -> None:
        if status == "error":
            self._had_error = True
        started = run.started if run.started is not None else time.monotonic()
        payload = {
            "type": "result",
            "output": output,
            "isInvisible": not output,
            "status": status,
            "durationMs": round((time.monotonic() - started) * 1000, 3),
            "executionCount": count,
        }
        if status == "exited":
            payload["exitCode"] = self.execution.exit_code
        self._statement_event(run, payload)
        # a copy: later display updates change the retained result, never the logged event
        self.execution.results[run.statement.index] = {**payload, "output": list(output)}
        self.execution.retained_bytes += output_size(output)
        if self.execution.running is run:
            self.execution.running = None

    def _check_done(self) -> None:
        if self._active >= len(self._runs) and not self._all_done.done():
            self._all_done.set_result(None)

    def _force_finish(self, reason: StopReason, ename: str | None, evalue: str | None) -> None:
        """End the execution now: the kernel is gone or being restarted."""
        if self._finished:
            return
        self._stopping = reason
        runs = self._runs
        current = True  # the first unfinished statement is the one the kernel was on
        while self._active < len(runs):
            run = runs[self._active]
            for payload in run.held:
                self.sink.emit(payload)
            run.held.clear()
            if run.complete or run.reply is not None:
                # replied: the kernel had finished it, only trailing output is missing
                run.complete = True
                self._emit_kernel_result(run)
                current = True
                self._active += 1
                continue
            if (
                current
                and ename is not None
                and (run.started is not None or run.msg_id is not None)
            ):
                # (it may have died before its execute_input reached us)
                for payload in run.output.finish():
                    self._statement_event(run, payload)
                output = [*run.output.output, error_item(ename, evalue or "", [])]
                self._result(run, output, "error", run.output.execution_count)
            else:
                self._not_run.append(run.statement.index)
            current = False
            self._active += 1
        self._finished = True
        self._forget_requests()
        self._check_done()

    def _forget_requests(self) -> None:
        self._finished = True
        connection = self._connection
        if connection is not None and self._prologue_id is not None:
            connection.forget(self._prologue_id)
        for run in self._runs:
            if run.idle_timer is not None:
                run.idle_timer.cancel()
            if run.reply_timer is not None:
                run.reply_timer.cancel()
            if connection is not None and run.msg_id is not None:
                connection.forget(run.msg_id)

    def _complete(self, started: float) -> FinalStatus:
        execution = self.execution
        execution.running = None
        if self._not_run:
            by_index = {s.index: s for s in execution.statements}
            self._emit(
                {
                    "type": "cancelled",
                    "expressions": [by_index[i].to_wire() for i in sorted(self._not_run)],
                    "reason": self._stopping or "error",
                }
            )
        if self._stopping is not None:
            status = _STATUS_FOR_REASON[self._stopping]
        else:
            status = "error" if self._had_error else "ok"
        execution.status = status
        execution.finished_at = utcnow()
        complete: dict[str, Any] = {
            "type": "complete",
            "status": status,
            "durationMs": round((time.monotonic() - started) * 1000, 3),
        }
        if status == "exited":
            complete["exitCode"] = execution.exit_code
        self._emit(complete)
        return status

    # -- helpers ----------------------------------------------------------------------------------

    @property
    def _eid(self) -> str:
        return self.execution.execution_id

    def _emit(self, payload: dict[str, Any]) -> None:
        payload["executionId"] = self._eid
        self.sink.emit(payload)


def output_size(output: list[dict[str, Any]]) -> int:
    """Return the characters of an output list's contents (and of its MIME bundles)."""
    size = 0
    for item in output:
        size += len(str(item.get("content", "")))
        data = item.get("data")
        if isinstance(data, dict):
            size += sum(len(value) if isinstance(value, str) else 64 for value in data.values())
    return size
