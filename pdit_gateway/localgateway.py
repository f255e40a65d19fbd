"""A private gateway for one run: a jupyter_server with only the pdit gateway, in this process."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from .client import SHUTDOWN_TIMEOUT, GatewayAddress, RunFailure
from .compat import listening_port

__all__ = ["local_gateway"]


@asynccontextmanager
async def local_gateway(
    root_dir: Path, *, ipython_hist_file: str = ":memory:"
) -> AsyncIterator[GatewayAddress]:
    """Run a private jupyter_server with only the pdit gateway, inside the running event loop.

    It listens on 127.0.0.1 on a free port with a random token and serves ``root_dir``.
    On exit the gateway's sessions and every kernel are shut down. IPython kernels get
    ``--HistoryManager.hist_file=ipython_hist_file`` as nbclient gives them (``":memory:"``:
    the run leaves no history behind; ``""``: the kernel's own setting).
    """
    from jupyter_server.serverapp import ServerApp

    class RunServerApp(ServerApp):
        """A ServerApp embedded in the CLI: the CLI owns the signals, not the server."""

        name = "pdit-gateway-run"

        def init_signal(self) -> None:
            """Install no signal handlers (Ctrl-C cancels the run instead)."""

    token = secrets.token_hex(24)
    argv = [
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root_dir}",
        f"--ServerApp.allow_root={_running_as_root()}",
        "--Application.log_level=WARN",
        # CurveZMQ keys for kernels that support them (no plain-text TCP between the processes)
        "--MappingKernelManager.transport_encryption=auto",
        "--ServerApp.jpserver_extensions=pdit_gateway=True",
        f"--IdentityProvider.token={token}",
        "--ServerApp.kernel_manager_class=pdit_gateway.notebook.NotebookKernelManager",
        f"--NotebookKernelManager.ipython_hist_file={ipython_hist_file}",
    ]
    RunServerApp.clear_instance()
    app = RunServerApp.instance(no_browser_open_file=True)
    try:
        try:
            # Command-line config outranks config files; other extensions are not looked for.
            app.initialize(argv=argv, find_extensions=False, new_httpserver=True)
            await asyncio.sleep(0)  # initialize() scheduled the socket bind on the loop
            app.start_app()
            await app.extension_manager.start_all_extensions()  # type: ignore[no-untyped-call]
        except (OSError, SystemExit) as err:
            raise RunFailure(f"the private gateway did not start: {err}") from None
        yield GatewayAddress(f"http://127.0.0.1:{listening_port(app)}/", token)
    finally:
        try:
            # jupyter_server's shutdown (extensions, kernels, sockets), the loop left running
            await asyncio.wait_for(app._cleanup(), SHUTDOWN_TIMEOUT)
        finally:
            kernel_manager = getattr(app, "kernel_manager", None)
            if kernel_manager is not None:
                kernel_manager.context.destroy()
            RunServerApp.clear_instance()


def _running_as_root() -> bool:
    geteuid: Callable[[], int] | None = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0
