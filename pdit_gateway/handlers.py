"""Thin HTTP and WebSocket handlers: authenticate, decode, delegate to the session manager."""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
from typing import Any, cast
from urllib.parse import quote, urlencode

from jupyter_server.auth.decorator import allow_unauthenticated, authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, FileFindHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.log import _scrub_uri
from jupyter_server.utils import ensure_async, url_path_join
from tornado import web
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .channel import Channel
from .clients import ClientGone
from .compat import write_messages
from .errors import (
    FileAccessError,
    GatewayError,
    HiddenPathError,
    InvalidSessionIdError,
    UnknownExecutionError,
    UnknownSessionError,
)
from .files import FileService, has_hidden_part, shown
from .pdit_compat import PditChannel
from .pdit_ui import UI_PATH
from .protocol import valid_session_id
from .session_export import FORMATS, last_execution, render
from .sessions import PditSessionManager

AUTH_RESOURCE = "kernels"
_ID = r"([^/]+)"


class PditHTTPError(web.HTTPError):
    """An HTTP error whose JSON body carries the gateway's error ``code`` and its message.

    Parameters
    ----------
    status : int
        The HTTP status.
    code : str
        The gateway's error code (``file-too-large``, ``forbidden-path``, …).
    message : str
        A sentence for a person (logged as is: ``%`` in it is not a placeholder).
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message.replace("%", "%%"))
        self.error_code = code
        self.message = message


class PditHandlerMixin:
    """Reach the gateway's objects through the server's settings; scrub logged URLs."""

    settings: dict[str, Any]
    request: Any

    def _request_summary(self) -> str:
        """The request as Tornado's warnings show it, without the token (``?token=[secret]``).

        Tornado's own summary is the full URI, so a refused ``/ws/session?token=…`` would put
        the token in the log; this scrubs it as jupyter_server's access log does.
        """
        return f"{self.request.method} {_scrub_uri(self.request.uri)} ({self.request.remote_ip})"

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Answer a :class:`PditHTTPError` as ``{code, message, reason}`` JSON; others as before."""
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if not isinstance(error, PditHTTPError):
            super().write_error(status_code, **kwargs)  # type: ignore[misc]
            return
        handler = cast(web.RequestHandler, self)
        handler.set_header("Content-Type", "application/json")
        handler.finish(
            json.dumps({"code": error.error_code, "message": error.message, "reason": error.reason})
        )

    @property
    def pdit_sessions(self) -> PditSessionManager:
        """Return the session manager the extension published."""
        return cast(PditSessionManager, self.settings["pdit_session_manager"])

    def checked_session_id(self, session_id: str) -> str:
        """Return ``session_id`` or raise 400 when it is not a valid id."""
        if not valid_session_id(session_id):
            raise web.HTTPError(400, "a session id matches [A-Za-z0-9_.-]{1,128}")
        return session_id


def _http_error(err: GatewayError) -> web.HTTPError:
    status = 404 if isinstance(err, (UnknownSessionError, UnknownExecutionError)) else 400
    if isinstance(err, InvalidSessionIdError):
        status = 400
    return web.HTTPError(status, err.message)


class SessionsHandler(PditHandlerMixin, ExtensionHandlerMixin, APIHandler):
    """``GET`` lists sessions, ``POST`` creates one."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """List the sessions."""
        self.finish(json.dumps(self.pdit_sessions.list()))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Create a session (or return the existing one with that id)."""
        body = self.get_json_body() or {}
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        session_id = body.get("sessionId")
        for key in ("sessionId", "kernelName", "path"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise web.HTTPError(400, f"'{key}' must be a string")
        if session_id is not None:
            self.checked_session_id(session_id)
        try:
            session = self.pdit_sessions.get_or_create(
                session_id, body.get("kernelName"), body.get("path")
            )
        except GatewayError as err:
            raise _http_error(err) from None
        self.set_status(201)
        self.set_header("Location", self.request.path.rstrip("/") + "/" + session.session_id)
        self.finish(json.dumps(session.snapshot()))


class SessionHandler(PditHandlerMixin, ExtensionHandlerMixin, APIHandler):
    """``GET`` a session's snapshot, ``DELETE`` it (its kernel is shut down)."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        """Return the session snapshot."""
        session_id = self.checked_session_id(session_id)
        try:
            session = self.pdit_sessions.sessions.get(session_id)
            snapshot = (
                session.snapshot()
                if session is not None
                else self.pdit_sessions.restored_snapshot(session_id)
            )
        except GatewayError as err:
            raise _http_error(err) from None
        self.finish(json.dumps(snapshot))

    @web.authenticated
    @authorized
    async def delete(self, session_id: str) -> None:
        """Shut the session down."""
        try:
            await self.pdit_sessions.delete(self.checked_session_id(session_id))
        except GatewayError as err:
            raise _http_error(err) from None
        self.set_status(204)
        self.finish()


class ExecutionHandler(PditHandlerMixin, ExtensionHandlerMixin, APIHandler):
    """``GET`` one execution's snapshot."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, session_id: str, execution_id: str) -> None:
        """Return the execution snapshot."""
        try:
            snapshot = self.pdit_sessions.find_execution(
                self.checked_session_id(session_id), execution_id
            )
        except GatewayError as err:
            raise _http_error(err) from None
        self.finish(json.dumps(snapshot))


class StatusHandler(PditHandlerMixin, ExtensionHandlerMixin, APIHandler):
    """``GET /pdit/api/status``: the state of the gateway's execution store."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Answer ``{"store": {state, path, failedWrites, lastError}}``."""
        self.finish(json.dumps({"store": self.pdit_sessions.store.status()}))


class WebSocketTransport:
    """The core's ``Transport`` over a Tornado WebSocket."""

    def __init__(self, handler: WebSocketHandler) -> None:
        self.handler = handler

    async def send(self, text: str) -> None:
        """Write one frame and wait until Tornado has flushed it (back-pressure)."""
        try:
            await self.handler.write_message(text)
        except WebSocketClosedError:
            raise ClientGone from None

    async def send_many(self, texts: list[str]) -> None:
        """Write several frames, in one socket write where Tornado allows it (see
        :func:`.compat.write_messages`), and wait until they are flushed."""
        connection = self.handler.ws_connection
        if connection is None or connection.is_closing():
            raise ClientGone
        try:
            await write_messages(self.handler, texts)
        except (StreamClosedError, WebSocketClosedError):
            raise ClientGone from None

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the WebSocket."""
        self.handler.close(code, reason)


def close_reason(message: str) -> str:
    """Return ``message`` cut to the 123 bytes a WebSocket close reason may hold."""
    data = message.encode("utf-8")
    if len(data) <= 123:
        return message
    return data[:120].decode("utf-8", "ignore") + "..."


class ChannelHandler(
    PditHandlerMixin, WebSocketMixin, WebSocketHandler, ExtensionHandlerMixin, JupyterHandler
):
    """The protocol v1 event channel of one session."""

    auth_resource = AUTH_RESOURCE
    channel: Channel | None = None

    # Tornado's own keep-alive (seconds) replaces jupyter_server's ping loop, whose
    # properties of the same names are in milliseconds: see ``open``.
    @property
    def ping_interval(self) -> float:
        """Return seconds between server pings (0 = none)."""
        return float(self.settings["pdit_ping_interval"])

    @property
    def ping_timeout(self) -> float:
        """Return seconds to wait for a pong before closing the connection."""
        return float(self.settings["pdit_ping_timeout"])

    @property
    def max_message_size(self) -> int:
        """Let frames up to twice the limit through, so the core can answer them with an error."""
        return 2 * int(self.settings["pdit_max_message_size"])

    def get_compression_options(self) -> dict[str, Any] | None:
        """Offer permessage-deflate at ``websocket_compression_level`` (None: never compress).

        The compressor keeps its window across messages (context takeover), so the many
        small, similar events of a run cost a few bytes each; ``mem_level`` 5 keeps the
        compressor's state at about 140 KB per connection.
        """
        level = int(self.settings.get("pdit_compression_level", 0))
        if level <= 0:
            return None
        return {"compression_level": level, "mem_level": 5}

    @ws_authenticated
    async def get(self, session_id: str) -> None:
        """Authenticate and validate before upgrading (403/400 before any kernel starts)."""
        self.checked_session_id(session_id)
        await super().get(session_id)

    def open(self, session_id: str) -> None:
        """Attach to (or create) the session and send ``welcome``."""
        # WebSocketMixin.open is not called: it would start a second, millisecond-based ping.
        # Events are many small frames: without TCP_NODELAY, Nagle's algorithm holds each one
        # back until the client's (delayed, ~40 ms) ACK of the previous one arrives.
        self.set_nodelay(True)
        try:
            # ``?path=`` names the document of a session this connection creates (its kernel
            # starts in the document's folder); an existing session keeps its own
            path = self.get_argument("path", None)
            session = self.pdit_sessions.get_or_create(session_id, path=path or None)
            self.channel = Channel(
                session,
                WebSocketTransport(self),
                int(self.settings["pdit_max_message_size"]),
                self.log,
                self.settings.get("pdit_introspector"),
                self.settings.get("pdit_jupyter_sessions"),
            )
        except GatewayError as err:
            self.close(1008, close_reason(err.message))

    def on_message(self, message: str | bytes) -> None:
        """Hand the frame to the channel."""
        if self.channel is not None:
            self.channel.handle(message)

    def on_close(self) -> None:
        """Detach from the session; the session and its execution go on."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None


# -- pdit compatibility (protocol section 6) ------------------------------------------------


class PditSessionHandler(ChannelHandler):
    """pdit's ``/ws/session?sessionId=…``: the same sessions, in pdit's own messages."""

    pdit_channel: PditChannel | None = None

    @property
    def pdit_files(self) -> FileService:
        """Return the file service the extension published."""
        return cast(FileService, self.settings["pdit_files"])

    @ws_authenticated
    async def get(self) -> None:  # type: ignore[override]
        """Authenticate (``?token=`` as pdit sends it) and validate before upgrading."""
        self.checked_session_id(self.get_query_argument("sessionId", ""))
        await WebSocketHandler.get(self)

    def open(self) -> None:  # type: ignore[override]
        """Attach to (or create) the session; events flow at once, without ``welcome``."""
        try:
            self.pdit_channel = PditChannel.connect(
                self.pdit_sessions,
                self.get_query_argument("sessionId"),
                WebSocketTransport(self),
                self.pdit_files,
                int(self.settings["pdit_max_message_size"]),
                self.log,
                stream_interval=float(self.settings["pdit_stream_interval"]),
                idle_timeout=float(self.settings["pdit_session_idle_timeout"]),
            )
        except GatewayError as err:
            self.close(1008, close_reason(err.message))

    def on_message(self, message: str | bytes) -> None:
        """Hand the frame to the pdit channel."""
        if self.pdit_channel is not None:
            self.pdit_channel.handle(message)

    def on_close(self) -> None:
        """Detach from the session and stop watching; the session and its execution go on."""
        if self.pdit_channel is not None:
            self.pdit_channel.close()
            self.pdit_channel = None


class PditTokenMixin:
    """Read pdit's ``X-PDIT-Token`` header as jupyter_server's ``Authorization: token …``.

    The server's identity provider checks it like any token. A token-authenticated request
    is exempt from the XSRF check by jupyter_server's own rule (a browser does not add such
    a header to a cross-site request by itself); without a token, or with a wrong one, the
    request is refused (403) and a cookie-authenticated POST still needs its XSRF token.
    """

    request: Any

    async def prepare(self, *args: Any, **kwargs: Any) -> Any:
        """Map the header, then let jupyter_server authenticate."""
        token = self.request.headers.get("X-PDIT-Token")
        if token and not self.request.headers.get("Authorization"):
            self.request.headers["Authorization"] = f"token {token}"
        return await super().prepare(*args, **kwargs)  # type: ignore[misc]


def _file_error(err: FileAccessError) -> web.HTTPError:
    return PditHTTPError(err.status, err.code, err.message)


class ListFilesHandler(PditTokenMixin, PditHandlerMixin, ExtensionHandlerMixin, APIHandler):
    """pdit's ``GET /api/list-files``: the ``.py`` files under the server's root."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Answer ``{"files": [path, …]}``, sorted by file name."""
        files = cast(FileService, self.settings["pdit_files"])
        self.finish(json.dumps({"files": await asyncio.to_thread(files.list_python_files)}))


class SaveFileHandler(PditTokenMixin, PditHandlerMixin, ExtensionHandlerMixin, APIHandler):
    """pdit's ``POST /api/save-file {path, content}``: an atomic write inside the root.

    The server's ContentsManager decides as for a save through ``/api/contents``: a hidden
    path is refused unless its ``allow_hidden`` is on, its pre-save hooks see (and may
    change) the model first, its post-save hooks and its ``save`` event follow the write.
    The write itself is the gateway's (:meth:`FileService.save`: resolved and written through
    folder descriptors, so it cannot be redirected out of the root).
    """

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """Write the file; 403 outside the root or hidden (nothing written), 404 without folder."""
        body = self.get_json_body()
        if not isinstance(body, dict):
            raise PditHTTPError(
                400, "invalid-frame", "the body must be a JSON object {path, content}"
            )
        path, content = body.get("path"), body.get("content")
        if not isinstance(path, str) or not isinstance(content, str):
            raise PditHTTPError(400, "invalid-field", "'path' and 'content' must be strings")
        files = cast(FileService, self.settings["pdit_files"])
        manager: Any = self.contents_manager
        try:
            real = await asyncio.to_thread(files.resolve, path)
            relative = files.relative(real)
            if not getattr(manager, "allow_hidden", False) and (
                has_hidden_part(files.parts(path))
                or has_hidden_part(real.relative_to(files.root).parts)
            ):
                raise HiddenPathError(
                    f"{shown(path)} is hidden, and the server's ContentsManager.allow_hidden is off"
                )
            model: dict[str, Any] = {
                "name": real.name,
                "path": relative,
                "type": "file",
                "format": "text",
                "content": content,
            }
            manager.run_pre_save_hooks(model=model, path=relative)
            if not isinstance(model.get("content"), str):
                raise FileAccessError("a pre-save hook left the file without text content")
            real = await asyncio.to_thread(files.save, relative, model["content"])
        except FileAccessError as err:
            raise _file_error(err) from None
        relative = files.relative(real)
        try:
            saved = await ensure_async(manager.get(relative, content=False))
        except Exception:
            self.log.warning("pdit save-file: the ContentsManager cannot describe %s", relative)
            saved = {**model, "content": None, "format": None}
        manager.run_post_save_hooks(model=saved, os_path=str(real))
        emit = getattr(manager, "emit", None)
        if callable(emit):
            emit(data={"action": "save", "path": relative})
        self.finish(json.dumps({"status": "ok"}))


class PditUIHandler(JupyterHandler):
    """pdit's released web client: its ``index.html`` (``--pdit-ui``)."""

    def initialize(self, static_dir: str) -> None:
        """Remember where pdit's built client lies."""
        self.static_dir = static_dir

    @web.authenticated
    def get(self) -> None:
        """Serve the page; pdit's script reads ``?script=`` and ``?token=`` from the URL."""
        with open(os.path.join(self.static_dir, "index.html"), encoding="utf-8") as page:
            html = page.read()
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(html)


class PditAssetsHandler(FileFindHandler):
    """pdit's scripts and styles at ``/assets/…``, where its page looks for them."""

    # a cache of its own: FileFindHandler's is keyed by file name across every instance
    _static_paths: dict[str, str] = {}  # noqa: RUF012


class PditEditHandler(JupyterHandler):
    """``/pdit/edit/<path>``: open pdit's editor on a file (what ``--pdit-ui script.py`` opens)."""

    @allow_unauthenticated
    def get(self, path: str) -> None:
        """Redirect to the UI with ``?script=<path>``, keeping the other query arguments."""
        params = [("script", path)]
        for key, values in self.request.query_arguments.items():
            if key != "script":
                params += [(key, value.decode("utf-8", "replace")) for value in values]
        self.redirect(url_path_join(self.base_url, UI_PATH) + "?" + urlencode(params))


class UnavailableHandler(PditTokenMixin, PditHandlerMixin, APIHandler):
    """Every gateway route while the execution store cannot be used: ``503 store-unavailable``.

    Authentication still applies (403 without it); the answer says why and what to do.
    """

    def initialize(self, reason: str) -> None:
        """Remember why the gateway is off."""
        self.reason = reason

    def _refuse(self) -> None:
        raise PditHTTPError(503, "store-unavailable", f"the pdit gateway is off: {self.reason}")

    @web.authenticated
    def get(self, *args: str) -> None:
        """Refuse."""
        self._refuse()

    @web.authenticated
    def post(self, *args: str) -> None:
        """Refuse."""
        self._refuse()

    @web.authenticated
    def delete(self, *args: str) -> None:
        """Refuse."""
        self._refuse()


class ExportHandler(PditHandlerMixin, ExtensionHandlerMixin, APIHandler):
    """``GET`` the session's last run (``?path=`` of that script) as ``?format=html|ipynb``."""

    auth_resource = AUTH_RESOURCE
    _media: str | None = None

    def finish(self, *args: Any, **kwargs: Any) -> Any:
        """Keep the export's own media type (``APIHandler.finish`` would make it JSON)."""
        if self._media is None:
            return super().finish(*args, **kwargs)
        self.set_header("Content-Type", self._media)
        return JupyterHandler.finish(self, *args, **kwargs)

    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        """Answer the page or the notebook as a download named after the script."""
        session_id = self.checked_session_id(session_id)
        fmt = self.get_argument("format", "html")
        if fmt not in FORMATS:
            raise PditHTTPError(400, "invalid-field", "'format' must be html or ipynb")
        path = self.get_argument("path", None) or None
        try:
            session = self.pdit_sessions.get(session_id)
            execution = last_execution(session.executions.values(), path)
        except UnknownSessionError as err:
            raise PditHTTPError(404, err.code, err.message) from None
        except GatewayError as err:
            raise PditHTTPError(404, err.code, err.message) from None
        name = posixpath.basename(execution.request.script_name or session_id)
        try:
            kernel_info = session.connection.kernel_info
        except GatewayError:  # no kernel now: the export says no language
            kernel_info = {}
        body = render(execution, fmt, name, kernel_info)
        media, suffix = FORMATS[fmt]
        stem = name[: -len(".py")] if name.endswith(".py") else name
        filename = stem + suffix
        self._media = media
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename)}")
        self.set_header("X-Pdit-Execution-Id", execution.execution_id)
        self.finish(body)


def pdit_ui_handlers(static_dir: str) -> list[tuple[Any, ...]]:
    """Return the routes of pdit's web client (``--pdit-ui``) served from ``static_dir``."""
    return [
        (UI_PATH + "/?", PditUIHandler, {"static_dir": static_dir}),
        (r"/assets/(.*)", PditAssetsHandler, {"path": os.path.join(static_dir, "assets")}),
        (r"/pdit/edit/(.*)", PditEditHandler),
    ]


def handlers() -> list[tuple[str, type]]:
    """Return the URL patterns of the gateway (relative to the server's base_url)."""
    return [
        (r"/pdit/api/status", StatusHandler),
        (r"/pdit/api/sessions/?", SessionsHandler),
        (rf"/pdit/api/sessions/{_ID}/executions/{_ID}/?", ExecutionHandler),
        (rf"/pdit/api/sessions/{_ID}/export/?", ExportHandler),
        (rf"/pdit/api/sessions/{_ID}/channel", ChannelHandler),
        (rf"/pdit/api/sessions/{_ID}/?", SessionHandler),
        (r"/ws/session", PditSessionHandler),
        (r"/api/list-files", ListFilesHandler),
        (r"/api/save-file", SaveFileHandler),
    ]


def unavailable_handlers(reason: str) -> list[tuple[str, type, dict[str, str]]]:
    """Return the gateway's URL patterns, each answered by :class:`UnavailableHandler`."""
    return [(pattern, UnavailableHandler, {"reason": reason}) for pattern, _ in handlers()]
