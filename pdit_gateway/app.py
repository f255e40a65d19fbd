"""The pdit gateway as a jupyter_server extension: its traits, settings, handlers and life cycle."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Integer, Type, Unicode, default

from ._version import __version__
from .errors import PditUIUnavailableError
from .files import FileService, FileWatchers
from .handlers import handlers, pdit_ui_handlers, unavailable_handlers
from .introspect import Introspector
from .labsessions import JupyterSessions
from .pdit_ui import EDIT_PREFIX, UI_PATH, editor_query, pdit_static_dir
from .sessions import PditSessionManager, SessionOptions
from .store import StoreError, default_db_path, open_store

#: Command-line flags of the standalone server (``pdit-gateway --pdit-ui script.py``).
PDIT_FLAGS = {
    "pdit-ui": (
        {"PditGatewayApp": {"pdit_ui": True}},
        "Serve pdit's own web client (from the installed 'pdit' package) and open it; "
        "a script given on the command line opens in it.",
    ),
}


class PditGatewayApp(ExtensionApp):
    """Run ordinary Python scripts statement by statement on Jupyter kernels over a WebSocket."""

    name = "pdit_gateway"
    app_name = "pdit-gateway"
    description = "A Jupyter-kernel-backed execution gateway for live Python scripting."
    version = __version__
    extension_url = "/pdit/api/sessions"
    load_other_extensions = True
    flags = {**ExtensionApp.flags, **PDIT_FLAGS}  # noqa: RUF012 (traitlets reads the class dict)

    session_manager_class = Type(
        default_value=PditSessionManager,
        klass=PditSessionManager,
        config=True,
        help="The class that maps session ids to sessions and kernels.",
    )
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
    max_message_size = Integer(
        8 * 1024 * 1024,
        min=1024,
        config=True,
        help="Largest client frame in bytes; a larger frame is answered with an error "
        "'message-too-large' and the connection kept (up to twice this size, beyond which the "
        "WebSocket layer closes the connection with code 1009).",
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
    event_log_size = Integer(
        10_000,
        min=1,
        config=True,
        help="Events retained per session for replay after a reconnect; older ones are "
        "dropped and a client that needs them gets a 'resync' snapshot.",
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
    default_kernel_name = Unicode(
        "",
        config=True,
        help="Kernel spec name for new sessions (empty = the server's default kernel).",
    )
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
    execution_max_age = Float(
        24 * 3600.0,
        min=0.0,
        config=True,
        help="Seconds a finished execution stays in memory after it ended (0 = no limit); "
        "older ones are dropped by the maintenance task (and from the database).",
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
    kernel_pool_size = Integer(
        1,
        min=0,
        config=True,
        help="Kernels of the default kernel spec kept started and connected for new sessions "
        "(0 = none); a pooled kernel is used once, and the pool refills in the background.",
    )
    db_path = Unicode(
        config=True,
        help="SQLite file where finished executions are recorded, so they survive a gateway "
        "restart (':memory:' = no persistence). Default: one file per root directory, "
        "pdit_gateway/executions-<16 hex digits of the SHA-256 of the resolved root_dir>.sqlite "
        "in the Jupyter data directory, so servers of different projects never share "
        "sessions. A file that cannot be opened, read or written stops the standalone server "
        "(exit status 1); inside a larger server the gateway's routes then answer 503 "
        "'store-unavailable'.",
    )

    @default("db_path")
    def _default_db_path(self) -> str:
        return str(default_db_path(self._root_dir(), jupyter_data_dir()))

    def _root_dir(self) -> str:
        """Return the root directory the file API and the default db_path are tied to."""
        serverapp: Any = self.serverapp
        if serverapp is None:
            return os.getcwd()
        root_dir = getattr(serverapp.contents_manager, "root_dir", None)
        return str(root_dir or serverapp.root_dir)

    ping_interval = Float(
        30.0,
        min=0.0,
        config=True,
        help="Seconds between WebSocket pings the server sends to each client (0 = none).",
    )
    websocket_compression_level = Integer(
        1,
        min=0,
        max=9,
        config=True,
        help="zlib level (1-9) of per-message compression (permessage-deflate, RFC 7692) on the "
        "gateway's WebSockets, used when the client offers it as browsers do (0 = never "
        "compress). Level 1 cuts streamed output to about a third of the printed bytes for "
        "about 2 µs of CPU per small event.",
    )
    ping_timeout = Float(
        0.0,
        min=0.0,
        config=True,
        help="Seconds to wait for the pong to a ping before the connection is closed "
        "(0 = ping_interval; at most ping_interval).",
    )

    pdit_ui = Bool(
        False,
        config=True,
        help="Serve pdit's released web client (it ships inside the 'pdit' package, which must "
        "be installed) at /pdit/ui, and make it the landing page (flag: --pdit-ui). pdit's "
        "client expects the server's base_url to be '/'.",
    )
    pdit_stream_interval = Float(
        0.05,
        min=0.0,
        config=True,
        help="Least seconds between two 'stream' messages of one statement on pdit's "
        "/ws/session endpoint, each carrying the statement's whole output so far (0 = one per "
        "output event); the last state is always sent before the statement's result.",
    )
    pdit_session_idle_timeout = Float(
        600.0,
        min=0.0,
        config=True,
        help="Seconds a session created by pdit's /ws/session endpoint may stay idle without "
        "clients before it is culled with its kernel (0 = session_idle_timeout applies). pdit's "
        "browser client makes a new session id on every page load.",
    )
    file_watch_step = Float(
        0.05,
        min=0.001,
        config=True,
        help="Seconds without further changes to a watched file before it is read and sent "
        "to pdit clients as 'fileChanged' or 'fileDeleted'.",
    )
    file_poll_interval = Float(
        0.5,
        min=0.01,
        config=True,
        help="Seconds between two looks at a watched folder that is polled: a folder is "
        "polled when the system's file notifications cannot be had (inotify's limits, 128 "
        "watchers per user by default), with a warning in the log.",
    )
    max_file_bytes = Integer(
        16 * 1024 * 1024,
        min=0,
        config=True,
        help="Largest file, in bytes, that pdit's file API reads ('watch': initial and "
        "fileChanged) or saves (/api/save-file); a larger one is answered with the error code "
        "'file-too-large' (HTTP 413 for a save) and nothing is read or written (0 = no limit).",
    )

    introspect_timeout = Float(
        10.0,
        min=0.0,
        config=True,
        help="Seconds a 'complete' or 'inspect' request waits for the kernel's reply before "
        "it is answered with the error code 'introspection-timeout' (0 = no limit).",
    )

    @default("default_url")
    def _default_url(self) -> str:
        return UI_PATH if self.pdit_ui else self.extension_url

    @default("file_url_prefix")
    def _default_file_url_prefix(self) -> str:
        return EDIT_PREFIX if self.pdit_ui else "notebooks"

    @classmethod
    def make_serverapp(cls, **kwargs: Any) -> Any:
        """Make the standalone server's ServerApp, with this extension's flags on its command
        line (jupyter_server passes a starter extension's aliases to it, not its flags)."""
        serverapp = super().make_serverapp(**kwargs)
        serverapp.flags.update(PDIT_FLAGS)
        return serverapp

    def session_options(self) -> SessionOptions:
        """Return the traits that sessions run under."""
        return SessionOptions(
            execution_timeout=self.execution_timeout,
            interrupt_grace=self.interrupt_grace,
            iopub_timeout=self.iopub_timeout,
            max_queue=self.max_queue,
            max_clients_per_session=self.max_clients_per_session,
            max_output_bytes=self.max_output_bytes,
            output_tail_bytes=self.output_tail_bytes,
            max_execution_output_bytes=self.max_execution_output_bytes,
            execution_history_bytes=self.execution_history_bytes,
            event_log_size=self.event_log_size,
            execution_history_size=self.execution_history_size,
            default_kernel_name=self.default_kernel_name,
            kernel_ready_timeout=self.kernel_ready_timeout,
            kernel_poll_interval=self.kernel_poll_interval,
            restart_dead_kernels=self.restart_dead_kernels,
            pipeline_depth=self.pipeline_depth,
            digest_history_size=self.digest_history_size,
            event_log_bytes=self.event_log_bytes,
            event_log_total_bytes=self.event_log_total_bytes,
            execution_max_age=self.execution_max_age,
            session_idle_timeout=self.session_idle_timeout,
            maintenance_interval=self.maintenance_interval,
            kernel_pool_size=self.kernel_pool_size,
            kernel_iopub_hwm=self.kernel_iopub_hwm,
        )

    #: Why the execution store cannot be used (the routes then answer 503); None when it can.
    store_failure: str | None = None

    def initialize_settings(self) -> None:
        """Build the session manager and publish it in the server's settings.

        When the execution store cannot be opened, read or written, the standalone server
        exits with status 1 and says why; inside a larger server (JupyterLab) the error is
        logged and the gateway's routes answer 503 ``store-unavailable``.
        """
        assert self.serverapp is not None
        root_dir = self._root_dir()
        try:
            manager = self.session_manager_class(
                parent=self,
                log=self.log,
                kernel_manager=self.serverapp.kernel_manager,
                options=self.session_options(),
                store=open_store(self.db_path, self.log),
                root_dir=root_dir,
                # inside JupyterLab the pool starts with the first pdit session
                lazy_pool=self.serverapp.starter_app is not self,
            )
        except StoreError as err:
            advice = (
                f"{err.message}. Move the file away, or choose another with "
                "--PditGatewayApp.db_path=PATH (':memory:' keeps no results)."
            )
            if self.serverapp.starter_app is self:
                self.log.critical("pdit gateway cannot start: %s", advice)
                self.exit(1)
            self.log.error("pdit gateway is OFF, its routes answer 503: %s", advice)
            self.store_failure = advice
            return
        watchers = FileWatchers(
            self.log, step=self.file_watch_step, poll_interval=self.file_poll_interval
        )
        self.settings.update(
            {
                "pdit_session_manager": manager,
                "pdit_introspector": Introspector(self.log, self.introspect_timeout),
                "pdit_jupyter_sessions": JupyterSessions(
                    getattr(self.serverapp, "session_manager", None),
                    getattr(self.serverapp, "kernel_spec_manager", None),
                    self.log,
                ),
                "pdit_files": FileService(root_dir, watchers, self.max_file_bytes),
                "pdit_stream_interval": self.pdit_stream_interval,
                "pdit_session_idle_timeout": self.pdit_session_idle_timeout,
                "pdit_max_message_size": self.max_message_size,
                "pdit_ping_interval": self.ping_interval,
                "pdit_compression_level": self.websocket_compression_level,
                "pdit_ping_timeout": min(
                    self.ping_timeout or self.ping_interval, self.ping_interval
                ),
            }
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start the session manager's maintenance task once the loop runs."""
        if self.store_failure is not None:
            return
        self.settings["pdit_session_manager"].start()
        if self.pdit_ui and self._pdit_static_dir is not None:
            self.log.info("pdit's editor: %s", self.pdit_ui_url())

    _pdit_static_dir: str | None = None

    def initialize_handlers(self) -> None:
        """Register the REST and WebSocket handlers (and pdit's web client with ``pdit_ui``)."""
        if self.store_failure is not None:
            self.handlers.extend(unavailable_handlers(self.store_failure))
            return
        self.handlers.extend(handlers())
        if not self.pdit_ui:
            return
        try:
            self._pdit_static_dir = str(pdit_static_dir())
        except PditUIUnavailableError as err:
            assert self.serverapp is not None
            if self.serverapp.starter_app is self:
                self.log.critical("%s", err.message)
                self.exit(1)
            self.log.error("pdit_ui is on, but: %s", err.message)
            return
        self.handlers.extend(pdit_ui_handlers(self._pdit_static_dir))

    def pdit_ui_url(self) -> str:
        """Return the URL of pdit's editor, on the script given on the command line if any."""
        serverapp: Any = self.serverapp
        script = None
        if serverapp.file_to_run:
            try:
                root = Path(self.settings["pdit_files"].root)
                script = Path(serverapp.file_to_run).resolve().relative_to(root).as_posix()
            except ValueError:
                script = None
        provider = serverapp.identity_provider
        token = (provider.token if provider.token_generated else "...") if provider.token else None
        return url_path_join(serverapp.connection_url, UI_PATH) + editor_query(script, token)

    async def stop_extension(self) -> None:
        """Shut every session and its kernel down, and stop the file watchers."""
        manager: Any = self.settings.get("pdit_session_manager")
        if manager is not None:
            await manager.shutdown()
        for name in ("pdit_jupyter_sessions", "pdit_introspector"):
            service: Any = self.settings.get(name)
            if service is not None:
                await service.close()
        files: Any = self.settings.get("pdit_files")
        if files is not None:
            await files.watchers.close()


main = launch_new_instance = PditGatewayApp.launch_instance
