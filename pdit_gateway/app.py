"""The pdit gateway as a jupyter_server extension: its traits, settings, handlers and life cycle."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Integer, TraitType, Type, Unicode, default
from traitlets.config import Config, Configurable

from ._version import __version__
from .errors import PditUIUnavailableError, StoreError
from .files import FileService, FileWatchers
from .handlers import handlers, pdit_ui_handlers, unavailable_handlers
from .introspect import Introspector
from .labsessions import JupyterSessions
from .pdit_ui import EDIT_PREFIX, UI_PATH, editor_query, pdit_static_dir
from .pool import KernelPool
from .runner import ExecutionPolicy
from .session_kernel import SessionKernel
from .sessions import PditSessionManager
from .store import default_db_path, open_store

#: Command-line flags of the standalone server (``pdit-gateway --pdit-ui script.py``).
PDIT_FLAGS = {
    "pdit-ui": (
        {"PditGatewayApp": {"pdit_ui": True}},
        "Serve pdit's own web client (from the installed 'pdit' package) and open it; "
        "a script given on the command line opens in it.",
    ),
}


#: The options that live on the configurable that uses them and keep their first name on the
#: app as well: ``PditGatewayApp.<name>`` is forwarded to ``<class>.<name>``.
FORWARDED: dict[str, type[Configurable]] = {
    name: klass
    for klass, names in (
        (
            ExecutionPolicy,
            (
                "execution_timeout",
                "interrupt_grace",
                "iopub_timeout",
                "max_output_bytes",
                "max_execution_output_bytes",
                "output_tail_bytes",
                "pipeline_depth",
            ),
        ),
        (
            PditSessionManager,
            (
                "default_kernel_name",
                "max_queue",
                "max_clients_per_session",
                "event_log_size",
                "event_log_bytes",
                "event_log_total_bytes",
                "execution_history_size",
                "execution_history_bytes",
                "execution_max_age",
                "session_idle_timeout",
                "maintenance_interval",
            ),
        ),
        (
            SessionKernel,
            (
                "kernel_ready_timeout",
                "kernel_poll_interval",
                "restart_dead_kernels",
                "digest_history_size",
                "kernel_iopub_hwm",
            ),
        ),
        (KernelPool, ("kernel_pool_size",)),
    )
    for name in names
}


def forwarded(name: str) -> TraitType[Any, Any]:
    """Return the app's copy of the trait ``FORWARDED[name].<name>``: same type, bounds,
    default and help, with a line saying where it goes."""
    klass = FORWARDED[name]
    trait: TraitType[Any, Any] = copy.copy(klass.class_traits()[name])
    trait.help = (
        f"{trait.help} (Forwarded to {klass.__name__}.{name}, which wins when both are set.)"
    )
    trait.__doc__ = trait.help
    return trait


class PditGatewayApp(ExtensionApp):
    """Run ordinary Python scripts statement by statement on Jupyter kernels over a WebSocket."""

    name = "pdit_gateway"
    app_name = "pdit-gateway"
    description = "A Jupyter-kernel-backed execution gateway for live Python scripting."
    version = __version__
    extension_url = "/pdit/api/sessions"
    load_other_extensions = True
    flags = {**ExtensionApp.flags, **PDIT_FLAGS}  # noqa: RUF012 (traitlets reads the class dict)
    # the classes a generated config file (--generate-config) covers
    classes = [  # noqa: RUF012 (traitlets reads the class dict)
        *ExtensionApp.classes,
        PditSessionManager,
        SessionKernel,
        KernelPool,
        ExecutionPolicy,
    ]

    session_manager_class = Type(
        default_value=PditSessionManager,
        klass=PditSessionManager,
        config=True,
        help="The class that maps session ids to sessions and kernels.",
    )

    # the options that moved to the classes that use them, under their first names
    execution_timeout = forwarded("execution_timeout")
    interrupt_grace = forwarded("interrupt_grace")
    iopub_timeout = forwarded("iopub_timeout")
    max_output_bytes = forwarded("max_output_bytes")
    max_execution_output_bytes = forwarded("max_execution_output_bytes")
    output_tail_bytes = forwarded("output_tail_bytes")
    pipeline_depth = forwarded("pipeline_depth")
    default_kernel_name = forwarded("default_kernel_name")
    max_queue = forwarded("max_queue")
    max_clients_per_session = forwarded("max_clients_per_session")
    event_log_size = forwarded("event_log_size")
    event_log_bytes = forwarded("event_log_bytes")
    event_log_total_bytes = forwarded("event_log_total_bytes")
    execution_history_size = forwarded("execution_history_size")
    execution_history_bytes = forwarded("execution_history_bytes")
    execution_max_age = forwarded("execution_max_age")
    session_idle_timeout = forwarded("session_idle_timeout")
    maintenance_interval = forwarded("maintenance_interval")
    kernel_ready_timeout = forwarded("kernel_ready_timeout")
    kernel_poll_interval = forwarded("kernel_poll_interval")
    restart_dead_kernels = forwarded("restart_dead_kernels")
    digest_history_size = forwarded("digest_history_size")
    kernel_iopub_hwm = forwarded("kernel_iopub_hwm")
    kernel_pool_size = forwarded("kernel_pool_size")

    max_message_size = Integer(
        8 * 1024 * 1024,
        min=1024,
        config=True,
        help="Largest client frame in bytes; a larger frame is answered with an error "
        "'message-too-large' and the connection kept (up to twice this size, beyond which the "
        "WebSocket layer closes the connection with code 1009).",
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

    def manager_config(self) -> Config:
        """Return the configuration the session manager (and the classes it builds) reads:
        the server's, with every forwarded option set on the app (a value other than its
        default) copied to its class, unless the class's own section sets it."""
        config = copy.deepcopy(self.config)
        for name, klass in FORWARDED.items():
            value = getattr(self, name)
            if value == self.trait_defaults(name):
                continue
            section = config[klass.__name__]
            if name not in section:
                section[name] = value
        return config

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
                config=self.manager_config(),
                log=self.log,
                kernel_manager=self.serverapp.kernel_manager,
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
                "pdit_introspector": Introspector(parent=self, log=self.log),
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
