"""One session's kernel: started (or taken from the pool), watched, restarted and shut down."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections.abc import Callable
from typing import Any

from traitlets import Bool, Float, Integer
from traitlets.config import LoggingConfigurable

from . import launching
from .errors import SessionClosedError
from .kernel import KernelConnection, open_kernel
from .tasks import spawn

#: Called with each ``kernel-status`` payload (``{"type", "state", "reason"?}``) to emit.
StatusSink = Callable[[dict[str, Any]], object]


def _no_status(payload: dict[str, Any]) -> None:
    """The status sink of a kernel no session holds yet (a pooled one)."""


def _never_busy() -> bool:
    return False


def _restarting_elsewhere(km: Any) -> bool:
    """Whether the server's kernel manager is shutting ``km``'s process down or starting one.

    jupyter_client's ``KernelManager`` sets ``shutting_down`` for the whole shutdown (its own
    restarter reads it for the same race) and keeps ``ready`` pending while a start runs.
    """
    if getattr(km, "shutting_down", False) is True:
        return True
    ready = getattr(km, "ready", None)
    return isinstance(ready, (asyncio.Future, concurrent.futures.Future)) and not ready.done()


class SessionKernel(LoggingConfigurable):
    """The kernel of one session, behind the :class:`~pdit_gateway.runner.KernelControl` the
    runner uses.

    It starts a server kernel (or is handed over started and connected by the
    :class:`~pdit_gateway.pool.KernelPool`), checks every ``kernel_poll_interval`` that the
    process lives, restarts a dead kernel (``restart_dead_kernels``) and one that the runner
    or a reset asks to restart, starting a new kernel when the restarted one does not answer,
    follows a remote gateway's own restarts, and shuts the kernel down with the session.
    Each change of state goes to the session as a ``kernel-status`` payload.

    Parameters
    ----------
    kernel_manager : MappingKernelManager
        The server's kernel manager (or its gateway kernel manager).
    name : str
        The session id, in log lines ("" for a kernel the pool starts).
    kernel_name : str or None
        The kernel spec (None: the server's default).
    path : str or None
        The kernel's working directory relative to the server's root (None: the root).
    """

    kernel_ready_timeout = Float(
        60.0,
        min=1.0,
        config=True,
        help="Seconds to wait for a new or restarted kernel to answer before it counts as dead.",
    )
    kernel_poll_interval = Float(
        1.0,
        min=0.0,
        config=True,
        help="Seconds between liveness checks of each session's kernel (0 = no checks).",
    )
    restart_dead_kernels = Bool(
        True, config=True, help="Restart a session's kernel when it dies (its namespace is lost)."
    )
    digest_history_size = Integer(
        4096,
        min=0,
        config=True,
        help="Signatures of received kernel messages remembered per local kernel to refuse "
        "replayed messages (count; 0 = jupyter_client's Session.digest_history_size, 65,536). "
        "Each takes about 130 bytes: the default window costs about 0.5 MB per kernel instead "
        "of 8 MB, and jupyter_client drops 10% of the window, chosen at random, when it is full.",
    )
    kernel_iopub_hwm = Integer(
        0,
        min=-1,
        config=True,
        help="IOPub messages a local ipykernel the gateway starts queues per subscriber before "
        "ZeroMQ drops them (0 = no limit: a lagging subscriber costs the kernel memory, never "
        "output). Such kernels run pdit_gateway.kernel_launcher, ipykernel with this one "
        "change; -1 leaves them to ipykernel's own launcher and ZeroMQ's limit of 1,000, past "
        "which a busy machine loses output silently. Kernels of another Python and kernels "
        "that others start on the same server keep their own launchers.",
    )
    kernel_probe_interval = Float(
        0.25,
        min=0.01,
        config=True,
        help="Seconds between two kernel_info requests while waiting for a new or restarted "
        "local kernel to answer on shell and iopub (its iopub subscription takes effect "
        "asynchronously, so the first probes may go unseen).",
    )
    remote_kernel_probe_interval = Float(
        0.5,
        min=0.01,
        config=True,
        help="Seconds between two kernel_info requests while waiting for a kernel on a remote "
        "gateway (--GatewayClient.url) to answer; each one crosses the network.",
    )

    def __init__(
        self,
        kernel_manager: Any,
        name: str,
        kernel_name: str | None = None,
        path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kernel_manager = kernel_manager
        self.name = name
        self.kernel_name = kernel_name
        self.path = path
        self.kernel_id: str | None = None
        #: How many kernel processes the session has connected to (a restart, a new kernel or a
        #: remote gateway's restart counts one): a namespace lives within one generation.
        self.generation = 0
        #: ``starting``, ``idle``, ``busy``, ``restarting`` or ``dead``
        self.state = "starting"
        #: whether the kernel is connected and not known to be dead
        self.ok = False
        #: set while the kernel can take requests (or is known dead); cleared while restarting
        self.ready = asyncio.Event()
        self.closed = False
        self.on_status: StatusSink = _no_status
        self._bound = False
        #: whether the session runs an execution (a restarted kernel is then ``busy``)
        self.is_busy: Callable[[], bool] = _never_busy
        self._connection: KernelConnection | None = None
        self._died: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._restart_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    def bind(self, name: str, on_status: StatusSink, is_busy: Callable[[], bool]) -> None:
        """Give the kernel to a session: its id for log lines, where its states go, and
        whether it runs something."""
        self.name = name
        self.on_status = on_status
        self.is_busy = is_busy
        self._bound = True

    # -- life cycle ----------------------------------------------------------------------

    async def launch(self) -> None:
        """Start a server kernel and connect to it (raises when either fails; the pool's
        way in, and the session's boot)."""
        self.kernel_id = await self._start_kernel()
        km = self.kernel_manager.get_kernel(self.kernel_id)
        self.kernel_name = getattr(km, "kernel_name", self.kernel_name)
        await self._connect()

    def start(self) -> None:
        """Boot the kernel in the background, or take over the one the pool connected, and
        start the liveness monitor."""
        if self._connection is not None:  # started and connected by the pool
            self._connection.on_lifecycle = self._on_lifecycle
            self.ok = True
            self.log.info("pdit session %s: pooled kernel %s", self.name, self.kernel_id)
            self.set_state("idle")
            self.ready.set()
        else:
            self._announce("starting")
            spawn(self._tasks, self._boot(), f"pdit-boot-{self.name}")
        if self.kernel_poll_interval > 0:
            spawn(self._tasks, self._monitor(), f"pdit-monitor-{self.name}")

    async def _boot(self) -> None:
        try:
            await self.launch()
        except Exception as err:
            self.log.exception("pdit session %s: the kernel did not start", self.name)
            self.set_state("dead", f"the kernel did not start: {err}")
            self.ready.set()
            return
        self.set_state("idle")
        self.ready.set()

    async def _start_kernel(self) -> str:
        kwargs: dict[str, Any] = {}
        if self.kernel_name:
            kwargs["kernel_name"] = self.kernel_name
        # a session that names no path runs in the server's root directory
        kwargs["path"] = self.path if self.path is not None else ""
        return await launching.start_kernel(self.kernel_manager, self.kernel_iopub_hwm, **kwargs)

    async def _connect(self) -> None:
        kernel_id = str(self.kernel_id)
        connection = await open_kernel(
            self.kernel_manager,
            kernel_id,
            self.log,
            self.name or f"pool-{kernel_id[:8]}",
            self.kernel_ready_timeout,
            self.digest_history_size,
            self.kernel_probe_interval,
            self.remote_kernel_probe_interval,
        )
        if self._bound:  # a pooled kernel follows its gateway once a session holds it
            connection.on_lifecycle = self._on_lifecycle
        self._connection = connection
        self.generation += 1
        self.ok = True
        if self._died.done():
            self._died = asyncio.get_running_loop().create_future()

    def _on_lifecycle(self, state: str) -> None:
        """A remote gateway says the kernel died: ``restarting`` (it restarts the kernel
        itself) or ``dead`` (it gave up)."""
        if self.closed:
            return
        self.log.warning("pdit session %s: remote kernel %s %s", self.name, self.kernel_id, state)
        if state == "dead":
            if self.ok:
                spawn(self._tasks, self._on_dead(), f"pdit-dead-{self.name}")
            return
        self.ready.clear()
        self.set_state("dead", "the kernel died; the remote gateway restarts it")
        self.declare_dead()
        self._died = asyncio.get_running_loop().create_future()
        self.set_state("restarting", "dead")
        spawn(self._tasks, self._remote_restarted(), f"pdit-reprobe-{self.name}")

    async def _remote_restarted(self) -> None:
        """Wait until the remotely restarted kernel answers on shell and iopub, then go on."""
        async with self._restart_lock:
            connection = self._connection
            self.generation += 1
            try:
                if connection is not None:
                    await connection.probe(self.kernel_ready_timeout)
                    # a new kernel process: the script set-up is gone with the old one
                    connection.scripting = False
                    await connection.install_scripting(self.kernel_ready_timeout)
            except Exception as err:
                self.log.exception("pdit session %s: restarted kernel silent", self.name)
                self.ok = False
                self.set_state("dead", f"the restarted kernel did not answer: {err}")
            else:
                self.set_state("busy" if self.is_busy() else "idle")
            self.ready.set()

    async def _monitor(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.kernel_poll_interval)
            if not self.ok or self._restart_lock.locked():
                continue
            try:
                alive = await self._is_alive()
            except Exception:
                self.log.exception("pdit session %s: liveness check failed", self.name)
                continue
            if not alive and self.ok and not self._restart_lock.locked():
                await self._on_dead()

    async def _is_alive(self) -> bool:
        try:
            km = self.kernel_manager.get_kernel(self.kernel_id)
        except KeyError:
            return False
        if _restarting_elsewhere(km):
            # Another client restarts it through the server (/api/kernels): the old process is
            # gone and the new one not up yet. That is no death; the prologue of the next run
            # notices the new process and installs the set-up again.
            return True
        alive = km.is_alive()
        if inspect.isawaitable(alive):
            alive = await alive
        return bool(alive)

    async def _on_dead(self) -> None:
        self.log.warning("pdit session %s: kernel %s died", self.name, self.kernel_id)
        self.ok = False
        self.set_state("dead", "the kernel process ended")
        self.declare_dead()
        if self.restart_dead_kernels and not self.closed:
            await self.restart("dead")

    async def restart(self, reason: str) -> None:
        """Restart the kernel (namespace cleared); emit ``restarting`` then ``idle`` (``busy``
        while the session runs something) or ``dead``."""
        async with self._restart_lock:
            if self.closed:
                return
            self.ready.clear()
            self.ok = False
            self.set_state("restarting", reason)
            if self._connection is not None:
                await self._connection.close()
                self._connection = None
            try:
                try:
                    if self._kernel_name_changed():  # Change Kernel: a kernel of the new spec
                        await self.shutdown_kernel()
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
                        self.name,
                        self.kernel_id,
                        err,
                    )
                    await self.shutdown_kernel()
                    await self._replace_kernel()
            except Exception as err:
                self.log.exception("pdit session %s: restarting the kernel failed", self.name)
                self.set_state("dead", f"restart failed: {err}")
                self.ready.set()
                return
            self.set_state("busy" if self.is_busy() else "idle")
            self.ready.set()

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
        self.kernel_id = await self._start_kernel()
        await self._connect()

    async def shutdown_kernel(self) -> None:
        """Shut the kernel down (it may be gone already)."""
        if self.kernel_id is None:
            return
        try:
            await self.kernel_manager.shutdown_kernel(self.kernel_id, now=True)
        except KeyError:
            pass
        except Exception:
            self.log.exception("pdit session %s: kernel shutdown failed", self.name)

    def close_soon(self) -> None:
        """Refuse further restarts: the session is closing."""
        self.closed = True

    async def settle(self) -> None:
        """Let a restart in progress finish (a kernel cut off mid-start cannot be shut down),
        for at most ``kernel_ready_timeout`` seconds."""
        try:
            await asyncio.wait_for(self._restart_lock.acquire(), self.kernel_ready_timeout)
            self._restart_lock.release()
        except asyncio.TimeoutError:
            self.log.warning("pdit session %s: a kernel restart did not finish", self.name)

    async def shutdown(self) -> None:
        """Stop watching, close the connection and shut the kernel down (state ``dead``)."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        await self.shutdown_kernel()
        self.set_state("dead", "session closed")

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

    @property
    def restarting(self) -> bool:
        """Return whether a restart is in progress."""
        return self._restart_lock.locked()

    def namespace_token(self) -> tuple[str | None, int, int | None]:
        """Return what identifies the kernel process a namespace lives in: the kernel id, the
        :attr:`generation` and the process id (a restart through ``/api/kernels`` changes only
        the last; None where it is unknown, on a remote kernel)."""
        connection = self._connection
        pid = connection.pid() if connection is not None and connection.pid is not None else None
        return (self.kernel_id, self.generation, pid)

    def declare_dead(self) -> None:
        """Resolve :attr:`died` (a runner on this kernel ends its execution as ``kernel-died``)."""
        if not self._died.done():
            self._died.set_result(None)

    async def interrupt(self) -> None:
        """Interrupt the kernel."""
        if self.kernel_id is not None:
            await self.kernel_manager.interrupt_kernel(self.kernel_id)

    # -- state -----------------------------------------------------------------------------

    def set_state(self, state: str, reason: str | None = None) -> None:
        """Change the state; emit ``kernel-status`` when it changes or a reason is given."""
        if state == self.state and reason is None:
            return
        self._announce(state, reason)

    def _announce(self, state: str, reason: str | None = None) -> None:
        self.state = state
        payload: dict[str, Any] = {"type": "kernel-status", "state": state}
        if reason:
            payload["reason"] = reason
        self.on_status(payload)

    def info(self) -> dict[str, Any]:
        """Return ``{name, state, id}`` of the kernel."""
        return {"name": self.kernel_name, "state": self.state, "id": self.kernel_id}
