"""Start the gateway's local ipykernel kernels through its own launcher (no IOPub drops).

ipykernel's IOPub socket drops messages for a subscriber that falls more than 1,000 behind
(ZeroMQ's default send high-water mark). :mod:`pdit_gateway.kernel_launcher` is the same kernel
with a send high-water mark of its own (none by default). The gateway starts its kernels
through the server's kernel manager like any other client, so it cannot pass a different
command; instead :class:`LaunchHook` wraps the manager's ``kernel_manager_factory`` and, for a
kernel started inside :func:`launching` (the gateway's sessions and pool), changes the new
kernel manager's spec to run the launcher. Kernels that anyone else starts on the same server
(JupyterLab's notebooks, ``/api/kernels``) are launched as before.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: The module that ``-m`` starts in place of ``ipykernel_launcher``.
MODULE = "pdit_gateway.kernel_launcher"

#: The IOPub send high-water mark for kernels being started by the gateway (None: not one).
_IOPUB_HWM: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "pdit_gateway_iopub_hwm", default=None
)


def _same_python(executable: str) -> bool:
    """Whether a kernel spec's ``argv[0]`` runs this interpreter (so this package is there)."""
    # jupyter_client runs a bare "python", "python3" or "python3.X" as sys.executable
    major, minor = sys.version_info[:2]
    if executable in {"python", f"python{major}", f"python{major}.{minor}"}:
        return True
    return os.path.abspath(executable) == os.path.abspath(sys.executable)


def kernel_argv(argv: list[str], iopub_hwm: int) -> list[str] | None:
    """Return a kernel spec's ``argv`` with the gateway's launcher in place of ipykernel's.

    Returns ``None`` when ``argv`` does not run ``-m ipykernel_launcher`` with this interpreter:
    another environment's Python may not have this package, and other kernels have IOPub
    sockets of their own. Such kernels are launched as their spec says.
    """
    at = next(
        (i for i in range(1, len(argv) - 1) if argv[i : i + 2] == ["-m", "ipykernel_launcher"]),
        None,
    )
    if at is None or not _same_python(argv[0]):
        return None
    return [*argv[: at + 1], MODULE, *argv[at + 2 :], f"--GatewayKernelApp.iopub_hwm={iopub_hwm}"]


@contextmanager
def launching(iopub_hwm: int) -> Iterator[None]:
    """Within this block, kernels this task starts use the gateway's launcher.

    ``iopub_hwm`` is their IOPub send high-water mark (0 = no limit); a negative value
    leaves them to ipykernel's own launcher.
    """
    token = _IOPUB_HWM.set(iopub_hwm if iopub_hwm >= 0 else None)
    try:
        yield
    finally:
        _IOPUB_HWM.reset(token)


async def start_kernel(kernel_manager: Any, iopub_hwm: int, **kwargs: Any) -> str:
    """Start a kernel through the server's kernel manager, launched as :func:`launching` says."""
    with launching(iopub_hwm):
        kernel_id: str = await kernel_manager.start_kernel(**kwargs)
    return kernel_id


def use_gateway_launcher(km: Any, iopub_hwm: int, log: logging.Logger) -> None:
    """Make a new local kernel manager run the gateway's launcher, if its spec allows it."""
    from jupyter_client.manager import KernelManager
    from jupyter_server.gateway.managers import GatewayKernelManager

    if not isinstance(km, KernelManager) or isinstance(km, GatewayKernelManager):
        return  # not a local kernel: a remote gateway launches it
    try:
        spec = km.kernel_spec
    except Exception:  # an unknown kernel name: start_kernel reports it
        return
    argv = None if spec is None else kernel_argv(list(spec.argv), iopub_hwm)
    if spec is None or argv is None:
        log.debug("pdit: kernel %r keeps its own launcher", km.kernel_name)
        return
    spec.argv = argv


class LaunchHook:
    """A kernel manager factory that hands the kernels the gateway starts its launcher.

    Wraps a ``MultiKernelManager.kernel_manager_factory``: every kernel manager is made by
    the wrapped factory; one made inside :func:`launching` then has its spec's ``argv``
    changed by :func:`use_gateway_launcher`. Restarts reuse the kernel manager, and so the
    launcher.
    """

    def __init__(self, factory: Callable[..., Any], log: logging.Logger) -> None:
        self.factory = factory
        self.log = log

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        km = self.factory(*args, **kwargs)
        iopub_hwm = _IOPUB_HWM.get()
        if iopub_hwm is not None:
            use_gateway_launcher(km, iopub_hwm, self.log)
        return km


def install(kernel_manager: Any, log: logging.Logger) -> Callable[[], None]:
    """Wrap the server's kernel manager factory in a :class:`LaunchHook`; return the undo.

    A kernel manager without ``kernel_manager_factory`` is left alone (its kernels keep
    their launchers); so is one already wrapped.
    """
    factory = getattr(kernel_manager, "kernel_manager_factory", None)
    if factory is None or isinstance(factory, LaunchHook):
        return lambda: None
    hook = LaunchHook(factory, log)
    kernel_manager.kernel_manager_factory = hook

    def undo() -> None:
        if kernel_manager.kernel_manager_factory is hook:
            kernel_manager.kernel_manager_factory = factory

    return undo
