"""Notebooks through the gateway: cells run in cell mode, events written as nbformat outputs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import nbformat
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from nbformat import NotebookNode
from traitlets import Unicode

from .client import ChannelConnection, execute_frame, execution_events
from .events import strip_ansi
from .export import Block
from .jsontypes import JSONDict
from .outputs import NbformatForm, OutputArea, output_type
from .splitter import Statement

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "RAISES_EXCEPTION_TAG",
    "SKIP_EXECUTION_TAG",
    "Block",
    "CellFailure",
    "NotebookForm",
    "NotebookKernelManager",
    "NotebookOptions",
    "NotebookRun",
    "OutputRecorder",
    "ScriptRecorder",
    "describe_kernel",
    "is_percent_script",
    "prepare_kernel",
    "probe_language_info",
    "read_notebook",
    "read_percent_script",
    "run_notebook",
    "timing_stamp",
    "write_file",
    "write_notebook",
]


#: A cell with this tag is not sent to the kernel (nbclient's ``skip_cells_with_tag``).
SKIP_EXECUTION_TAG = "skip-execution"
#: A cell with this tag may raise without failing the run.
RAISES_EXCEPTION_TAG = "raises-exception"
#: nbclient's timestamp format for ``metadata.execution``.
TIMING_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Error items the gateway makes itself (no kernel traceback): they say why a run stopped and
#: are reported as the run's failure, not written as outputs (nbclient writes none either).
GATEWAY_ERRORS = frozenset(
    {"DeadKernelError", "TimeoutError", "KernelRestarted", "KernelShutdown", "GatewayError"}
)
#: Seconds for the language_info probe to finish (it waits for a starting kernel).
PROBE_TIMEOUT = 120.0
#: Seconds a kernel is left alone after it first answers, before the first cell runs.
#: jupyter_client's ``wait_for_ready`` (so nbclient) drains IOPub for 0.2 s after the kernel
#: answers; a cell that starts sooner can meet the flush timers of ipykernel's start-up
#: and see its stderr sent ahead of its stdout.
KERNEL_SETTLE = 0.3

_JSON_SUFFIX = "+json"

# One line that prints the kernel's own kernel_info language_info as JSON: run with
# storeHistory false it leaves no execution count, no ``_`` and no history entry behind.
_LANGUAGE_INFO_PROBE = (
    '__import__("builtins").print(__import__("json").dumps('
    'get_ipython().kernel.kernel_info["language_info"], default=str))'
)


# -- nbformat, typed -------------------------------------------------------------------------


def _from_msg(msg_type: str, content: dict[str, Any]) -> NotebookNode:
    """Build an output with nbformat's ``output_from_msg``, as nbclient does."""
    msg = {"msg_type": msg_type, "header": {"msg_type": msg_type}, "content": content}
    output: NotebookNode = nbformat.v4.output_from_msg(msg)  # type: ignore[no-untyped-call]
    return output


def _node(value: dict[str, Any]) -> NotebookNode:
    node: NotebookNode = nbformat.from_dict(value)  # type: ignore[no-untyped-call]
    return node


def read_notebook(text: str) -> NotebookNode:
    """Read a notebook's JSON text as nbformat v4 (older versions are converted).

    Raises
    ------
    ValueError
        When the text is not a notebook nbformat can read.
    """
    try:
        nb: NotebookNode = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
    except (json.JSONDecodeError, nbformat.reader.NotJSONError) as err:
        raise ValueError(f"not a notebook (not JSON): {err}") from None
    except (KeyError, TypeError, AttributeError, nbformat.ValidationError) as err:
        raise ValueError(f"not a valid notebook: {err}") from None
    if not isinstance(nb.get("cells"), list):
        raise ValueError("not a valid notebook: it has no cells")
    return nb


def write_notebook(nb: NotebookNode, path: Path) -> None:
    """Validate ``nb`` against the nbformat v4 schema and write it (atomically) to ``path``.

    Raises
    ------
    nbformat.ValidationError
        When the notebook does not validate; nothing is written then.
    """
    nbformat.validate(nb)
    text = nbformat.writes(nb)  # type: ignore[no-untyped-call]
    write_file(path, str(text) + ("" if str(text).endswith("\n") else "\n"))


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it (no half-written file)."""
    directory = path.resolve().parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def is_percent_script(text: str) -> bool:
    """Return whether a Python script uses jupytext's percent cell markers (``# %%``)."""
    from jupytext.formats import guess_format  # type: ignore[import-untyped]

    guessed = guess_format(text, ".py")
    return bool(guessed and guessed[0] == "percent")


def read_percent_script(text: str) -> NotebookNode:
    """Read a percent-format script (``# %%`` cells) into a notebook with jupytext."""
    import jupytext  # type: ignore[import-untyped]

    nb: NotebookNode = jupytext.reads(text, fmt="py:percent")
    nb = nbformat.from_dict(nb)  # type: ignore[no-untyped-call]
    # jupytext keeps its own cell metadata; a notebook written from it is nbformat 4.5
    nb.nbformat, nb.nbformat_minor = 4, max(int(nb.get("nbformat_minor", 4)), 4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    return nb


def timing_stamp(ts: str) -> str:
    """Turn a gateway ``ts`` (``…T12:00:00.123Z``) into nbclient's ``…T12:00:00.123000Z``."""
    try:
        moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return ts
    return moment.strftime(TIMING_FORMAT)


def bundle(item: JSONDict) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the MIME bundle and metadata of a display OutputItem.

    A multi-type bundle is sent whole (``data``/``metadata``); a single-type one as
    ``type``/``content`` (JSON types as JSON text), with an image's ``width``/``height``,
    which come back as per-type metadata.
    """
    data = item.get("data")
    if isinstance(data, dict):
        metadata = item.get("metadata")
        return dict(data), dict(metadata) if isinstance(metadata, dict) else {}
    mime = str(item.get("type", "text/plain"))
    content: Any = item.get("content", "")
    if mime == "application/json" or mime.endswith(_JSON_SUFFIX):
        with contextlib.suppress(ValueError):
            content = json.loads(str(content))
    size = {key: item[key] for key in ("width", "height") if isinstance(item.get(key), int)}
    return {mime: content}, ({mime: size} if size else {})


def _is_gateway_error(item: JSONDict) -> bool:
    return (
        item.get("type") == "error"
        and not item.get("traceback")
        and item.get("ename") in GATEWAY_ERRORS
    )


# -- events → outputs ------------------------------------------------------------------------


class NotebookForm(NbformatForm):
    """Output area entries as nbformat builds them (``output_from_msg``), with their display ids.

    nbformat does not store a display id in an output; the form remembers which outputs
    it built with one.
    """

    def __init__(self) -> None:
        self._ids: dict[int, tuple[NotebookNode, str]] = {}

    def tag(self, output: NotebookNode, display_id: str | None) -> None:
        """Remember that ``output`` shows ``display_id`` (an update changes it)."""
        if display_id is not None:
            self._ids[id(output)] = (output, display_id)

    def display_id(self, entry: JSONDict) -> str | None:
        found = self._ids.get(id(entry))
        return found[1] if found is not None and found[0] is entry else None

    def new_stream(self, name: str, text: str) -> JSONDict:
        return _from_msg("stream", {"name": name, "text": text})

    def from_item(self, item: JSONDict) -> JSONDict:
        data, meta = bundle(item)
        output = _from_msg("display_data", {"data": data, "metadata": meta})
        display_id = item.get("displayId")
        self.tag(output, None if display_id is None else str(display_id))
        return output

    def updated(self, entry: JSONDict, item: JSONDict) -> JSONDict:
        # as nbclient: the output keeps its type (an execute_result stays one), its bundle changes
        data, meta = bundle(item)
        entry["data"] = _node(data)
        entry["metadata"] = _node(meta)
        return entry


class OutputRecorder:
    """Write gateway events into the outputs of a notebook's cells, as nbclient would.

    Call :meth:`begin` when a cell starts, then :meth:`feed` every event of its execution.
    Each cell's outputs are an output area (outputs.py) of nbformat outputs, one per stream
    message as nbclient writes them. As in nbclient, a display (or update) with a display
    id changes every earlier output with that id, in any cell; ``clear_output`` empties the
    cell (``wait``: when its next output arrives), and its outputs are no longer updated.
    The ``execute_result`` and ``error`` outputs, which the protocol sends only in the
    ``result`` event, are placed where that result's ordered output has them, each known
    by its item's ``outputType``.

    Parameters
    ----------
    nb : NotebookNode
        The notebook whose cells are written.
    record_timing : bool, optional
        Write ``metadata.execution`` timestamps (nbclient's ``record_timing``).
    """

    def __init__(self, nb: NotebookNode, *, record_timing: bool = True) -> None:
        self.nb = nb
        self.record_timing = record_timing
        self.cell_index: int | None = None
        #: The gateway-made error item of the last result (why the cell stopped), if any.
        self.stop_error: JSONDict | None = None
        self._form = NotebookForm()
        self._areas: dict[int, OutputArea[JSONDict]] = {}

    def begin(self, cell_index: int, ts: str | None = None) -> None:
        """Start recording cell ``cell_index``: its outputs and timings are reset."""
        cell = self.nb.cells[cell_index]
        self.cell_index = cell_index
        self.stop_error = None
        cell.outputs = []
        self._areas[cell_index] = OutputArea(self._form, cell.outputs, merge_streams=False)
        cell.execution_count = None
        if self.record_timing:
            cell.metadata["execution"] = {}
            if ts:
                self._time("iopub.status.busy", ts)

    def feed(self, event: JSONDict, execution_count: int | None = None) -> None:
        """Apply one event of the current cell's execution.

        Parameters
        ----------
        event : dict
            A gateway event (``running``, ``stream``, ``display``, ``clear``, ``result``;
            others are ignored).
        execution_count : int, optional
            For a ``result``: the count to give the cell (nbclient counts executed cells
            itself); by default the kernel's.
        """
        if self.cell_index is None:
            return
        kind = event.get("type")
        if kind == "running":
            self._time("iopub.execute_input", event.get("ts"))
        elif kind == "stream":
            self._area.stream(str(event.get("name", "stdout")), str(event.get("text", "")))
        elif kind == "display":
            self._display(event)
        elif kind == "clear":
            self._area.clear(bool(event.get("wait")))
        elif kind == "result":
            self._result(event, execution_count)

    # -- timing

    def _time(self, key: str, ts: Any) -> None:
        if self.record_timing and self.cell_index is not None and isinstance(ts, str):
            execution = self.nb.cells[self.cell_index].metadata.setdefault("execution", {})
            execution[key] = timing_stamp(ts)

    # -- outputs

    @property
    def _area(self) -> OutputArea[JSONDict]:
        assert self.cell_index is not None
        return self._areas[self.cell_index]

    def _update_displays(self, display_id: str, item: JSONDict) -> None:
        """Update every output with ``display_id``, in every cell (nbclient's display id map)."""
        for area in self._areas.values():
            area.update(display_id, item)

    def _display(self, event: JSONDict) -> None:
        item = event.get("output")
        if not isinstance(item, dict):
            return
        display_id = event.get("displayId") or item.get("displayId")
        if display_id is not None:
            self._update_displays(str(display_id), item)
        if event.get("update"):
            return
        self._area.add(self._form.from_item({**item, "displayId": display_id}))

    def _result(self, event: JSONDict, execution_count: int | None) -> None:
        cell = self.nb.cells[self.cell_index]
        kernel_count = event.get("executionCount")
        items = [item for item in event.get("output") or [] if isinstance(item, dict)]
        stops = [item for item in items if _is_gateway_error(item)]
        self.stop_error = stops[-1] if stops else None
        items = [item for item in items if not _is_gateway_error(item)]
        self._area.entries[:] = self._reconcile(items, kernel_count)
        if kernel_count is not None:
            cell.execution_count = execution_count if execution_count is not None else kernel_count
        self._time("shell.execute_reply", event.get("ts"))
        self._time("iopub.status.idle", event.get("ts"))

    def _reconcile(self, items: list[JSONDict], kernel_count: Any) -> list[JSONDict]:
        """Merge the result's ordered output with the live outputs.

        The live outputs are kept (one per stream message, as nbclient has them); the
        ``execute_result`` and ``error`` outputs, known only from the result, are put in
        their place (a pending ``clear_output(wait=True)`` is applied before them: they
        came after it).
        """
        area = self._area
        if any(output_type(item) in ("execute_result", "error") for item in items):
            area.before_output()
        live = list(area.entries)
        outputs: list[JSONDict] = []
        position = 0
        for item in items:
            kind = output_type(item)
            if kind == "stream":
                name = str(item.get("type"))
                matched = False
                while position < len(live) and self._form.stream_name(live[position]) == name:
                    outputs.append(live[position])
                    position += 1
                    matched = True
                if not matched:
                    outputs.append(self._form.new_stream(name, str(item.get("content", ""))))
            elif kind == "error":
                content = {
                    "ename": str(item.get("ename", "")),
                    "evalue": str(item.get("evalue", "")),
                    "traceback": [str(line) for line in item.get("traceback") or []],
                }
                outputs.append(_from_msg("error", content))
            elif kind == "execute_result":
                outputs.append(self._execute_result(item, kernel_count))
            elif position < len(live) and live[position].get("output_type") == "display_data":
                outputs.append(live[position])
                position += 1
            else:  # a display the live events missed
                outputs.append(self._form.from_item(item))
        outputs.extend(live[position:])
        return outputs

    def _execute_result(self, item: JSONDict, kernel_count: Any) -> NotebookNode:
        data, meta = bundle(item)
        count = kernel_count if isinstance(kernel_count, int) else None
        display_id = item.get("displayId")
        if display_id is not None:
            self._update_displays(str(display_id), item)
        output = _from_msg(
            "execute_result", {"data": data, "metadata": meta, "execution_count": count}
        )
        self._form.tag(output, None if display_id is None else str(display_id))
        return output


# -- running a notebook ------------------------------------------------------------------------


@dataclass(frozen=True)
class NotebookOptions:
    """How a notebook runs: nbclient's options of the same names.

    Attributes
    ----------
    allow_errors : bool
        An error in a cell does not stop the run (without it, only cells tagged
        ``raises-exception`` may raise).
    timeout : float or None
        Seconds each cell may run (None: the gateway's ``execution_timeout``; 0: no limit).
    interrupt_on_timeout : bool
        A cell that times out is interrupted and its ``KeyboardInterrupt`` counts as the
        cell's error; without it a timeout fails the run.
    record_timing : bool
        Write each cell's ``metadata.execution`` timestamps.
    """

    allow_errors: bool = False
    timeout: float | None = None
    interrupt_on_timeout: bool = False
    record_timing: bool = True


@dataclass(frozen=True)
class CellFailure:
    """Why a notebook run stopped at a cell.

    Attributes
    ----------
    kind : {"error", "timeout", "kernel-died", "cancelled"}
        An error the run does not allow, a timeout, a dead kernel, or a cancel (Ctrl-C).
    cell_index : int
        The 0-based index of the cell in the notebook.
    message : str
        A sentence for a person.
    traceback : str
        The error's traceback without colours (kind ``"error"``), else empty.
    """

    kind: Literal["error", "timeout", "kernel-died", "cancelled"]
    cell_index: int
    message: str
    traceback: str = ""


@dataclass
class NotebookRun:
    """A notebook after a run: the cells executed and the failure that stopped it, if any."""

    nb: NotebookNode
    cells_executed: int = 0
    failure: CellFailure | None = None
    duration: float = 0.0


async def probe_language_info(channel: ChannelConnection) -> dict[str, Any] | None:
    """Return the kernel's ``kernel_info`` ``language_info``, or None if it cannot be read.

    The protocol has no ``kernel_info`` request; an IPython kernel prints its own
    ``kernel.kernel_info["language_info"]`` for a one-line cell run with
    ``storeHistory: false`` (no execution count, no history entry, no ``_``).
    """
    frame = execute_frame(
        _LANGUAGE_INFO_PROBE,
        script_name="language_info",
        execution_id=f"language-info-{uuid.uuid4().hex}",
        mode="cell",
        storeHistory=False,
        allowErrors=True,
    )
    printed = []
    status = None

    async def probe() -> None:
        nonlocal status
        async for event in execution_events(channel, frame):
            if event.get("type") == "stream" and event.get("name") == "stdout":
                printed.append(str(event.get("text", "")))
            elif event.get("type") == "complete":
                status = event.get("status")

    await asyncio.wait_for(probe(), PROBE_TIMEOUT)
    if status != "ok":
        return None
    try:
        info = json.loads("".join(printed))
    except ValueError:
        return None
    return info if isinstance(info, dict) and "name" in info else None


async def prepare_kernel(
    channel: ChannelConnection, settle: float = KERNEL_SETTLE
) -> dict[str, Any] | None:
    """Wait for the session's kernel, let it settle, and return its ``language_info``.

    Parameters
    ----------
    channel : ChannelConnection
        A connected channel of the session.
    settle : float, optional
        Seconds to wait once the kernel has answered (see ``KERNEL_SETTLE``).
    """
    info = await probe_language_info(channel)
    if settle > 0:
        await asyncio.sleep(settle)
    return info


async def describe_kernel(
    channel: ChannelConnection,
    nb: NotebookNode,
    kernel_name: str | None,
    *,
    probe: bool,
    kernelspec: bool,
) -> None:
    """Fill a notebook's ``kernelspec`` (with ``kernelspec``) and ``language_info`` metadata.

    With ``probe``, the kernel's own ``language_info`` is read (``prepare_kernel``, which
    also waits for the kernel to settle); failing that, the kernel spec's language is used.
    """
    spec = await channel.kernelspec(kernel_name)
    metadata = nb.setdefault("metadata", {})
    if kernelspec and spec is not None and not metadata.get("kernelspec"):
        metadata["kernelspec"] = spec
    info = await prepare_kernel(channel) if probe else metadata.get("language_info")
    if not info and spec is not None and spec.get("language"):
        info = {"name": spec["language"]}
    if info:
        metadata["language_info"] = info


def _tags(cell: NotebookNode) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def _first_error(cell: NotebookNode) -> NotebookNode | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            found: NotebookNode = output
            return found
    return None


async def run_notebook(
    channel: ChannelConnection,
    nb: NotebookNode,
    options: NotebookOptions,
    *,
    name: str = "notebook",
    on_event: Callable[[int, JSONDict], None] | None = None,
    cancel: asyncio.Event | None = None,
    settle: float = KERNEL_SETTLE,
) -> NotebookRun:
    """Run every code cell of ``nb`` through the gateway, in cell mode, writing its outputs.

    Cells run in order, each as one ``execute`` (``mode: "cell"``); empty cells and
    cells tagged ``skip-execution`` are left as they are. A cell's ``execution_count`` is
    the number of code cells sent so far, as nbclient counts. The run stops at the first
    error that neither ``allow_errors`` nor a ``raises-exception`` tag allows, at a
    timeout (unless ``interrupt_on_timeout``), at a dead kernel, or at a cancel; ``nb``
    then holds the outputs so far.

    Parameters
    ----------
    channel : ChannelConnection
        A connected channel of the session to run in.
    nb : NotebookNode
        The notebook, changed in place.
    options : NotebookOptions
        Errors, timeout and timing.
    name : str, optional
        The ``scriptName`` of the executions (each gets `` [cell N]``).
    on_event : callable, optional
        Called with the cell index and every event of its execution.
    cancel : asyncio.Event, optional
        When set, the running cell is cancelled and the run stops.
    settle : float, optional
        Seconds to leave the kernel alone before the first cell (``prepare_kernel``).

    Raises
    ------
    RunFailure
        The gateway refused a request or the connection closed.
    """
    started = time.monotonic()
    run = NotebookRun(nb)
    info = await prepare_kernel(channel, settle)
    if info is not None:
        nb.setdefault("metadata", {})["language_info"] = info
    recorder = OutputRecorder(nb, record_timing=options.record_timing)
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not str(cell.get("source", "")).strip():
            continue
        tags = _tags(cell)
        if SKIP_EXECUTION_TAG in tags:
            continue
        if cancel is not None and cancel.is_set():
            run.failure = CellFailure("cancelled", index, "the run was cancelled")
            break
        allows_errors = options.allow_errors or RAISES_EXCEPTION_TAG in tags
        run.cells_executed += 1
        frame = execute_frame(
            str(cell.source),
            script_name=f"{name} [cell {index + 1}]",
            execution_id=uuid.uuid4().hex,
            timeout=options.timeout,
            mode="cell",
            allowErrors=allows_errors,
            storeHistory=True,
        )
        recorder.begin(index)
        status = None
        async for event in execution_events(channel, frame, cancel):
            if event.get("type") == "expressions":
                recorder.begin(index, event.get("ts"))
            recorder.feed(event, run.cells_executed)
            if on_event is not None:
                on_event(index, event)
            if event.get("type") == "complete":
                status = str(event.get("status"))
        run.failure = _failure(status, index, cell, recorder.stop_error, options, allows_errors)
        if run.failure is not None:
            break
    run.duration = time.monotonic() - started
    return run


def _failure(
    status: str | None,
    index: int,
    cell: NotebookNode,
    stop_error: JSONDict | None,
    options: NotebookOptions,
    allows_errors: bool,
) -> CellFailure | None:
    where = f"cell {index + 1}"
    if status == "ok":
        return None
    if status == "kernel-died":
        return CellFailure("kernel-died", index, f"the kernel died while running {where}")
    if status == "cancelled":
        return CellFailure("cancelled", index, f"cancelled while running {where}")
    error = _first_error(cell)
    if status == "timeout":
        limit = f"{options.timeout:g} s" if options.timeout else "the gateway's execution_timeout"
        if not options.interrupt_on_timeout:
            # nbclient without interrupt_on_timeout: the cell holds its output so far only
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
            return CellFailure(
                "timeout",
                index,
                f"{where} timed out after {limit} (with --interrupt-on-timeout it is "
                "interrupted and the run goes on as after an error)",
            )
        if stop_error is not None or error is None:
            return CellFailure(
                "timeout",
                index,
                f"{where} timed out after {limit} and did not stop when interrupted: "
                "the kernel was restarted",
            )
    if status in ("error", "timeout"):
        if allows_errors:
            return None
        if error is None:
            return CellFailure("error", index, f"{where} failed")
        ename, evalue = str(error.get("ename", "")), str(error.get("evalue", ""))
        traceback = strip_ansi("\n".join(str(line) for line in error.get("traceback", [])))
        return CellFailure("error", index, f"{where} raised {ename}: {evalue}", traceback)
    return CellFailure("error", index, f"{where} ended with status {status!r}")


# -- a script as a notebook --------------------------------------------------------------------


class ScriptRecorder:
    """Build a notebook from one ``statements``-mode execution of a script.

    Each top-level statement becomes a code cell with its outputs, a lone string a
    markdown cell. The code of a cell is what the kernel ran: the statement's lines
    (a lone f-string: the code that displays it as markdown), with the comment lines
    just above it. Lines between statements are also kept as ``text`` blocks for the page.

    Parameters
    ----------
    source : str
        The script.
    statements : sequence of Statement
        The script's statements, as the gateway splits it (``split_script``).
    """

    def __init__(self, source: str, statements: Sequence[Statement]) -> None:
        self.source = source
        self.lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.statements = list(statements)
        #: Code cells the kernel ran, which is also the last execution count given.
        self.cells_executed = 0
        self._current: int | None = None
        self._build(self.statements)

    def _build(self, statements: list[Statement]) -> None:
        lines = self.lines
        nb: NotebookNode = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
        blocks: list[Block] = []
        cell_of: dict[int, int] = {}
        pending: list[str] = []  # comment lines waiting for the next code cell
        cursor = 1
        for statement in statements:
            start, end = statement.line_start, statement.line_end
            if statement.kind == "syntax-error":
                start, end = 1, max(len(lines), 1)
            if cursor < start:
                gap = lines[cursor - 1 : start - 1]
                blocks.append(Block("text", cursor, gap))
                # only the comments just above (a --lines run leaves other code in the gap)
                comments = _comment_run(gap[::-1])[::-1]
                pending = comments if len(comments) < len(gap) else pending + gap
            own = lines[start - 1 : end]
            index = len(nb.cells)
            if statement.kind == "markdown":
                cell = nbformat.v4.new_markdown_cell(statement.markdown)  # type: ignore[no-untyped-call]
                blocks.append(Block("markdown", start, own, index))
                if _has_text(pending) and _attach_after(nb, pending):
                    pending = []
            else:
                code = statement.code if statement.fstring else "\n".join(own)
                if _has_text(pending) and not code.lstrip().startswith("%%"):
                    code = _trimmed(pending) + "\n" + code
                pending = []
                cell = nbformat.v4.new_code_cell(code)  # type: ignore[no-untyped-call]
                blocks.append(Block("code", start, own, index))
            cell_of[statement.index] = index
            nb.cells.append(cell)
            cursor = end + 1
        if cursor <= len(lines):
            tail = lines[cursor - 1 :]
            blocks.append(Block("text", cursor, tail))
            if len(_comment_run(tail)) == len(tail):  # not the code a --lines run left out
                pending += tail
        if _has_text(pending):
            _attach_after(nb, pending)
        self.nb = nb
        self.blocks = blocks
        self._cell_of = cell_of
        self._recorder = OutputRecorder(nb)

    def feed(self, event: JSONDict) -> None:
        """Record one event of the script's execution."""
        kind = event.get("type")
        if kind == "expressions":
            self._check_expressions(event.get("expressions") or [])
            return
        index = event.get("index")
        cell_index = self._cell_of.get(index) if isinstance(index, int) else None
        if cell_index is None or self.nb.cells[cell_index].cell_type != "code":
            return
        if kind == "running":
            self._current = cell_index
            self._recorder.begin(cell_index, event.get("ts"))
        if self._current != cell_index:
            return
        count = None
        if kind == "result" and event.get("executionCount") is not None:
            self.cells_executed += 1
            count = self.cells_executed
        self._recorder.feed(event, count)

    def _check_expressions(self, expressions: list[JSONDict]) -> None:
        """Rebuild the cells from the gateway's statements if they differ from the local split."""
        spans = [(e.get("lineStart"), e.get("lineEnd")) for e in expressions]
        if spans == [(s.line_start, s.line_end) for s in self.statements]:
            return
        rebuilt = [
            Statement(
                int(e["index"]),
                int(e["lineStart"]),
                int(e["lineEnd"]),
                "code",
                code="\n".join(self.lines[int(e["lineStart"]) - 1 : int(e["lineEnd"])]),
            )
            for e in expressions
        ]
        self._build(rebuilt)


def _comment_run(lines: list[str]) -> list[str]:
    """Return the leading lines that are comments or blank."""
    run: list[str] = []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            break
        run.append(line)
    return run


def _has_text(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


def _trimmed(lines: list[str]) -> str:
    """Join lines without the blank lines at either end."""
    first = next(i for i, line in enumerate(lines) if line.strip())
    last = max(i for i, line in enumerate(lines) if line.strip())
    return "\n".join(lines[first : last + 1])


def _attach_after(nb: NotebookNode, lines: list[str]) -> bool:
    """Append comment lines to the last code cell (not to a ``%%`` cell magic's body)."""
    for cell in reversed(nb.cells):
        if cell.cell_type == "code":
            if str(cell.source).lstrip().startswith("%%"):
                return False
            cell.source = str(cell.source) + "\n" + _trimmed(lines)
            return True
    return False


# -- the private gateway's kernels ----------------------------------------------------------------


class NotebookKernelManager(AsyncMappingKernelManager):
    """A kernel manager that starts IPython kernels with an in-memory history, as nbclient does.

    nbclient passes ``--HistoryManager.hist_file=:memory:`` to every ipykernel it starts
    (its ``ipython_hist_file``), so a run neither reads nor writes the user's history
    database. The private gateway of ``pdit-gateway run`` uses this manager; a server of
    your own can too (``--ServerApp.kernel_manager_class=``), or give its kernelspec's
    ``argv`` the same argument.
    """

    ipython_hist_file = Unicode(
        ":memory:",
        config=True,
        help="The SQLite history file of IPython kernels (':memory:' keeps no file; "
        "'' leaves the kernel's own setting).",
    )

    def pre_start_kernel(self, kernel_name: str | None, kwargs: Any) -> Any:
        """Add ``--HistoryManager.hist_file`` to an ipykernel's arguments."""
        started = super().pre_start_kernel(kernel_name, kwargs)
        km = started[0]
        extra = [str(argument) for argument in kwargs.get("extra_arguments") or []]
        given = any(argument.startswith("--HistoryManager.hist_file") for argument in extra)
        if self.ipython_hist_file and getattr(km, "ipykernel", False) and not given:
            kwargs["extra_arguments"] = [
                *extra,
                f"--HistoryManager.hist_file={self.ipython_hist_file}",
            ]
        return started
