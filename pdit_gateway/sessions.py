"""Sessions on kernels: one kernel, a FIFO of executions, an event log and clients each."""

from __future__ import annotations

import asyncio
import inspect
import logging
import posixpath
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from traitlets import Any as AnyTrait
from traitlets import Bool, Instance, Unicode
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
from .eventlog import EventLog, LogBudget, isoformat, utcnow
from .kernel import KernelConnection, Message, open_kernel
from .pool import KernelPool
from .protocol import PROTOCOL_VERSION, ExecuteRequest, valid_session_id
from .runner import Execution, Runner, RunOptions, output_size, spawn
from .scripting import script_path
from .splitter import Statement, split_script
from .store import INTERRUPTED, ExecutionStore, StoredSession


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """Limits and behaviour shared by all sessions (times in seconds, 0 = none)."""

    execution_timeout: float = 0.0
    interrupt_grace: float = 3.0
    iopub_timeout: float = 4.0
    max_queue: int = 100
    max_output_bytes: int = 4 * 1024 * 1024
    output_tail_bytes: int = 16384
    max_execution_output_bytes: int = 16 * 1024 * 1024
    event_log_size: int = 10_000
    execution_history_size: int = 100
    execution_history_bytes: int = 64 * 1024 * 1024
    default_kernel_name: str = ""
    kernel_ready_timeout: float = 60.0
    kernel_poll_interval: float = 1.0
    restart_dead_kernels: bool = True
    pipeline_depth: int = 1
    digest_history_size: int = 0
    max_client_replies: int = 1000
    max_clients_per_session: int = 100
    event_log_bytes: int = 0
    event_log_total_bytes: int = 0
    execution_max_age: float = 0.0
    session_idle_timeout: float = 0.0
    maintenance_interval: float = 30.0
    kernel_pool_size: int = 0
    kernel_iopub_hwm: int = 0


#: How many seq numbers a session reserves in the store at a time.
SEQ_BLOCK = 10_000

#: Seconds between two writes of the running execution's snapshot while it produces output, so
#: a gateway that is killed leaves its partial output in the store.
RUNNING_SAVE_INTERVAL = 1.0

#: The statement events after which the running execution is saved (within the interval).
_PROGRESS_EVENTS = frozenset({"running", "stream", "display", "clear", "result"})


def inside_root(path: str) -> bool:
    """Whether a session's API path (``dir/doc.py``, relative to the root) stays inside it."""
    normal = posixpath.normpath(path.replace("\\", "/")) if path else "."
    return not posixpath.isabs(normal) and normal != ".." and not normal.startswith("../")


def cell_statement(script: str, line_range: tuple[int, int] | None = None) -> list[Statement]:
    """Return the whole script as one statement (``mode: "cell"``); with ``line_range``, the
    cell is those lines of the script (a ``# %%`` cell of a file) and keeps their numbers."""
    normalised = script.replace("\r\n", "\n").replace("\r", "\n")
    first = 1
    if line_range is not None:
        first = line_range[0]
        normalised = "\n".join(normalised.split("\n")[first - 1 : line_range[1]])
    if not normalised.strip():
        return []
    lines = normalised.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    end = first + max(1, len(lines)) - 1
    return [Statement(index=0, line_start=first, line_end=end, kind="code", code=normalised)]


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
    execution go on. All mutation happens on the event loop.
    """

    def __init__(
        self,
        session_id: str,
        kernel_manager: Any,
        options: SessionOptions,
        log: logging.Logger,
        kernel_name: str | None = None,
        path: str | None = None,
        store: ExecutionStore | None = None,
        budget: LogBudget | None = None,
        restored: StoredSession | None = None,
        pool: KernelPool | None = None,
        root_dir: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.root_dir = root_dir
        self.pool = pool
        self.kernel_manager = kernel_manager
        self.options = options
        self.log = log
        self.kernel_name = kernel_name or options.default_kernel_name or None
        self.path = path
        self.kernel_id: str | None = None
        self.kernel_state = "starting"
        self.store = store or ExecutionStore()
        self.event_log = EventLog(
            max_events=options.event_log_size, max_bytes=options.event_log_bytes
        )
        self.budget = budget
        if budget is not None:
            budget.add(self.event_log)
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
        self.created_at = utcnow()
        self.last_activity = self.created_at
        #: seconds idle before culling, for this session (None: the server's session_idle_timeout)
        self.idle_timeout: float | None = None
        self.closed = False
        self._connection: KernelConnection | None = None
        self._died: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ready = asyncio.Event()
        self._kernel_ok = False
        self._queue_changed = asyncio.Event()
        self._restart_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._save_timer: asyncio.TimerHandle | None = None
        #: Called with each new kernel state (the jupyter_server session follows the kernel).
        self.on_kernel_state: Callable[[str], None] | None = None

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the kernel (or take a pooled one), the worker and the liveness monitor."""
        pooled = None
        if self.pool is not None and self.pool.matches(self.kernel_name, self.path):
            pooled = self.pool.take()
        if pooled is not None:
            self.kernel_id = pooled.kernel_id
            self.kernel_name = pooled.kernel_name
            self._connection = pooled.connection
            self._connection.on_lifecycle = self._on_kernel_lifecycle
            self._kernel_ok = True
            self.log.info("pdit session %s: pooled kernel %s", self.session_id, self.kernel_id)
            self.kernel_state = "idle"
            self.emit({"type": "kernel-status", "state": "idle"})
            self._ready.set()
        else:
            self.emit({"type": "kernel-status", "state": "starting"})
            spawn(self._tasks, self._boot(), f"pdit-boot-{self.session_id}")
        spawn(self._tasks, self._work(), f"pdit-worker-{self.session_id}")
        if self.options.kernel_poll_interval > 0:
            spawn(self._tasks, self._monitor(), f"pdit-monitor-{self.session_id}")

    async def _boot(self) -> None:
        try:
            kwargs: dict[str, Any] = {}
            if self.kernel_name:
                kwargs["kernel_name"] = self.kernel_name
            # a session that names no path runs in the server's root directory
            kwargs["path"] = self.path if self.path is not None else ""
            self.kernel_id = await launching.start_kernel(
                self.kernel_manager, self.options.kernel_iopub_hwm, **kwargs
            )
            km = self.kernel_manager.get_kernel(self.kernel_id)
            self.kernel_name = getattr(km, "kernel_name", self.kernel_name)
            await self._connect()
        except Exception as err:
            self.log.exception("pdit session %s: the kernel did not start", self.session_id)
            self._set_kernel_state("dead", f"the kernel did not start: {err}")
            self._ready.set()
            return
        self._set_kernel_state("idle")
        self._ready.set()

    async def _connect(self) -> None:
        connection = await open_kernel(
            self.kernel_manager,
            str(self.kernel_id),
            self.log,
            self.session_id,
            self.options.kernel_ready_timeout,
            self.options.digest_history_size,
        )
        connection.on_lifecycle = self._on_kernel_lifecycle
        self._connection = connection
        self._kernel_ok = True
        if self._died.done():
            self._died = asyncio.get_running_loop().create_future()

    def _on_kernel_lifecycle(self, state: str) -> None:
        """A remote gateway says the kernel died: ``restarting`` (it restarts the kernel
        itself) or ``dead`` (it gave up)."""
        if self.closed:
            return
        self.log.warning(
            "pdit session %s: remote kernel %s %s", self.session_id, self.kernel_id, state
        )
        if state == "dead":
            if self._kernel_ok:
                spawn(self._tasks, self._on_dead(), f"pdit-dead-{self.session_id}")
            return
        self._ready.clear()
        self._set_kernel_state("dead", "the kernel died; the remote gateway restarts it")
        if not self._died.done():
            self._died.set_result(None)
        self._died = asyncio.get_running_loop().create_future()
        self._set_kernel_state("restarting", "dead")
        spawn(self._tasks, self._remote_restarted(), f"pdit-reprobe-{self.session_id}")

    async def _remote_restarted(self) -> None:
        """Wait until the remotely restarted kernel answers on shell and iopub, then go on."""
        async with self._restart_lock:
            connection = self._connection
            try:
                if connection is not None:
                    await connection.probe(self.options.kernel_ready_timeout)
                    # a new kernel process: the script set-up is gone with the old one
                    connection.scripting = False
                    await connection.install_scripting(self.options.kernel_ready_timeout)
            except Exception as err:
                self.log.exception("pdit session %s: restarted kernel silent", self.session_id)
                self._kernel_ok = False
                self._set_kernel_state("dead", f"the restarted kernel did not answer: {err}")
            else:
                self._set_kernel_state("busy" if self.runner is not None else "idle")
            self._ready.set()

    async def _monitor(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.options.kernel_poll_interval)
            if not self._kernel_ok or self._restart_lock.locked():
                continue
            try:
                alive = await self._is_alive()
            except Exception:
                self.log.exception("pdit session %s: liveness check failed", self.session_id)
                continue
            if not alive and self._kernel_ok and not self._restart_lock.locked():
                await self._on_dead()

    async def _is_alive(self) -> bool:
        try:
            km = self.kernel_manager.get_kernel(self.kernel_id)
        except KeyError:
            return False
        alive = km.is_alive()
        if inspect.isawaitable(alive):
            alive = await alive
        return bool(alive)

    async def _on_dead(self) -> None:
        self.log.warning("pdit session %s: kernel %s died", self.session_id, self.kernel_id)
        self._kernel_ok = False
        self._set_kernel_state("dead", "the kernel process ended")
        if not self._died.done():
            self._died.set_result(None)
        if self.options.restart_dead_kernels and not self.closed:
            await self.restart("dead")

    async def restart(self, reason: str) -> None:
        """Restart the kernel (namespace cleared); emit ``restarting`` then ``idle`` or ``dead``."""
        async with self._restart_lock:
            if self.closed:
                return
            self._ready.clear()
            self._kernel_ok = False
            self._set_kernel_state("restarting", reason)
            if self._connection is not None:
                await self._connection.close()
                self._connection = None
            try:
                try:
                    if self._kernel_name_changed():  # Change Kernel: a kernel of the new spec
                        await self._shutdown_kernel()
                        await self._replace_kernel()
                    else:
                        await self.kernel_manager.restart_kernel(self.kernel_id, now=True)
                        await self._connect()
                except KeyError:
                    # the kernel was removed from the server's map: start a new one
                    await self._replace_kernel()
                except Exception as err:
                    # A restarted kernel binds the ports it had, and under load another process
                    # may have taken one meanwhile ("Address already in use"): the kernel ends
                    # at once. A new kernel gets new ports.
                    self.log.warning(
                        "pdit session %s: the restarted kernel %s did not answer (%s); "
                        "starting a new kernel",
                        self.session_id,
                        self.kernel_id,
                        err,
                    )
                    await self._shutdown_kernel()
                    await self._replace_kernel()
            except Exception as err:
                self.log.exception("pdit session %s: restarting the kernel failed", self.session_id)
                self._set_kernel_state("dead", f"restart failed: {err}")
                self._ready.set()
                return
            self._set_kernel_state("busy" if self.runner is not None else "idle")
            self._ready.set()

    def _kernel_name_changed(self) -> bool:
        """Whether ``kernel_name`` was changed away from the running kernel's spec."""
        try:
            km = self.kernel_manager.get_kernel(self.kernel_id)
        except KeyError:
            return False
        running = getattr(km, "kernel_name", None)
        return bool(self.kernel_name and running and running != self.kernel_name)

    async def _replace_kernel(self) -> None:
        """Start a new kernel for the session (new ports) and connect to it."""
        kwargs: dict[str, Any] = {"path": self.path if self.path is not None else ""}
        if self.kernel_name:
            kwargs["kernel_name"] = self.kernel_name
        self.kernel_id = await launching.start_kernel(
            self.kernel_manager, self.options.kernel_iopub_hwm, **kwargs
        )
        await self._connect()

    async def _shutdown_kernel(self) -> None:
        """Shut the session's kernel down (it may be gone already)."""
        if self.kernel_id is None:
            return
        try:
            await self.kernel_manager.shutdown_kernel(self.kernel_id, now=True)
        except KeyError:
            pass
        except Exception:
            self.log.exception("pdit session %s: kernel shutdown failed", self.session_id)

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
        if self._save_timer is not None:
            self._save_timer.cancel()
            self._save_timer = None
        # let a restart in progress finish: a kernel cut off mid-start cannot be shut down
        try:
            await asyncio.wait_for(self._restart_lock.acquire(), self.options.kernel_ready_timeout)
            self._restart_lock.release()
        except asyncio.TimeoutError:
            self.log.warning("pdit session %s: a kernel restart did not finish", self.session_id)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        await self._shutdown_kernel()
        self._set_kernel_state("dead", "session closed")
        for client in list(self.clients):
            client.close(1001, "session closed")
        if self.budget is not None:
            self.budget.remove(self.event_log)
        if gateway_stopping:
            if running is not None:
                self.store.save_execution(
                    self.session_id, {**running.snapshot(), "status": INTERRUPTED}
                )
        else:
            self.store.forget_session(self.session_id)
        self.log.info("pdit session %s closed", self.session_id)

    # -- KernelControl, for the runner ------------------------------------------------------

    @property
    def connection(self) -> KernelConnection:
        """Return the live kernel connection."""
        if self._connection is None:
            raise SessionClosedError("the kernel is not connected")
        return self._connection

    @property
    def died(self) -> asyncio.Future[None]:
        """Return a future that resolves when the current kernel is found dead."""
        return self._died

    async def interrupt(self) -> None:
        """Interrupt the kernel."""
        if self.kernel_id is not None:
            await self.kernel_manager.interrupt_kernel(self.kernel_id)

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
                RUNNING_SAVE_INTERVAL, self._save_running
            )
        return entry.event

    def _save_running(self) -> None:
        """Record the running execution's snapshot (its output so far) in the store."""
        self._save_timer = None
        if self.runner is not None and not self.closed:
            self._persist(self.runner.execution)

    def _set_kernel_state(self, state: str, reason: str | None = None) -> None:
        if state == self.kernel_state and reason is None:
            return
        self.kernel_state = state
        payload: dict[str, Any] = {"type": "kernel-status", "state": state}
        if reason:
            payload["reason"] = reason
        self.emit(payload)
        if self.on_kernel_state is not None:
            self.on_kernel_state(state)

    async def ready(self) -> None:
        """Wait until the kernel has started (or failed to), or a restart has ended."""
        await self._ready.wait()

    # -- clients ------------------------------------------------------------------------------

    def attach(self, transport: Transport) -> Client:
        """Attach a connection; it gets ``welcome`` now and events once it starts its stream."""
        if self.closed:
            raise SessionClosedError(f"session {self.session_id} is closed")
        limit = self.options.max_clients_per_session
        if limit and len(self.clients) >= limit:
            raise TooManyClientsError(
                f"the session already has {len(self.clients)} connections (max_clients_per_session)"
            )
        client = Client(self, transport, self.log, self.options.max_client_replies)
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
        return {"name": self.kernel_name, "state": self.kernel_state, "id": self.kernel_id}

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
        if self.options.max_queue and len(self.queue) >= self.options.max_queue:
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
            if request.mode == "statements"
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
        limit = self.options.execution_history_size
        max_age = self.options.execution_max_age
        finished = [eid for eid, execution in self.executions.items() if execution.finished]
        drop = set(finished[: max(0, len(finished) - limit)] if limit else [])
        if max_age > 0:
            horizon = (now or utcnow()) - timedelta(seconds=max_age)
            for eid in finished:
                ended = self.executions[eid].finished_at
                if ended is not None and ended < horizon:
                    drop.add(eid)
        max_bytes = self.options.execution_history_bytes
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
        if self.clients or self.queue or self.runner is not None or self._restart_lock.locked():
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
        elif self._kernel_ok:
            await self.interrupt()

    async def reset(self) -> None:
        """Cancel everything queued and running (reason ``reset``) and restart the kernel."""
        for execution in list(self.queue):
            self._cancel_queued(execution, "reset")
        runner = self.runner
        if runner is not None:
            runner.stop("reset")  # the runner restarts the kernel itself
            return
        await self._ready.wait()
        await self.restart("reset")

    async def _work(self) -> None:
        while not self.closed:
            if not self.queue:
                self._queue_changed.clear()
                await self._queue_changed.wait()
                continue
            await self._ready.wait()
            if not self.queue:
                continue
            execution = self.queue.popleft()
            if execution.request.reset and self._kernel_ok:
                await self.restart("reset")
            if not self._kernel_ok and self.options.restart_dead_kernels:
                await self.restart("dead")
            options = self.options
            runner = Runner(
                execution,
                self,
                self,
                RunOptions(
                    timeout=execution.request.timeout
                    if execution.request.timeout is not None
                    else options.execution_timeout,
                    interrupt_grace=options.interrupt_grace,
                    iopub_timeout=options.iopub_timeout,
                    max_output_bytes=options.max_output_bytes,
                    output_tail_bytes=options.output_tail_bytes,
                    pipeline_depth=options.pipeline_depth,
                    max_execution_output_bytes=options.max_execution_output_bytes,
                ),
                self.log,
            )
            self.runner = runner
            self._persist(execution)
            if self._kernel_ok:
                self._set_kernel_state("busy")
            elif not self._died.done():
                self._died.set_result(None)
            try:
                await runner.run()
            finally:
                self.runner = None
                self.last_activity = utcnow()
                if self._kernel_ok and self.kernel_state == "busy":
                    self._set_kernel_state("idle")
            self._persist(execution)
            self.prune_history()

    def _persist(self, execution: Execution) -> None:
        self.store.save_execution(self.session_id, execution.snapshot())


class PditSessionManager(LoggingConfigurable):
    """Maps session ids to sessions; each session owns one kernel of the server's kernel manager."""

    kernel_manager = AnyTrait(help="The server's kernel manager (MappingKernelManager or gateway).")
    options = Instance(SessionOptions, args=(), help="Limits shared by every session.")
    store = Instance(ExecutionStore, args=(), help="Where finished executions are recorded.")
    root_dir = Unicode(
        None,
        allow_none=True,
        help="The server's root directory: relative script names are paths under it.",
    )
    lazy_pool = Bool(
        False, help="Fill the kernel pool at the first session, not at start (in JupyterLab)."
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sessions: dict[str, Session] = {}
        self.budget = LogBudget(self.options.event_log_total_bytes)
        self.restored: dict[str, StoredSession] = self.store.load()
        # the kernels the sessions and the pool start get the gateway's launcher
        self._undo_launch_hook = launching.install(self.kernel_manager, self.log)
        self.pool = KernelPool(
            self.kernel_manager,
            self.options.kernel_pool_size,
            self.options.default_kernel_name,
            self.log,
            self.options.kernel_ready_timeout,
            self.options.digest_history_size,
            self.options.kernel_iopub_hwm,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False

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
        if self.options.maintenance_interval > 0:
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
            await asyncio.sleep(self.options.maintenance_interval)
            await self.maintain()

    async def maintain(self) -> None:
        """Drop expired history and cull idle sessions (one pass; each failure is logged)."""
        now = utcnow()
        for session in list(self.sessions.values()):
            try:
                session.prune_history(now)
                idle = session.idle_for(now)
                timeout = session.idle_timeout or self.options.session_idle_timeout
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
            session = Session(
                session_id,
                self.kernel_manager,
                self.options,
                self.log,
                kernel_name,
                path,
                store=self.store,
                budget=self.budget,
                restored=self.restored.pop(session_id, None),
                pool=self.pool,
                root_dir=self.root_dir,
            )
            self.sessions[session_id] = session
            if self.pool.matches(kernel_name, path):
                self.pool.fill()  # a lazy pool starts with the first session that can use it
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


__all__ = ["Message", "PditSessionManager", "Session", "SessionOptions"]
