"""The notebook recorder: gateway events in, the outputs nbclient writes for the same messages out.

Each case is a list of cells, each a list of iopub messages as a kernel sends them. The
messages go through the gateway's own translation (``StatementOutput``, fed the way the
runner feeds it in cell mode) into :class:`OutputRecorder`, and through nbclient's
``process_message`` into a second notebook; both notebooks must come out the same.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kernel_messages import msg, stream
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from nbformat.v4 import new_code_cell, new_notebook

from pdit_gateway.events import StatementOutput, error_item, output_item
from pdit_gateway.notebook import OutputRecorder, bundle, timing_stamp

Msg = dict[str, Any]


def display(
    data: Any, display_id: str | None = None, *, update: bool = False, metadata: Any = None
) -> Msg:
    bundle_ = data if isinstance(data, dict) else {"text/plain": data}
    transient = {"display_id": display_id} if display_id is not None else {}
    kind = "update_display_data" if update else "display_data"
    return msg(kind, data=bundle_, metadata=metadata or {}, transient=transient)


def result(data: Any, count: int, display_id: str | None = None) -> Msg:
    bundle_ = data if isinstance(data, dict) else {"text/plain": data}
    transient = {"display_id": display_id} if display_id is not None else {}
    return msg(
        "execute_result", data=bundle_, metadata={}, execution_count=count, transient=transient
    )


def clear(wait: bool = False) -> Msg:
    return msg("clear_output", wait=wait)


def error(ename: str = "ValueError", evalue: str = "bad") -> Msg:
    return msg("error", ename=ename, evalue=evalue, traceback=["\x1b[31mTraceback\x1b[0m", "x"])


def gateway_events(messages: list[Msg], count: int) -> list[dict[str, Any]]:
    """The events the gateway sends for one cell-mode execution of these messages."""
    out = StatementOutput()
    events: list[dict[str, Any]] = [
        {"type": "expressions", "ts": "2024-01-02T03:04:05.100Z"},
        {"type": "running", "ts": "2024-01-02T03:04:05.200Z"},
    ]
    out.feed(msg("execute_input", code="", execution_count=count))
    for message in messages:
        events.extend(out.feed(message))
    events.extend(out.finish())
    events.append(
        {
            "type": "result",
            "output": out.output,
            "status": "error" if out.error else "ok",
            "executionCount": count,
            "ts": "2024-01-02T03:04:05.300Z",
        }
    )
    return events


def through_recorder(cells: list[list[Msg]]) -> Any:
    nb = new_notebook(cells=[new_code_cell(f"cell {i}") for i in range(len(cells))])
    recorder = OutputRecorder(nb)
    for index, messages in enumerate(cells):
        recorder.begin(index)
        for event in gateway_events(messages, index + 1):
            if event["type"] == "expressions":
                recorder.begin(index, event["ts"])
            recorder.feed(event, index + 1)
    return nb


def through_nbclient(cells: list[list[Msg]]) -> Any:
    nb = new_notebook(cells=[new_code_cell(f"cell {i}") for i in range(len(cells))])
    client = NotebookClient(nb, record_timing=False)
    for index, messages in enumerate(cells):
        cell = nb.cells[index]
        cell.outputs = []
        client.clear_before_next_output = False
        for message in [msg("execute_input", execution_count=index + 1), *messages]:
            client.process_message(copy.deepcopy(message), cell, index)
        with pytest.raises(CellExecutionComplete):
            client.process_message(msg("status", execution_state="idle"), cell, index)
        cell.execution_count = index + 1
    return nb


def outputs(nb: Any) -> list[list[dict[str, Any]]]:
    return [[dict(output) for output in cell.outputs] for cell in nb.cells]


CASES: dict[str, list[list[Msg]]] = {
    "streams and a result": [
        [stream("a"), stream("b"), stream("e", "stderr"), stream("c"), result("1", 1)],
    ],
    "displays then the result": [
        [
            display("d1"),
            stream("s"),
            display({"text/plain": "p", "text/html": "<b>h</b>"}),
            result("r", 1),
        ],
    ],
    "output after the result": [[display("d"), result("r", 1), stream("late")]],
    "a result equal to an earlier display": [[display("same"), result("same", 1)]],
    "an error after output": [[stream("before"), display("shown"), error()]],
    "clear now and clear on next output": [
        [stream("gone"), clear(), stream("kept")],
        [stream("waits"), clear(wait=True), stream("replaced")],
        [display("stays"), clear(wait=True)],
        [stream("x"), clear(wait=True), clear(wait=True), display("y")],
        [clear(wait=True), result("cleared before the result", 5)],
    ],
    "display ids across cells": [
        [display("a", "here"), display("x", "there")],
        [display("b", "here")],
        [display("c", "here", update=True), stream("s")],
        [result("r", 4, "res"), display("d", "here", update=True)],
        [display("r2", "res", update=True), display("t", "there", update=True)],
    ],
    "clear forgets the cell's display ids": [
        [display("a", "gone"), clear()],
        [display("b", "late"), clear(wait=True), stream("after")],
        [display("never", "gone", update=True), display("never", "late", update=True)],
    ],
    "an update of an unknown id": [[display("u", "nobody", update=True), stream("s")]],
    "rich bundles and metadata": [
        [
            display(
                {"image/png": "iVBORw0KGgo=", "text/plain": "<Image>"},
                metadata={"image/png": {"width": 30, "height": 20}},
            ),
            display({"application/json": {"a": [1, None]}, "text/plain": "{'a': [1, None]}"}),
            display({"text/markdown": "*m*", "text/plain": "m"}, metadata={"isolated": True}),
            result({"text/html": "<i>r</i>", "text/plain": "r"}, 1),
        ],
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_recorder_writes_what_nbclient_writes(case):
    cells = CASES[case]
    ours, theirs = through_recorder(cells), through_nbclient(cells)
    assert outputs(ours) == outputs(theirs)
    assert [c.execution_count for c in ours.cells] == [c.execution_count for c in theirs.cells]


def test_recorder_times_the_cell_from_the_events():
    nb = through_recorder([[stream("x")]])
    assert nb.cells[0].metadata.execution == {
        "iopub.status.busy": "2024-01-02T03:04:05.100000Z",
        "iopub.execute_input": "2024-01-02T03:04:05.200000Z",
        "shell.execute_reply": "2024-01-02T03:04:05.300000Z",
        "iopub.status.idle": "2024-01-02T03:04:05.300000Z",
    }


def test_recorder_counts_cells_itself():
    nb = new_notebook(cells=[new_code_cell("1")])
    recorder = OutputRecorder(nb)
    recorder.begin(0)
    for event in gateway_events([result("1", 41)], 41):
        recorder.feed(event, 1)
    assert nb.cells[0].execution_count == 1  # the client's count for the cell
    assert nb.cells[0].outputs[0].execution_count == 41  # the kernel's, as nbclient keeps it


def test_gateway_errors_are_not_outputs():
    nb = new_notebook(cells=[new_code_cell("while True: pass")])
    recorder = OutputRecorder(nb)
    recorder.begin(0)
    recorder.feed({"type": "stream", "name": "stdout", "text": "so far"}, 1)
    stop = error_item("DeadKernelError", "the kernel died", [])
    items = [{"type": "stdout", "content": "so far"}, stop]
    recorder.feed({"type": "result", "output": items, "executionCount": 1, "status": "error"}, 1)
    assert [o.output_type for o in nb.cells[0].outputs] == ["stream"]
    assert recorder.stop_error == stop


def test_bundle_of_a_single_type():
    assert bundle(output_item({"application/json": {"a": 1}})) == (
        {"application/json": {"a": 1}},
        {},
    )
    image = output_item({"image/png": "P"}, {"image/png": {"width": 3, "height": 2}})
    assert bundle(image) == ({"image/png": "P"}, {"image/png": {"width": 3, "height": 2}})
    full = output_item({"text/plain": "p", "text/html": "h"}, {"x": 1})
    assert bundle(full) == ({"text/plain": "p", "text/html": "h"}, {"x": 1})


def test_timing_stamp():
    assert timing_stamp("2024-05-06T07:08:09.123Z") == "2024-05-06T07:08:09.123000Z"
    assert timing_stamp("not a time") == "not a time"
