"""Thin HTTP and WebSocket handlers: authenticate, decode, delegate to the session manager."""

from __future__ import annotations

import json
from typing import Any, cast

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .channel import Channel
from .clients import ClientGone
from .errors import GatewayError, InvalidSessionIdError, UnknownExecutionError, UnknownSessionError
from .protocol import valid_session_id
from .sessions import PditSessionManager

AUTH_RESOURCE = "kernels"
_ID = r"([^/]+)"


class PditHandlerMixin:
    """Reach the gateway's objects through the server's settings."""

    settings: dict[str, Any]

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

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the WebSocket."""
        self.handler.close(code, reason)


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
        """Leave per-message compression off: events are small and latency matters."""
        return None

    @ws_authenticated
    async def get(self, session_id: str) -> None:
        """Authenticate and validate before upgrading (403/400 before any kernel starts)."""
        self.checked_session_id(session_id)
        await super().get(session_id)

    def open(self, session_id: str) -> None:
        """Attach to (or create) the session and send ``welcome``."""
        # WebSocketMixin.open is not called: it would start a second, millisecond-based ping.
        try:
            session = self.pdit_sessions.get_or_create(session_id)
        except GatewayError as err:
            self.close(1008, err.message)
            return
        self.channel = Channel(
            session,
            WebSocketTransport(self),
            int(self.settings["pdit_max_message_size"]),
            self.log,
        )

    def on_message(self, message: str | bytes) -> None:
        """Hand the frame to the channel."""
        if self.channel is not None:
            self.channel.handle(message)

    def on_close(self) -> None:
        """Detach from the session; the session and its execution go on."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None


def handlers() -> list[tuple[str, type]]:
    """Return the URL patterns of the gateway (relative to the server's base_url)."""
    return [
        (r"/pdit/api/sessions/?", SessionsHandler),
        (rf"/pdit/api/sessions/{_ID}/executions/{_ID}/?", ExecutionHandler),
        (rf"/pdit/api/sessions/{_ID}/channel", ChannelHandler),
        (rf"/pdit/api/sessions/{_ID}/?", SessionHandler),
    ]
