"""Sessions on kernels: one kernel, a FIFO of executions, an event log and clients each."""

from __future__ import annotations

import asyncio
import posixpath
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from traitlets import Any as AnyTrait
from traitlets import Bool, Float, Instance, Integer, Type, Unicode
from traitlets.config import LoggingConfigurable

from . import launching
from .clients import Client, Transport
from .errors import (
    DuplicateExecutionIdError,
    ExecutionFinishedError,
    InvalidSessionIdError,
    NoInputPendingError,
    PathOutsideRootError,
    QueueFullError,
    SessionBusyError,
    SessionClosedError,
    StoreWriteError,
    TooManyClientsError,
    UnknownExecutionError,
    UnknownSessionError,
)
from .eventlog import EventLog, LogBudget
from .pool import KernelPool
from .protocol import PROTOCOL_VERSION, ExecuteRequest, valid_session_id
from .reruns import Reruns
from .runner import Execution, ExecutionPolicy, Runner, output_size
from .scripting import script_path
from .session_kernel import SessionKernel
from .splitter import cell_statement, split_script
from .store import INTERRUPTED, ExecutionStore, StoredSession
from .tasks import spawn
from .timestamps import isoformat, utcnow

#: How many seq numbers a session reserves in the store at a time. Fixed: any block keeps
#: seq numbers unique across gateway restarts (a restarted session starts past its block);
#: a larger one only writes the store less often and skips more numbers after a crash.
SEQ_BLOCK = 10_000

#: The statement events after which the running execution is saved (within the interval).
_PROGRESS_EVENTS = frozenset({"running", "stream", "display", "clear", "result"})


def inside_root(path: str) -> bool:
    """Whether a session's API path (``dir/doc.py``, relative to the root) stays inside it."""
    normal = posixpath.normpath(path.replace("\\", "/")) if path else "."
    return not posixpath.isabs(normal) and normal != ".." and not normal.startswith("../")


class RestoredExecution:
    """An execution recorded before the gateway restarted: served from its stored snapshot."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self._snapshot = snapshot
        self.execution_id = str(snapshot["executionId"])
        self.status = str(snapshot.get("status"))
        self.finished = True
        finished = snapshot.get("finishedAt") or snapshot.get("createdAt")
        self.finished_at = _parse_time(finished)
        results = snapshot.get("results")
        self.retained_bytes = sum(
            output_size(result.get("output") or [])
            for result in (results.values() if isinstance(results, dict) else [])
            if isinstance(result, dict)
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the stored snapshot (with ``fromBeforeRestart: true``)."""
        return self._snapshot

    def summary(self) -> dict[str, Any]:
        """Return the short form used in ``welcome``."""
        return {
            "executionId": self.execution_id,
            "status": self.status,
            "scriptName": self._snapshot.get("scriptName"),
            "fromBeforeRestart": True,
        }


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


AnyExecution = Execution | RestoredExecution


class Session:
    """One session: a kernel, the executions sent to it, its event log and connected clients.

    A session outlives its sockets: clients come and go, the kernel and the running
    execution go on. The kernel's own life (start, liveness, restarts, shutdown) is its
    :class:`~pdit_gateway.session_kernel.SessionKernel`; the session queues executions,
    runs them one at a time, records their events and answers its clients. All mutation
    happens on the event loop.

    Parameters
    ----------
    session_id : str
        The session's id.
    kernel : SessionKernel
        Its kernel, unstarted or started by the pool; :meth:`start` starts it.
    settings : PditSessionManager
        The manager whose traits (limits, history) the session runs under.
    restored : StoredSession, optional
        What the store holds of the session from before a gateway restart.
    """

    def __init__(
        self,
        session_id: str,
        kernel: SessionKernel,
        settings: PditSessionManager,
        restored: StoredSession | None = None,
    ) -> None:
        self.session_id = session_id
        self.kernel = kernel
        self.settings = settings
        self.policy = settings.policy
        self.log = settings.log
        self.root_dir = settings.root_dir
        self.path = kernel.path
        self.store = settings.store
        self.event_log = EventLog(
            max_events=settings.event_log_size, max_bytes=settings.event_log_bytes
        )
        self.budget = settings.budget
        self.budget.add(self.event_log)
        self.clients: set[Client] = set()
        self.executions: OrderedDict[str, AnyExecution] = OrderedDict()
        # seq numbers are reserved in the store a block at a time, so a gateway that dies
        # never hands out a seq again after it restarts (see emit)
        self._seq_reserved = 0
        if restored is not None:
            self.event_log.last_seq = restored.last_seq
            self._seq_reserved = restored.last_seq
            for snapshot in restored.executions:
                restored_execution = RestoredExecution(snapshot)
                self.executions[restored_execution.execution_id] = restored_execution
        self.queue: deque[Execution] = deque()
        self.runner: Runner | None = None
        #: each script's last run, for incremental (``changed``) runs
        self.reruns = Reruns()
        self.created_at = utcnow()
        self.last_activity = self.created_at
        #: seconds idle before culling, for this session (None: the server's session_idle_timeout)
        self.idle_timeout: float | None = None
        self.closed = False
        self._queue_changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._save_timer: asyncio.TimerHandle | None = None
        #: Called with each new kernel state (the jupyter_server session follows the kernel).
        self.on_kernel_state: Callable[[str], None] | None = None
        kernel.bind(session_id, self._kernel_status, self._runs_something)

    @property
    def kernel_id(self) -> str | None:
        """Return the id of the session's kernel (None before it started)."""
        return self.kernel.kernel_id

    @property
    def kernel_name(self) -> str | None:
        """Return the kernel spec name (None: the server's default, until it started)."""
        return self.kernel.kernel_name

    @kernel_name.setter
    def kernel_name(self, name: str | None) -> None:
        # Change Kernel: the next restart starts a kernel of this spec
        self.kernel.kernel_name = name

    @property
    def kernel_manager(self) -> Any:
        """Return the server's kernel manager the session's kernel belongs to."""
        return self.kernel.kernel_manager

    @property
    def connection(self) -> Any:
        """Return the live kernel connection (``SessionClosedError`` while there is none)."""
        return self.kernel.connection

    async def ready(self) -> None:
        """Wait until the kernel has started (or failed to), or a restart has ended."""
        await self.kernel.ready.wait()

    def _kernel_status(self, payload: dict[str, Any]) -> None:
        self.emit(payload)
        if self.on_kernel_state is not None:
            self.on_kernel_state(str(payload["state"]))

    @property
    def kernel_state(self) -> str:
        """Return the kernel's state as the last ``kernel-status`` said."""
        return self.kernel.state

    def _runs_something(self) -> bool:
        return self.runner is not None

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the kernel (or take over the pooled one), its monitor and the worker."""
        self.kernel.start()
        spawn(self._tasks, self._work(), f"pdit-worker-{self.session_id}")

    async def shutdown(self, *, gateway_stopping: bool = False) -> None:
        """End every execution, shut the kernel down and close the clients.

        With ``gateway_stopping`` the session's records are kept in the store (what was
        running is recorded as interrupted by the shutdown); otherwise they are deleted.
        """
        if self.closed:
            return
        running = self.runner.execution if self.runner is not None else None
        for execution in list(self.queue):
            if gateway_stopping:
                # what waited is recorded as the gateway's shutdown interrupted it, as a
                # killed gateway's queued executions are on the next start
                self.queue.remove(execution)
                self.store.save_execution(
                    self.session_id, {**execution.snapshot(), "status": INTERRUPTED}
                )
            else:
                self._cancel_queued(execution, "cancel")
        self.closed = True
        self.kernel.close_soon()
        if self._save_timer is not None:
            self._save_timer.cancel()
            self._save_timer = None
        await self.kernel.settle()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.kernel.shutdown()
        for client in list(self.clients):
            client.close(1001, "session closed")
        self.budget.remove(self.event_log)
        if gateway_stopping:
            if running is not None:
                self.store.save_execution(
                    self.session_id, {**running.snapshot(), "status": INTERRUPTED}
                )
        else:
            self.store.forget_session(self.session_id)
        self.log.info("pdit session %s closed", self.session_id)

    # -- events ------------------------------------------------------------------------------

    def emit(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Record ``payload`` in the log (stamping ``seq`` and ``ts``), then wake the clients."""
        entry = self.event_log.append(payload)
        if entry.seq > self._seq_reserved:
            self._seq_reserved = entry.seq + SEQ_BLOCK
            self.store.save_seq(self.session_id, self._seq_reserved)
        for client in self.clients:
            client.notify()
        if self._save_timer is None and payload["type"] in _PROGRESS_EVENTS and not self.closed:
            self._save_timer = asyncio.get_running_loop().call_later(
                self.settings.running_save_interval, self._save_running
            )
        return entry.event

    def _save_running(self) -> None:
        """Record the running execution's snapshot (its output so far) in the store."""
        self._save_timer = None
        if self.runner is not None and not self.closed:
            self._persist(self.runner.execution)

    # -- clients ------------------------------------------------------------------------------

    def attach(self, transport: Transport) -> Client:
        """Attach a connection; it gets ``welcome`` now and events once it starts its stream."""
        if self.closed:
            raise SessionClosedError(f"session {self.session_id} is closed")
        limit = self.settings.max_clients_per_session
        if limit and len(self.clients) >= limit:
            raise TooManyClientsError(
                f"the session already has {len(self.clients)} connections (max_clients_per_session)"
            )
        client = Client(
            self,
            transport,
            self.log,
            self.settings.max_client_replies,
            self.settings.client_batch_events,
        )
        self.clients.add(client)
        self.last_activity = utcnow()
        client.reply(self.welcome())
        client.start()
        return client

    def detach(self, client: Client) -> None:
        """Forget a client whose connection closed; the session and its run go on."""
        if client in self.clients:
            self.clients.discard(client)
            self.last_activity = utcnow()

    def welcome(self) -> dict[str, Any]:
        """Return the ``welcome`` reply."""
        return {
            "type": "welcome",
            "sessionId": self.session_id,
            "protocol": PROTOCOL_VERSION,
            "lastSeq": self.event_log.last_seq,
            "kernel": self.kernel_info(),
            "executions": [execution.summary() for execution in self.executions.values()],
        }

    def pong(self, ping_id: Any) -> dict[str, Any]:
        """Return the ``pong`` reply to a ``ping``."""
        return {
            "type": "pong",
            "id": ping_id,
            "lastSeq": self.event_log.last_seq,
            "kernel": {"state": self.kernel_state},
        }

    def kernel_info(self) -> dict[str, Any]:
        """Return ``{name, state}`` of the kernel."""
        return self.kernel.info()

    def snapshot(self) -> dict[str, Any]:
        """Return the session snapshot of protocol section 5."""
        return {
            "sessionId": self.session_id,
            "kernel": self.kernel_info(),
            "lastSeq": self.event_log.last_seq,
            "queue": [execution.execution_id for execution in self.queue],
            "current": self.runner.execution.execution_id if self.runner is not None else None,
            "executions": [execution.snapshot() for execution in self.executions.values()],
        }

    def summary(self) -> dict[str, Any]:
        """Return the short form used by ``GET /pdit/api/sessions``."""
        return {
            "sessionId": self.session_id,
            "kernel": self.kernel_info(),
            "clients": len(self.clients),
            "queueLength": len(self.queue),
            "current": self.runner.execution.execution_id if self.runner is not None else None,
            "lastSeq": self.event_log.last_seq,
            "createdAt": isoformat(self.created_at),
            "lastActivity": isoformat(self.last_activity),
        }

    def execution(self, execution_id: str) -> AnyExecution:
        """Return a retained execution or raise ``UnknownExecutionError``."""
        try:
            return self.executions[execution_id]
        except KeyError:
            raise UnknownExecutionError(
                f"no execution {execution_id!r} in session {self.session_id}",
                execution_id=execution_id,
            ) from None

    # -- executions ------------------------------------------------------------------------------

    def submit(self, request: ExecuteRequest) -> Execution:
        """Parse and queue an execution; emit ``queued``.

        Raises
        ------
        SessionBusyError
            ``whenBusy: "reject"`` and something runs or waits.
        DuplicateExecutionIdError, QueueFullError, SessionClosedError
        """
        if self.closed:
            raise SessionClosedError(f"session {self.session_id} is closed")
        execution_id = request.execution_id or str(uuid.uuid4())
        if execution_id in self.executions:
            raise DuplicateExecutionIdError(
                f"execution id {execution_id!r} is already used in this session",
                execution_id=execution_id,
            )
        if request.when_busy == "reject" and (self.runner is not None or self.queue):
            raise SessionBusyError("another execution is running", execution_id=execution_id)
        max_queue = self.settings.max_queue
        if max_queue and len(self.queue) >= max_queue:
            raise QueueFullError(
                f"the session already holds {len(self.queue)} queued executions (max_queue)",
                execution_id=execution_id,
            )
        if request.mode == "cell":
            statements = cell_statement(request.script, request.line_range)
        else:
            statements = split_script(
                request.script, request.line_range, request.script_name or "<script>"
            )
        execution = Execution(
            execution_id,
            request,
            statements,
            script_path=(request.script_file or script_path(request.script_name, self.root_dir))
            if request.scripted
            else None,
        )
        self.executions[execution_id] = execution
        self.prune_history()
        self.queue.append(execution)
        self.last_activity = utcnow()
        position = len(self.queue) - 1 + (1 if self.runner is not None else 0)
        self.emit({"type": "queued", "executionId": execution_id, "position": position})
        # recorded at once: a gateway killed before it runs reports it interrupted on restart
        self._persist(execution)
        self._queue_changed.set()
        return execution

    def prune_history(self, now: datetime | None = None) -> int:
        """Drop finished executions beyond ``execution_history_size`` or older than
        ``execution_max_age``; return how many were dropped."""
        limit = self.settings.execution_history_size
        max_age = self.settings.execution_max_age
        finished = [eid for eid, execution in self.executions.items() if execution.finished]
        drop = set(finished[: max(0, len(finished) - limit)] if limit else [])
        if max_age > 0:
            horizon = (now or utcnow()) - timedelta(seconds=max_age)
            for eid in finished:
                ended = self.executions[eid].finished_at
                if ended is not None and ended < horizon:
                    drop.add(eid)
        max_bytes = self.settings.execution_history_bytes
        if max_bytes > 0:
            kept = [eid for eid in finished if eid not in drop]
            held = sum(self.executions[eid].retained_bytes for eid in kept)
            # the oldest go first; the newest finished execution is always kept
            for eid in kept[:-1]:
                if held <= max_bytes:
                    break
                held -= self.executions[eid].retained_bytes
                drop.add(eid)
        for eid in drop:
            del self.executions[eid]
        if drop:
            self.store.prune(self.session_id, list(self.executions))
        return len(drop)

    def idle_for(self, now: datetime | None = None) -> float | None:
        """Return seconds since the session became idle, or None while it is in use
        (a client connected, an execution queued or running, the kernel restarting)."""
        if self.clients or self.queue or self.runner is not None or self.kernel.restarting:
            return None
        return ((now or utcnow()) - self.last_activity).total_seconds()

    def cancel(self, execution_id: str) -> None:
        """Cancel a queued execution (removed) or the running one (kernel interrupt)."""
        execution = self.execution(execution_id)
        if isinstance(execution, Execution) and execution in self.queue:
            self._cancel_queued(execution, "cancel")
        elif self.runner is not None and self.runner.execution is execution:
            self.runner.stop("cancel")
        else:
            raise ExecutionFinishedError(
                f"execution {execution_id!r} has already ended", execution_id=execution_id
            )

    def _cancel_queued(self, execution: Execution, reason: str) -> None:
        self.queue.remove(execution)
        execution.status = "cancelled"
        execution.finished_at = utcnow()
        eid = execution.execution_id
        if execution.statements:
            self.emit(
                {
                    "type": "cancelled",
                    "executionId": eid,
                    "expressions": execution.expressions(),
                    "reason": reason,
                }
            )
        self.emit({"type": "complete", "executionId": eid, "status": "cancelled", "durationMs": 0})
        self._persist(execution)

    def answer_input(self, value: str, execution_id: str | None = None) -> None:
        """Answer the running statement's ``input()`` (``input-reply``).

        Raises
        ------
        NoInputPendingError
            Nothing waits for input (in ``execution_id``, when given).
        """
        runner = self.runner
        if runner is not None and execution_id not in (None, runner.execution.execution_id):
            runner = None
        if runner is None or not runner.answer_input(value):
            raise NoInputPendingError(
                "no statement is waiting for input", execution_id=execution_id
            )

    async def interrupt_current(self) -> None:
        """Interrupt whatever runs now (pdit's ``interrupt``)."""
        if self.runner is not None:
            self.runner.stop("interrupt")
        elif self.kernel.ok:
            await self.kernel.interrupt()

    async def reset(self) -> None:
        """Cancel everything queued and running (reason ``reset``) and restart the kernel."""
        for execution in list(self.queue):
            self._cancel_queued(execution, "reset")
        runner = self.runner
        if runner is not None:
            runner.stop("reset")  # the runner restarts the kernel itself
            return
        await self.kernel.ready.wait()
        await self.kernel.restart("reset")

    async def _work(self) -> None:
        kernel = self.kernel
        while not self.closed:
            if not self.queue:
                self._queue_changed.clear()
                await self._queue_changed.wait()
                continue
            await kernel.ready.wait()
            if not self.queue:
                continue
            execution = self.queue.popleft()
            if execution.request.reset and kernel.ok:
                await kernel.restart("reset")
            if not kernel.ok and kernel.restart_dead_kernels:
                await kernel.restart("dead")
            try:
                self.reruns.begin(execution, kernel.namespace_token())
            except Exception:
                # the plan is an optimisation: without one every statement runs
                self.log.exception(
                    "pdit session %s: planning execution %s failed; running every statement",
                    self.session_id,
                    execution.execution_id,
                )
                execution.plan, execution.kept, execution.unbind = None, {}, frozenset()
                self.reruns.forget()  # what the run changes is unknown: the next runs all
            runner = Runner(execution, kernel, self, self.policy, self.log)
            self.runner = runner
            self._persist(execution)
            if kernel.ok:
                kernel.set_state("busy")
            else:
                kernel.declare_dead()
            try:
                await runner.run()
            finally:
                self.reruns.end(execution)
                self.runner = None
                self.last_activity = utcnow()
                if kernel.ok and kernel.state == "busy":
                    kernel.set_state("idle")
            self._persist(execution)
            self.prune_history()

    def _persist(self, execution: Execution) -> None:
        self.store.save_execution(self.session_id, execution.snapshot())


class PditSessionManager(LoggingConfigurable):
    """Maps session ids to sessions; each session owns one kernel of the server's kernel manager.

    The manager holds the traits every session runs under, and builds the configurables
    the sessions share with ``parent=self``: the :class:`~pdit_gateway.runner.ExecutionPolicy`,
    the :class:`~pdit_gateway.pool.KernelPool` and one
    :class:`~pdit_gateway.session_kernel.SessionKernel` per session.
    """

    kernel_manager = AnyTrait(help="The server's kernel manager (MappingKernelManager or gateway).")
    store = Instance(ExecutionStore, args=(), help="Where finished executions are recorded.")
    root_dir = Unicode(
        None,
        allow_none=True,
        help="The server's root directory: relative script names are paths under it.",
    )
    lazy_pool = Bool(
        False, help="Fill the kernel pool at the first session, not at start (in JupyterLab)."
    )

    kernel_class = Type(
        default_value=SessionKernel,
        klass=SessionKernel,
        config=True,
        help="The class that starts, watches, restarts and shuts down each session's kernel.",
    )
    kernel_pool_class = Type(
        default_value=KernelPool,
        klass=KernelPool,
        config=True,
        help="The class that keeps kernels started for new sessions.",
    )
    execution_policy_class = Type(
        default_value=ExecutionPolicy,
        klass=ExecutionPolicy,
        config=True,
        help="The class of the limits executions run under (timeout, output, pipelining).",
    )
    default_kernel_name = Unicode(
        "",
        config=True,
        help="Kernel spec name for new sessions (empty = the server's default kernel).",
    )
    max_queue = Integer(
        100,
        min=0,
        config=True,
        help="Executions one session may hold queued behind the running one (0 = no limit).",
    )
    max_clients_per_session = Integer(
        100,
        min=0,
        config=True,
        help="WebSocket connections one session accepts at once, on both endpoints (count; "
        "0 = no limit); one more is closed at once with code 1008 and a reason. Each "
        "connection costs about 150 KB (its compressor among it) and a share of every fan-out.",
    )
    max_client_replies = Integer(
        1000,
        min=1,
        config=True,
        help="Replies to one connection (welcome, pong, state, error, ...) that may wait "
        "unsent before the connection is closed as not reading, with code 1008 (count).",
    )
    client_batch_events = Integer(
        512,
        min=1,
        config=True,
        help="Logged events a connection's writer takes at a time (count; at most 1 MiB of "
        "them go out together): larger batches cost fewer writes when a client catches up.",
    )
    event_log_size = Integer(
        10_000,
        min=1,
        config=True,
        help="Events retained per session for replay after a reconnect; older ones are "
        "dropped and a client that needs them gets a 'resync' snapshot.",
    )
    event_log_bytes = Integer(
        16 * 1024 * 1024,
        min=0,
        config=True,
        help="Bytes of encoded events retained per session (0 = no limit besides "
        "event_log_size); the oldest go first.",
    )
    event_log_total_bytes = Integer(
        512 * 1024 * 1024,
        min=0,
        config=True,
        help="Bytes of encoded events retained by all sessions together (0 = no limit); past "
        "it the oldest events of the largest logs are dropped.",
    )
    execution_history_size = Integer(
        100,
        min=0,
        config=True,
        help="Finished executions retained per session for snapshots (0 = no limit).",
    )
    execution_history_bytes = Integer(
        64 * 1024 * 1024,
        min=0,
        config=True,
        help="Bytes of output (characters of the results' output items) that the finished "
        "executions retained per session may hold (0 = no limit); past it the oldest are "
        "dropped, from memory and from the database. The newest finished execution is kept.",
    )
    execution_max_age = Float(
        24 * 3600.0,
        min=0.0,
        config=True,
        help="Seconds a finished execution stays in memory after it ended (0 = no limit); "
        "older ones are dropped by the maintenance task (and from the database).",
    )
    running_save_interval = Float(
        1.0,
        min=0.01,
        config=True,
        help="Seconds between two writes of the running execution's snapshot to the database "
        "while it makes progress, so a gateway that is killed leaves its partial output "
        "there (reported as interrupted on the next start).",
    )
    session_idle_timeout = Float(
        0.0,
        min=0.0,
        config=True,
        help="Seconds a session may stay idle — no client connected, nothing queued or "
        "running — before it is culled and its kernel shut down (0 = never).",
    )
    maintenance_interval = Float(
        30.0,
        min=0.0,
        config=True,
        help="Seconds between passes of the maintenance task that drops expired history "
        "and culls idle sessions (0 = no task).",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sessions: dict[str, Session] = {}
        self.budget = LogBudget(self.event_log_total_bytes)
        self.restored: dict[str, StoredSession] = self.store.load()
        self.policy: ExecutionPolicy = self.execution_policy_class(parent=self)
        # the kernels the sessions and the pool start get the gateway's launcher
        self._undo_launch_hook = launching.install(self.kernel_manager, self.log)
        self.pool: KernelPool = self.kernel_pool_class(
            self.kernel_manager,
            self.default_kernel_name or None,
            lambda kernel_name: self.new_kernel("", kernel_name, None),
            parent=self,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False

    def new_kernel(self, name: str, kernel_name: str | None, path: str | None) -> SessionKernel:
        """Return an unstarted kernel for session ``name`` ("" for the pool)."""
        kernel: SessionKernel = self.kernel_class(
            self.kernel_manager, name, kernel_name, path, parent=self
        )
        return kernel

    def start(self) -> None:
        """Start the maintenance task and fill the kernel pool (once; needs a running loop)."""
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()

        def on_health(error: str | None) -> None:  # in the store's writer thread
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._store_health, error)

        self.store.on_health = on_health
        if self.maintenance_interval > 0:
            spawn(self._tasks, self._maintain(), "pdit-maintenance")
        if not self.lazy_pool:
            self.pool.fill()

    def _store_health(self, error: str | None) -> None:
        """Writes to the store started failing: tell every connected client (an ``error``)."""
        if error is None:
            return
        event = StoreWriteError(
            f"results are not being saved (the execution store fails: {error}); they will be "
            "lost when the gateway restarts"
        ).to_event()
        for session in list(self.sessions.values()):
            for client in list(session.clients):
                client.reply(event)

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(self.maintenance_interval)
            await self.maintain()

    async def maintain(self) -> None:
        """Drop expired history and cull idle sessions (one pass; each failure is logged)."""
        now = utcnow()
        for session in list(self.sessions.values()):
            try:
                session.prune_history(now)
                idle = session.idle_for(now)
                timeout = session.idle_timeout or self.session_idle_timeout
                if timeout > 0 and idle is not None and idle > timeout:
                    self.log.info(
                        "pdit session %s culled after %.0f s idle (kernel %s)",
                        session.session_id,
                        idle,
                        session.kernel_id,
                    )
                    self.sessions.pop(session.session_id, None)
                    await session.shutdown()
            except Exception:
                self.log.exception("pdit maintenance of session %s failed", session.session_id)

    def get(self, session_id: str) -> Session:
        """Return an existing session or raise ``UnknownSessionError``."""
        try:
            return self.sessions[session_id]
        except KeyError:
            raise UnknownSessionError(f"no session {session_id!r}") from None

    def get_or_create(
        self, session_id: str | None = None, kernel_name: str | None = None, path: str | None = None
    ) -> Session:
        """Return the session ``session_id``, creating it (and starting its kernel) if absent."""
        self.start()
        if session_id is None:
            session_id = str(uuid.uuid4())
        if not valid_session_id(session_id):
            raise InvalidSessionIdError("a session id matches [A-Za-z0-9_.-]{1,128}")
        if path is not None and not inside_root(path):
            raise PathOutsideRootError(f"{path!r} is not a path inside the server's root directory")
        session = self.sessions.get(session_id)
        if session is None:
            kernel_name = kernel_name or self.default_kernel_name or None
            kernel = None
            if self.pool.matches(kernel_name, path):
                kernel = self.pool.take()
            if kernel is None:
                kernel = self.new_kernel(session_id, kernel_name, path)
            session = Session(
                session_id, kernel, self, restored=self.restored.pop(session_id, None)
            )
            self.sessions[session_id] = session
            session.start()
            self.log.info("pdit session %s created", session_id)
        return session

    async def delete(self, session_id: str) -> None:
        """Shut a session down and forget it."""
        session = self.get(session_id)
        del self.sessions[session_id]
        await session.shutdown()

    def list(self) -> list[dict[str, Any]]:
        """Return every session's summary."""
        return [session.summary() for session in self.sessions.values()]

    def restored_snapshot(self, session_id: str) -> dict[str, Any]:
        """Return the snapshot of a session known only from before a restart (no kernel)."""
        stored = self.restored.get(session_id)
        if stored is None:
            raise UnknownSessionError(f"no session {session_id!r}")
        return {
            "sessionId": session_id,
            "kernel": {"name": None, "state": None, "id": None},
            "lastSeq": stored.last_seq,
            "queue": [],
            "current": None,
            "executions": stored.executions,
            "fromBeforeRestart": True,
        }

    def find_execution(self, session_id: str, execution_id: str) -> dict[str, Any]:
        """Return an execution's snapshot, from a live session or from before a restart."""
        session = self.sessions.get(session_id)
        if session is not None:
            return session.execution(execution_id).snapshot()
        for snapshot in self.restored_snapshot(session_id)["executions"]:
            if snapshot.get("executionId") == execution_id:
                return cast(dict[str, Any], snapshot)
        raise UnknownExecutionError(
            f"no execution {execution_id!r} in session {session_id}", execution_id=execution_id
        )

    async def shutdown(self) -> None:
        """Shut every session down (server stop), keeping their records, and close the store."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        sessions = list(self.sessions.values())
        self.sessions.clear()
        await asyncio.gather(
            *(session.shutdown(gateway_stopping=True) for session in sessions),
            self.pool.close(),
            return_exceptions=True,
        )
        self._undo_launch_hook()
        await self.store.close()


__all__ = ["PditSessionManager", "Session"]
