"""A pdit session's kernel as a jupyter_server session (``/api/sessions``), and Change Kernel.

JupyterLab knows kernels through the server's session manager: its Running panel names a
kernel by the session's path and name, and its kernel status and "Change Kernel" work on
sessions. A pdit session that has a document path is registered there with that path, the
document's file name and type ``file``, on the kernel the pdit session runs (no second
kernel is started). jupyter_server drops the record by itself once that kernel is gone.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import posixpath
from typing import Any

from .errors import UnknownKernelSpecError

#: The ``type`` of the jupyter_server sessions of pdit documents.
SESSION_TYPE = "file"


class JupyterSessions:
    """Keep each pdit session with a path registered in jupyter_server's session manager.

    Parameters
    ----------
    session_manager : jupyter_server's SessionManager, or None (nothing is registered)
    kernel_spec_manager : the server's kernel spec manager, or None (any name is accepted)
    log : logging.Logger
    """

    def __init__(self, session_manager: Any, kernel_spec_manager: Any, log: logging.Logger) -> None:
        self.session_manager = session_manager
        self.kernel_spec_manager = kernel_spec_manager
        self.log = log
        self._locks: dict[str, asyncio.Lock] = {}
        self._registered: dict[str, str] = {}  # pdit session id -> the kernel id registered
        self._tasks: set[asyncio.Task[None]] = set()

    def follow(self, session: Any) -> None:
        """Register ``session`` once its kernel is up, and again whenever its kernel changes."""
        if session.path is None or self.session_manager is None:
            return
        if session.on_kernel_state is None:

            def on_kernel_state(state: str) -> None:
                if state == "idle" and self._registered.get(session.session_id) != (
                    session.kernel_id
                ):
                    self._spawn(session)

            session.on_kernel_state = on_kernel_state
        if session.kernel_state != "starting":
            self._spawn(session)

    def _spawn(self, session: Any) -> None:
        task = asyncio.ensure_future(self.register_when_ready(session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def register(self, session: Any) -> dict[str, Any] | None:
        """Register (or update) the jupyter_server session of ``session``'s document.

        Returns the jupyter_server session model, None when there is nothing to register
        (no path, no kernel, no session manager).
        """
        manager = self.session_manager
        if manager is None or session.path is None or session.kernel_id is None:
            return None
        lock = self._locks.setdefault(session.session_id, asyncio.Lock())
        async with lock:
            if session.closed or session.kernel_id not in session.kernel_manager:
                return None
            self._registered[session.session_id] = session.kernel_id
            path = session.path
            for model in await manager.list_sessions():
                if model.get("path") != path or model.get("type") != SESSION_TYPE:
                    continue
                kernel = model.get("kernel") or {}
                if kernel.get("id") == session.kernel_id:
                    return model  # type: ignore[no-any-return]
                # the pdit session's kernel changed (Change Kernel, a replaced kernel)
                await manager.update_session(model["id"], kernel_id=session.kernel_id)
                return await manager.get_session(session_id=model["id"])  # type: ignore[no-any-return]
            model = await manager.create_session(
                path=path,
                name=posixpath.basename(path),
                type=SESSION_TYPE,
                kernel_id=session.kernel_id,
            )
            self.log.info(
                "pdit session %s: jupyter_server session %s for %s",
                session.session_id,
                model.get("id"),
                path,
            )
            return model  # type: ignore[no-any-return]

    async def register_when_ready(self, session: Any) -> None:
        """Wait for the session's kernel, then register it (failures are logged)."""
        try:
            await session.ready()
            await self.register(session)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception(
                "pdit session %s: registering its jupyter_server session failed",
                session.session_id,
            )

    async def check_kernel_name(self, kernel_name: str) -> None:
        """Raise ``UnknownKernelSpecError`` unless the server has that kernel spec."""
        specs = self.kernel_spec_manager
        if specs is None:
            return
        found = specs.find_kernel_specs()
        if inspect.isawaitable(found):  # a remote gateway's specs
            found = await found
        names = set(found)
        if kernel_name not in names:
            raise UnknownKernelSpecError(
                f"no kernel spec {kernel_name!r} (the server has: {', '.join(sorted(names))})"
            )

    async def change_kernel(self, session: Any, kernel_name: str) -> None:
        """Restart ``session`` on a kernel of ``kernel_name``; its jupyter_server session follows.

        Everything queued and running is cancelled (reason ``reset``), as a restart does.
        """
        await self.check_kernel_name(kernel_name)
        session.kernel_name = kernel_name
        await session.reset()  # the new kernel is registered when it is idle (follow)

    async def close(self) -> None:
        """Wait for registrations under way (bounded by the caller)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
