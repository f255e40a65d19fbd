"""The terminal printer of a run: each statement's (or cell's) events as they arrive."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from .jsontypes import JSONDict

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "CellPrinter",
    "TerminalPrinter",
    "WatchPrinter",
    "lines_label",
    "render_item",
    "seconds",
]


#: The exit status of a run that ended ``ok``, and of one that did not.
EXIT_OK = 0
EXIT_FAILED = 1

#: Seconds a statement runs without output before the progress line shows, and its redraw period.
PROGRESS_DELAY = 1.0
PROGRESS_PERIOD = 0.1

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_OBJECT_REPR = re.compile(r"<[\w.]+ object( at 0x[0-9a-f]+)?>")

DIM = "\x1b[2m"
RED = "\x1b[31m"
GREEN = "\x1b[32m"
YELLOW = "\x1b[33m"
_RESET = "\x1b[0m"
_CLEAR_LINE = "\r\x1b[K"

_NOT_RUN_REASON = {
    "error": "an earlier statement failed",
    "cancel": "the execution was cancelled",
    "interrupt": "the kernel was interrupted",
    "timeout": "the execution timed out",
    "reset": "the kernel was reset",
    "kernel-died": "the kernel died",
    "exit": "the script exited",
}


def lines_label(start: int, end: int) -> str:
    """Return ``line 3`` or ``lines 3–5``."""
    return f"line {start}" if start == end else f"lines {start}–{end}"


def seconds(value: float) -> str:
    """Return a duration for a person: ``0.25 s``, ``2.5 s``, ``12 s``."""
    if value < 1:
        return f"{value:.2f} s"
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _image_size(mime: str, content: str) -> tuple[int, int] | None:
    """Read width and height from the header of a base64 PNG or GIF."""
    if mime not in ("image/png", "image/gif"):
        return None
    try:
        head = base64.b64decode(content[:44] + "=" * (-len(content[:44]) % 4))
    except ValueError:
        return None
    if mime == "image/png" and head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if mime == "image/gif" and head[:4] == b"GIF8" and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return int(width), int(height)
    return None


def render_item(item: JSONDict, *, color: bool) -> str | None:
    """Return the terminal text of one non-stream OutputItem (``None`` for stream items)."""
    kind = str(item.get("type", ""))
    content = str(item.get("content", ""))
    data = item.get("data") if isinstance(item.get("data"), dict) else {}
    if kind in ("stdout", "stderr"):
        return None
    if kind == "error":
        traceback = item.get("traceback")
        if color and isinstance(traceback, list) and traceback:
            lines = [str(line) for line in traceback]
            if any("\x1b[" in line for line in lines):
                return "\n".join(lines)  # the kernel's own colours
            # python's plain traceback goes to stderr, which the terminal shows in red
            return "\n".join(f"{RED}{line}{_RESET}" if line else line for line in lines)
        return content or f"{item.get('ename', 'Error')}: {item.get('evalue', '')}"
    if kind.startswith("image/"):
        width, height = item.get("width"), item.get("height")
        if not (isinstance(width, int) and isinstance(height, int)):
            size = _image_size(kind, content)
            width, height = size if size else (None, None)
        return f"[{kind} {width}×{height}]" if width and height else f"[{kind}]"
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return json.dumps(json.loads(content), indent=2, ensure_ascii=False)
        except ValueError:
            return content
    if kind in ("text/plain", "text/markdown"):
        return content
    plain = data.get("text/plain") if data else None
    if isinstance(plain, list):
        plain = "".join(str(part) for part in plain)
    # ``<IPython.core.display.HTML object>`` says nothing: show the placeholder instead
    if isinstance(plain, str) and plain.strip() and not _OBJECT_REPR.fullmatch(plain.strip()):
        return plain
    return f"[{kind} output]"


@dataclass
class _Statement:
    label: str
    started: float
    last_output: float


class TerminalPrinter:
    """Print one execution's events to a terminal as they arrive.

    Each statement gets a dim ``── lines 3–5 ──`` header; stream text is printed live
    (stderr text in red), the rest of a statement's output when its ``result`` arrives
    (so a display updated or cleared mid-statement shows as it ended). The summary goes
    to ``err``. With ``progress``, a statement that has run ``PROGRESS_DELAY`` seconds
    without output gets a spinner line on ``err``, erased before anything else is written.

    Parameters
    ----------
    out, err : TextIO
        Where output and summary/notes go.
    color : bool
        Use ANSI colours (and keep them in tracebacks).
    progress : bool
        Draw the progress line (only sensible when ``err`` is a terminal).
    timeout : float, optional
        The requested timeout, for the summary.
    """

    def __init__(
        self,
        out: TextIO,
        err: TextIO,
        *,
        color: bool = False,
        progress: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.out = out
        self.err = err
        self.color = color
        self.progress = progress
        self.timeout = timeout
        self.status: str | None = None
        self.results = 0
        self.duration_ms = 0.0
        self.failed_at: tuple[int, int] | None = None
        self.failure: str | None = None
        self.exit_code: int | None = None
        self._pending_header: str | None = None
        self._at_line_start = True
        self._running: _Statement | None = None
        self._progress_shown = False
        self._frame = 0
        self._kernel_state: str | None = None
        self._displays: dict[str, str] = {}  # display id → the lines that showed it
        self._updates: dict[str, JSONDict] = {}  # display id → its latest update in this statement
        self._handlers: dict[str, Callable[[JSONDict], None]] = {
            "queued": self._queued,
            "running": self._on_running,
            "stream": self._stream,
            "display": self._display,
            "result": self._result,
            "input-request": self._input_request,
            "cancelled": self._cancelled,
            "complete": self._complete,
            "kernel-status": self._kernel_status,
        }

    # -- output primitives

    def _paint(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self.color and text else text

    def _write(self, text: str) -> None:
        if not text:
            return
        self.clear_progress()
        self.out.write(text)
        self.out.flush()
        self._at_line_start = text.endswith("\n")

    def _line(self, text: str) -> None:
        if not self._at_line_start:
            self._write("\n")
        self._write(text if text.endswith("\n") else text + "\n")

    def note(self, text: str, style: str = DIM) -> None:
        """Write a line on ``err`` (after finishing the current stdout line)."""
        self.clear_progress()
        if not self._at_line_start:
            self._write("\n")
        self.err.write(self._paint(text, style) + "\n")
        self.err.flush()

    # -- events

    def handle(self, event: JSONDict) -> None:
        """Print one event."""
        handler = self._handlers.get(str(event.get("type")))
        if handler is not None:
            handler(event)

    def _queued(self, event: JSONDict) -> None:
        position = event.get("position")
        if isinstance(position, int) and position > 0:
            self.note(f"queued behind {position} other execution(s) in this session")

    def header(self, event: JSONDict) -> str:
        """Return the label of the statement a ``running`` event starts (``lines 3–5``)."""
        return lines_label(int(event["lineStart"]), int(event["lineEnd"]))

    #: Print every statement's header when it starts; False: only before its first output,
    #: so statements that print nothing take no line (the progress line shows them running).
    head_every_statement = False

    def _on_running(self, event: JSONDict) -> None:
        now = time.monotonic()
        label = self.header(event)
        self._running = _Statement(label, now, now)
        self._pending_header = f"── {label} ──"
        if self.head_every_statement:
            self._head()

    def _head(self) -> None:
        """Print the running statement's header if it is not printed yet."""
        if self._pending_header is not None:
            header, self._pending_header = self._pending_header, None
            self._line(self._paint(header, DIM))

    def _stream(self, event: JSONDict) -> None:
        if self._running is not None:
            self._running.last_output = time.monotonic()
        self._head()
        text = str(event.get("text", ""))
        if event.get("name") == "stderr" and self.color:
            # colour each line apart so the reset lands before the newline
            text = "".join(
                self._paint(line[:-1], RED) + "\n"
                if line.endswith("\n")
                else self._paint(line, RED)
                for line in text.splitlines(keepends=True)
            )
        self._write(text)

    def _display(self, event: JSONDict) -> None:
        # an update of a display an earlier statement showed: print its last state at the result
        display_id = event.get("displayId")
        if event.get("update") and display_id in self._displays:
            self._updates[str(display_id)] = event["output"]

    def _result(self, event: JSONDict) -> None:
        self._running = None
        self.results += 1
        for item in event.get("output") or []:
            text = render_item(item, color=self.color)
            if text is not None:
                self._head()
                self._line(text)
            if item.get("displayId") is not None:
                self._displays[str(item["displayId"])] = self.header(event)
        for display_id, item in self._updates.items():
            text = render_item(item, color=self.color)
            if text is not None:
                self._head()
                where = self._displays[display_id]
                self._line(self._paint(f"(the display of {where}, updated)", DIM))
                self._line(text)
        self._updates.clear()
        if event.get("status") == "error" and self.failed_at is None:
            self.failed_at = (int(event["lineStart"]), int(event["lineEnd"]))
            errors = [i for i in event.get("output") or [] if i.get("type") == "error"]
            if errors:
                self.failure = str(errors[-1].get("ename") or "") or None

    def _cancelled(self, event: JSONDict) -> None:
        expressions = event.get("expressions") or []
        if not expressions:
            return
        start = min(int(e["lineStart"]) for e in expressions)
        end = max(int(e["lineEnd"]) for e in expressions)
        count = len(expressions)
        why = _NOT_RUN_REASON.get(str(event.get("reason")), str(event.get("reason")))
        plural = "statement" if count == 1 else "statements"
        self._line(
            self._paint(
                f"── not run: {lines_label(start, end)} ({count} {plural}): {why} ──", YELLOW
            )
        )

    def _kernel_status(self, event: JSONDict) -> None:
        state = str(event.get("state"))
        reason = event.get("reason")
        if state in ("dead", "restarting") and state != self._kernel_state:
            self.note(f"kernel {state}" + (f": {reason}" if reason else ""), YELLOW)
        self._kernel_state = state

    def _input_request(self, event: JSONDict) -> None:
        # python's input() writes its prompt to stdout, with no newline
        self._head()
        self._write(str(event.get("prompt", "")))

    def _complete(self, event: JSONDict) -> None:
        self._running = None
        self.status = str(event.get("status"))
        code = event.get("exitCode")
        self.exit_code = code if isinstance(code, int) else None
        duration = event.get("durationMs")
        self.duration_ms = float(duration) if isinstance(duration, (int, float)) else 0.0
        self.note(self.summary(), GREEN if self.status == "ok" else RED)

    def summary(self) -> str:
        """Return the one-line summary of the finished execution."""
        took = seconds(self.duration_ms / 1000)
        where = f" at {lines_label(*self.failed_at)}" if self.failed_at else ""
        if self.status == "ok":
            plural = "statement" if self.results == 1 else "statements"
            return f"ok: {self.results} {plural} in {took}"
        if self.status == "error":
            return f"error{where}" + (f" ({self.failure})" if self.failure else "")
        if self.status == "timeout":
            limit = f"{self.timeout:g} s" if self.timeout else took
            return f"timeout after {limit}" + where
        if self.status == "kernel-died":
            return "kernel died" + where
        if self.status == "cancelled":
            return f"cancelled after {took}"
        if self.status == "exited":
            return f"exited with status {self.exit_code}{where}"
        return f"ended: {self.status}"

    # -- progress line

    def tick(self) -> None:
        """Redraw the progress line when the running statement has been quiet long enough."""
        running = self._running
        if not self.progress or running is None:
            return
        now = time.monotonic()
        # a partial output line stays as it is: the spinner would overwrite it
        if now - running.last_output < PROGRESS_DELAY or not self._at_line_start:
            return
        self._frame = (self._frame + 1) % len(_SPINNER)
        text = f"{_SPINNER[self._frame]} {running.label} running {seconds(now - running.started)}"
        self.err.write(_CLEAR_LINE + self._paint(text, DIM))
        self.err.flush()
        self._progress_shown = True

    def clear_progress(self) -> None:
        """Erase the progress line, if it is shown."""
        if self._progress_shown:
            self._progress_shown = False
            self.err.write(_CLEAR_LINE)
            self.err.flush()

    async def keep_progress(self) -> None:
        """Redraw the progress line every ``PROGRESS_PERIOD`` s until cancelled."""
        while True:
            await asyncio.sleep(PROGRESS_PERIOD)
            self.tick()

    def exit_status(self) -> int:
        """Return 0 when the execution ended ``ok``, the script's status when it exited
        (``sys.exit(n)``), else 1."""
        if self.status == "exited" and self.exit_code is not None:
            return self.exit_code & 0xFF  # as the operating system reports it
        return EXIT_OK if self.status == "ok" else EXIT_FAILED


class CellPrinter(TerminalPrinter):
    """Print a notebook run: each cell's output under a ``── cell N ──`` header.

    The run's summary is written once at the end by the caller, not per cell.
    """

    cell_index = 0
    _headed: int | None = None
    head_every_statement = True

    def header(self, event: JSONDict) -> str:
        """Return ``cell N`` (1-based) for the cell that runs."""
        return f"cell {self.cell_index + 1}"

    def _on_running(self, event: JSONDict) -> None:
        self._headed = self.cell_index
        super()._on_running(event)

    def _result(self, event: JSONDict) -> None:
        if self._headed != self.cell_index:  # the kernel died before the cell started
            self._headed = self.cell_index
            self._line(self._paint(f"── {self.header(event)} ──", DIM))
        super()._result(event)

    def _complete(self, event: JSONDict) -> None:
        self._running = None
        self.status = str(event.get("status"))


class WatchPrinter(TerminalPrinter):
    """Print one incremental (``changed``) run of ``--watch``: the statements that ran, as
    :class:`TerminalPrinter` does, and for the kept ones only their count in the summary.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: first and last lines of the kept statements, in order
        self.kept: list[tuple[int, int]] = []

    def _result(self, event: JSONDict) -> None:
        if event.get("cached"):
            self.kept.append((int(event["lineStart"]), int(event["lineEnd"])))
            return
        super()._result(event)

    def summary(self) -> str:
        """Return the run's summary, with how many statements kept their result."""
        text = super().summary()
        if self.status == "ok" and not self.results:
            text = "nothing changed"
        if self.kept:
            plural = "statement" if len(self.kept) == 1 else "statements"
            text += f"; {len(self.kept)} {plural} kept their result (unchanged)"
        return text
