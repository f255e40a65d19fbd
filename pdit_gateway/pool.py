"""Pre-started kernels, so a brand-new session's first result does not wait for a kernel to boot."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from .kernel import KernelConnection, open_kernel
from .launching import start_kernel


@dataclass(frozen=True, slots=True)
class PooledKernel:
    """A started, connected kernel waiting for its session."""

    kernel_id: str
    kernel_name: str | None
    connection: KernelConnection


class KernelPool:
    """Keep ``size`` kernels of the default kernel spec started and connected.

    A kernel taken from the pool is never handed out again; the pool refills in the
    background. Kernels are started through the server's kernel manager, so they are
    ordinary server kernels (remote ones in gateway mode).
    """

    def __init__(
        self,
        kernel_manager: Any,
        size: int,
        kernel_name: str | None,
        log: logging.Logger,
        ready_timeout: float,
        digest_history_size: int = 0,
        iopub_hwm: int = 0,
    ) -> None:
        self.kernel_manager = kernel_manager
        self.size = size
        self.kernel_name = kernel_name or None
        self.log = log
        self.ready_timeout = ready_timeout
        self.digest_history_size = digest_history_size
        self.iopub_hwm = iopub_hwm
        self.ready: deque[PooledKernel] = deque()
        self._starting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._failures = 0

    def matches(self, kernel_name: str | None, path: str | None) -> bool:
        """Return whether a session asking for this kernel name and path can use a pooled kernel."""
        return path is None and (kernel_name or None) in (None, self.kernel_name)

    def fill(self) -> None:
        """Start kernels until ``size`` are ready or starting (returns at once)."""
        while not self._closed and len(self.ready) + self._starting < self.size:
            if self._failures >= 3:  # a kernel spec that cannot start: stop trying
                return
            self._starting += 1
            task = asyncio.create_task(self._start_one(), name="pdit-pool-start")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start_one(self) -> None:
        kernel_id: str | None = None
        try:
            # in the server's root directory, as a session that names no path
            kwargs = {"path": "", **({"kernel_name": self.kernel_name} if self.kernel_name else {})}
            kernel_id = await start_kernel(self.kernel_manager, self.iopub_hwm, **kwargs)
            connection = await open_kernel(
                self.kernel_manager,
                kernel_id,
                self.log,
                f"pool-{kernel_id[:8]}",
                self.ready_timeout,
                self.digest_history_size,
            )
        except Exception:
            self._failures += 1
            self.log.exception("pdit kernel pool: starting a kernel failed")
            if kernel_id is not None:
                await self._shutdown(kernel_id)
            return
        finally:
            self._starting -= 1
        self._failures = 0
        km = self.kernel_manager.get_kernel(kernel_id)
        pooled = PooledKernel(kernel_id, getattr(km, "kernel_name", self.kernel_name), connection)
        if self._closed:
            await connection.close()
            await self._shutdown(kernel_id)
            return
        self.ready.append(pooled)
        self.log.debug("pdit kernel pool: kernel %s ready", kernel_id)

    def take(self) -> PooledKernel | None:
        """Hand out a ready kernel (never again) and start its replacement."""
        while self.ready:
            pooled = self.ready.popleft()
            if pooled.kernel_id in self.kernel_manager:
                self.fill()
                return pooled
        self.fill()
        return None

    async def _shutdown(self, kernel_id: str) -> None:
        try:
            await self.kernel_manager.shutdown_kernel(kernel_id, now=True)
        except KeyError:
            pass
        except Exception:
            self.log.exception("pdit kernel pool: shutting kernel %s down failed", kernel_id)

    async def close(self) -> None:
        """Stop refilling and shut the unused kernels down."""
        self._closed = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        while self.ready:
            pooled = self.ready.popleft()
            await pooled.connection.close()
            await self._shutdown(pooled.kernel_id)
