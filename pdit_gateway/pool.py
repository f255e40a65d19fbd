"""Pre-started kernels, so a brand-new session's first result does not wait for a kernel to boot."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from traitlets import Integer
from traitlets.config import LoggingConfigurable

from .session_kernel import SessionKernel

#: Makes an unstarted kernel of the given spec (None: the default) for the pool.
KernelFactory = Callable[[str | None], SessionKernel]


class KernelPool(LoggingConfigurable):
    """Keep ``kernel_pool_size`` kernels of the default kernel spec started and connected.

    A kernel taken from the pool is never handed out again; the pool refills in the
    background. Kernels are started through the server's kernel manager, so they are
    ordinary server kernels (remote ones in gateway mode), each a :class:`SessionKernel`
    that its session takes over.

    Parameters
    ----------
    kernel_manager : MappingKernelManager
        The server's kernel manager.
    kernel_name : str or None
        The kernel spec of the pooled kernels (None: the server's default).
    new_kernel : callable
        Returns an unstarted :class:`SessionKernel` of a kernel spec.
    """

    kernel_pool_size = Integer(
        1,
        min=0,
        config=True,
        help="Kernels of the default kernel spec kept started and connected for new sessions "
        "(0 = none); a pooled kernel is used once, and the pool refills in the background.",
    )
    kernel_pool_max_failures = Integer(
        3,
        min=1,
        config=True,
        help="Kernels in a row that fail to start before the pool stops starting more (count): "
        "a kernel spec that cannot start is not retried forever; sessions then start their "
        "own kernels and report why they fail.",
    )

    def __init__(
        self,
        kernel_manager: Any,
        kernel_name: str | None,
        new_kernel: KernelFactory,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kernel_manager = kernel_manager
        self.kernel_name = kernel_name or None
        self.new_kernel = new_kernel
        self.ready: deque[SessionKernel] = deque()
        self._starting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._failures = 0

    @property
    def size(self) -> int:
        """Return how many kernels the pool keeps ready."""
        return self.kernel_pool_size

    def matches(self, kernel_name: str | None, path: str | None) -> bool:
        """Return whether a session asking for this kernel name and path can use a pooled kernel."""
        return path is None and (kernel_name or None) in (None, self.kernel_name)

    def fill(self) -> None:
        """Start kernels until ``kernel_pool_size`` are ready or starting (returns at once)."""
        while not self._closed and len(self.ready) + self._starting < self.kernel_pool_size:
            if self._failures >= self.kernel_pool_max_failures:
                return
            self._starting += 1
            task = asyncio.create_task(self._start_one(), name="pdit-pool-start")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start_one(self) -> None:
        # in the server's root directory, as a session that names no path
        kernel = self.new_kernel(self.kernel_name)
        try:
            await kernel.launch()
        except Exception:
            self._failures += 1
            self.log.exception("pdit kernel pool: starting a kernel failed")
            await kernel.shutdown_kernel()
            return
        finally:
            self._starting -= 1
        self._failures = 0
        if self._closed:
            await kernel.shutdown()
            return
        self.ready.append(kernel)
        self.log.debug("pdit kernel pool: kernel %s ready", kernel.kernel_id)

    def take(self) -> SessionKernel | None:
        """Hand out a ready kernel (never again) and start its replacement."""
        while self.ready:
            pooled = self.ready.popleft()
            if pooled.kernel_id in self.kernel_manager:
                self.fill()
                return pooled
        self.fill()
        return None

    async def close(self) -> None:
        """Stop refilling and shut the unused kernels down."""
        self._closed = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        while self.ready:
            await self.ready.popleft().shutdown()
