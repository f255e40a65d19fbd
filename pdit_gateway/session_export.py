"""A session's last run of a script as an HTML page or a notebook (what the export route serves)."""

from __future__ import annotations

from typing import Any

from .errors import NoExecutionError
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
