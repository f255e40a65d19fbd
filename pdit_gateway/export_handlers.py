"""``GET /pdit/api/sessions/{id}/export``: a session's last run of a script, as HTML or .ipynb."""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .errors import GatewayError, NoExecutionError, UnknownSessionError
from .handlers import AUTH_RESOURCE, PditHandlerMixin, PditHTTPError
from .runner import Execution

#: What ``format=`` can ask for: the media type and the file suffix.
FORMATS = {
    "html": ("text/html; charset=utf-8", ".html"),
    "ipynb": ("application/x-ipynb+json", ".ipynb"),
}


def last_execution(executions: Any, path: str | None) -> Execution:
    """Return the newest execution that has started (of ``path``, when given).

    Raises
    ------
    NoExecutionError
        The session ran nothing (of that script) since the gateway started.
    """
    for execution in reversed(list(executions)):
        if not isinstance(execution, Execution) or execution.started_at is None:
            continue  # recorded before a gateway restart (no script text), or still queued
        if path is None or execution.request.script_name == path:
            return execution
    what = f"of {path!r} " if path is not None else ""
    raise NoExecutionError(f"the session has no run {what}to export")


def export_notebook(execution: Execution, kernel_info: dict[str, Any] | None = None) -> Any:
    """Build the notebook of an execution (cells, outputs) and the page's blocks."""
    from .notebook import ScriptRecorder

    request = execution.request
    recorder = ScriptRecorder(request.script, execution.statements)
    if kernel_info:
        language = kernel_info.get("language_info")
        if language:
            recorder.nb.metadata["language_info"] = language
    recorder.feed({"type": "expressions", "expressions": execution.expressions()})
    for index, result in sorted(execution.results.items()):
        recorder.feed({"type": "running", "index": index, "ts": result.get("ts")})
        recorder.feed(result)
    return recorder


def render(execution: Execution, fmt: str, title: str, kernel_info: dict[str, Any]) -> str:
    """Render an execution as an HTML page or a notebook (``fmt``: html, ipynb)."""
    recorder = export_notebook(execution, kernel_info)
    if fmt == "ipynb":
        import nbformat

        return str(nbformat.writes(recorder.nb))  # type: ignore[no-untyped-call]
    from .export import render_html

    done = len(execution.results)
    summary = f"{execution.status}: {done} of {len(execution.statements)} statements ran"
    ok = execution.status == "ok"
    return render_html(title, recorder.nb, recorder.blocks, summary=summary, ok=ok)


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


def export_routes(session_pattern: str) -> list[tuple[str, type]]:
    """Return the export route under ``/pdit/api/sessions/{id}``."""
    return [(rf"/pdit/api/sessions/{session_pattern}/export/?", ExportHandler)]
