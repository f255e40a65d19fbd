"""Notebooks through the gateway: nbclient's corpus, our own notebooks against nbclient, exports.

One standalone gateway serves the whole module (kernels started with ``COLUMNS=80 LINES=24
IPYKERNEL_CELL_NAME=<IPY-INPUT>`` and an in-memory IPython history, as nbclient's tests run
them); notebooks are run through it with :func:`pdit_gateway.notebook.run_notebook`, or with
``pdit-gateway run`` as a user would. Outputs are compared under :func:`normalize_output`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import html.parser
import json
import os
import re
import shutil
import struct
import sys
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import canonicalize

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from pdit_gateway.client import GatewayAddress, session_channel
from pdit_gateway.events import strip_ansi
from pdit_gateway.notebook import (
    NotebookOptions,
    NotebookRun,
    run_notebook,
)
from pdit_gateway.process import gateway_argv
from pdit_gateway.pytest_plugin import standalone_gateway

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "data" / "notebook-corpus"

#: The kernel environment of nbclient's own tests (see the corpus README).
KERNEL_ENV = {"COLUMNS": "80", "LINES": "24", "IPYKERNEL_CELL_NAME": "<IPY-INPUT>"}
#: Seconds for one CLI process to finish.
CLI_WAIT = 100.0
#: Seconds one notebook may take through the gateway or nbclient (kernel start included).
RUN_WAIT = 90.0


# -- normalization (nbclient's comparison, in our own words) -------------------------------------

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
# <ipython-input-1-9abc744909d9> in <module>  (old ipykernel)
_OLD_CELL_REF = re.compile(
    r"(<ipython-input-\d+-[0-9a-f]+>|<IPY-INPUT>) in (<module>|<cell line: \d+>\(\))"
)
# Cell In[1], line 5 / Input In [1], in <cell line: 2>()  (IPython 8 and later)
_NEW_CELL_REF = re.compile(
    r"((Cell|Input) In\s?\[\d+\]|<IPY-INPUT>), (in )?(line \d+|<cell line: \d+>\(\))"
)
_CELL_PLACEHOLDER = "<CELL>"


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def normalize_output(output: dict[str, Any], *, keep_metadata: bool = False) -> dict[str, Any]:
    """Return an output in the form two runs of one notebook are compared in.

    The output's metadata is dropped (unless ``keep_metadata``); ``0x…`` addresses in
    text become a placeholder; SVG is compared as parsed XML and base64 images as their
    bytes; tracebacks lose their colours and their cell references (``Cell In[n], line
    k``, ``<ipython-input-…>``), which name a count and a file that differ between runs.
    """
    output = copy.deepcopy(dict(output))
    if not keep_metadata:
        output.pop("metadata", None)
    if "text" in output:
        output["text"] = _ADDRESS.sub("<ADDRESS>", _text(output["text"]))
    data = output.get("data")
    if isinstance(data, dict):
        data = {mime: value for mime, value in data.items()}
        for mime, value in data.items():
            if mime == "text/plain":
                data[mime] = _ADDRESS.sub("<ADDRESS>", _text(value))
            elif mime == "image/svg+xml":
                # parsed XML: attribute order and layout whitespace do not count
                data[mime] = canonicalize(_text(value), strip_text=True)
            elif mime.startswith("image/"):
                data[mime] = base64.b64decode(_text(value))
            elif isinstance(value, list):
                data[mime] = _text(value)
        output["data"] = data
    if "traceback" in output:
        output["traceback"] = [
            _NEW_CELL_REF.sub(_CELL_PLACEHOLDER, _OLD_CELL_REF.sub(_CELL_PLACEHOLDER, line))
            for line in (strip_ansi(_text(line)) for line in output["traceback"])
        ]
    return output


def merge_streams(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join adjacent stream outputs of one name.

    How a kernel cuts a stream into messages depends on timing (its flush interval), so
    two runs of a cell that prints over time can differ there and nowhere else.
    """
    merged: list[dict[str, Any]] = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            last is not None
            and output.get("output_type") == "stream"
            and last.get("output_type") == "stream"
            and last.get("name") == output.get("name")
        ):
            last["text"] = _text(last["text"]) + _text(output["text"])
        else:
            merged.append(dict(output))
    return merged


def assert_same_cells(
    expected: Any,
    actual: Any,
    *,
    keep_metadata: bool = False,
    merged: bool = False,
    skip_tracebacks: bool = False,
) -> None:
    """Assert two notebooks have the same cells, outputs and execution counts."""
    assert len(expected.cells) == len(actual.cells)
    for index, (want, got) in enumerate(zip(expected.cells, actual.cells, strict=True)):
        assert want.cell_type == got.cell_type, index
        want_outputs = [dict(o) for o in want.get("outputs", [])]
        got_outputs = [dict(o) for o in got.get("outputs", [])]
        if merged:
            want_outputs, got_outputs = merge_streams(want_outputs), merge_streams(got_outputs)
        normal_want = [normalize_output(o, keep_metadata=keep_metadata) for o in want_outputs]
        normal_got = [normalize_output(o, keep_metadata=keep_metadata) for o in got_outputs]
        if skip_tracebacks:
            for output in (*normal_want, *normal_got):
                output.pop("traceback", None)
        assert normal_got == normal_want, f"cell {index}: {got.get('source')!r}"
        assert got.get("execution_count") == want.get("execution_count"), f"cell {index}"


def cleaned(nb: Any) -> Any:
    """Return a copy without outputs and execution counts (what nbclient's tests run)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def read_corpus(name: str) -> Any:
    return nbformat.read(CORPUS / f"{name}.ipynb", as_version=4)


# -- the module's gateway ---------------------------------------------------------------------


@dataclass(frozen=True)
class Gateway:
    """The standalone gateway of this module and the directory it serves."""

    url: str
    token: str
    root: Path
    log: Path

    @property
    def address(self) -> GatewayAddress:
        return GatewayAddress(self.url, self.token)


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "PDIT_"))}
    env.update(KERNEL_ENV)
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        PYTHONIOENCODING="utf-8",
    )
    return env


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One standalone gateway for the module, serving a copy of the corpus.

    Its kernel manager gives IPython kernels ``--HistoryManager.hist_file=:memory:`` (as
    nbclient does); its environment is nbclient's test environment.
    """
    assert CORPUS.is_dir(), f"the notebook corpus is missing: {CORPUS.resolve()}"
    base = tmp_path_factory.mktemp("notebooks")
    root = base / "root"
    shutil.copytree(CORPUS, root / "corpus")
    for path in (root / "corpus").rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)  # the corpus is read-only
    token = uuid.uuid4().hex
    argv = gateway_argv(
        token,
        f"--ServerApp.root_dir={root}",
        "--ServerApp.kernel_manager_class=pdit_gateway.notebook.NotebookKernelManager",
        "--PditGatewayApp.db_path=:memory:",
        "--PditGatewayApp.kernel_poll_interval=0.5",
    )
    log = base / "gateway.log"
    with standalone_gateway(argv, token, log, _environment(base / "home")) as port:
        yield Gateway(f"http://127.0.0.1:{port}/", token, root, log)


async def through_gateway(
    gateway: Gateway,
    nb: Any,
    *,
    path: str = "corpus/notebook.ipynb",
    **options: Any,
) -> NotebookRun:
    """Run ``nb`` (changed in place) in a fresh session whose kernel starts in ``path``'s dir."""

    async def run() -> NotebookRun:
        session_id = f"nb-{uuid.uuid4().hex[:12]}"
        async with session_channel(gateway.address, session_id, kernel="python3", path=path) as (
            channel,
            _,
        ):
            return await run_notebook(channel, nb, NotebookOptions(**options))

    return await asyncio.wait_for(run(), RUN_WAIT)


async def through_nbclient(nb: Any, cwd: Path, **options: Any) -> Any:
    """Run ``nb`` with nbclient in this process, in nbclient's test environment."""
    client = NotebookClient(
        nb, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}, **options
    )
    env = {**os.environ, **KERNEL_ENV}
    return await asyncio.wait_for(client.async_execute(env=env), RUN_WAIT)


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


async def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Finished:
    """Run ``python -m pdit_gateway run ARGS`` to its end (bounded)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pdit_gateway",
        "run",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env or {**os.environ, **KERNEL_ENV, "PYTHONIOENCODING": "utf-8"},
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), CLI_WAIT)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    assert process.returncode is not None
    return Finished(process.returncode, stdout.decode(), stderr.decode())


def url_args(gateway: Gateway) -> list[str]:
    return ["--url", gateway.url, "--token", gateway.token]


TIMING_KEYS = (
    "iopub.status.busy",
    "iopub.execute_input",
    "shell.execute_reply",
    "iopub.status.idle",
)


def assert_timed(nb: Any) -> None:
    """Every executed cell has nbclient's four timestamps, in order."""
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.execution_count is None:
            continue
        timing = cell.metadata["execution"]
        stamps = [datetime.strptime(timing[key], "%Y-%m-%dT%H:%M:%S.%fZ") for key in TIMING_KEYS]
        assert stamps == sorted(stamps), timing


# -- the corpus: stored outputs ------------------------------------------------------------------

STORED_ROWS: dict[str, dict[str, Any]] = {
    "HelloWorld": {},
    "Factorials": {},
    "Unicode": {},
    "UnicodePy3": {},
    "Empty Cell": {},
    "Clear Output": {},
    "update-display-id": {},
    "Inline Image": {},
    "SVG": {},
    "Other Comms": {},
    "Check History in Memory": {},
    "Skip Exceptions": {"allow_errors": True},
    "Skip Exceptions with Cell Tags": {},
    "Skip Execution with Cell Tag": {},
    "Interrupt": {"timeout": 3, "interrupt_on_timeout": True, "allow_errors": True},
}


@pytest.mark.parametrize("name", list(STORED_ROWS))
async def test_corpus_gives_the_stored_outputs(gateway, name):
    stored = read_corpus(name)
    nb = cleaned(stored)
    run = await through_gateway(gateway, nb, path=f"corpus/{name}.ipynb", **STORED_ROWS[name])
    assert run.failure is None, run.failure
    assert_same_cells(stored, nb)
    assert_timed(nb)
    nbformat.validate(nb)


async def test_corpus_skip_execution_cell_is_not_sent(gateway):
    nb = cleaned(read_corpus("Skip Execution with Cell Tag"))
    run = await through_gateway(gateway, nb)
    assert run.cells_executed == 1
    skipped = nb.cells[0]
    assert skipped.outputs == []
    assert skipped.execution_count is None
    assert "execution" not in skipped.metadata
    assert nb.cells[1].execution_count == 1  # the kernel never counted the skipped cell


async def test_corpus_disable_stdin_gives_stdin_not_implemented(gateway):
    nb = cleaned(read_corpus("Disable Stdin"))
    run = await through_gateway(gateway, nb, allow_errors=True)
    assert run.failure is None
    [output] = nb.cells[0].outputs
    assert output.output_type == "error"
    assert output.ename == "StdinNotImplementedError"
    assert nb.cells[0].execution_count == 1


async def test_corpus_sleep1s_records_timings(gateway):
    nb = cleaned(read_corpus("Sleep1s"))
    run = await through_gateway(gateway, nb)
    assert run.failure is None
    assert_timed(nb)

    def stamp(cell: int, key: str) -> datetime:
        return datetime.strptime(nb.cells[cell].metadata.execution[key], "%Y-%m-%dT%H:%M:%S.%fZ")

    def printed(cell: int) -> datetime:
        return datetime.strptime(nb.cells[cell].outputs[0].text, "%Y-%m-%dT%H:%M:%S.%fZ")

    # the sleeping cell ran for its second; what the kernel saw lies inside the cell's times
    assert (stamp(1, "iopub.status.idle") - stamp(1, "iopub.execute_input")).total_seconds() >= 1
    slack = 0.002  # gateway stamps have millisecond precision
    t0, t1 = printed(2), printed(3)
    assert (t0 - stamp(1, "iopub.status.busy")).total_seconds() >= -slack
    assert (stamp(1, "iopub.status.idle") - t1).total_seconds() >= -slack


# -- the corpus: the rows that must fail -------------------------------------------------------


async def test_corpus_error_fails_the_run(gateway, tmp_path):
    out = tmp_path / "out.ipynb"
    done = await run_cli(
        str(CORPUS / "Error.ipynb"), "-o", str(out), *url_args(gateway), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert "cell 1 raised ZeroDivisionError: division by zero" in done.stderr
    assert "Traceback (most recent call last)" not in done.stderr  # our message, not a crash
    written = nbformat.read(out, as_version=4)  # the partial notebook is written, and valid
    nbformat.validate(written)
    [error] = written.cells[0].outputs
    assert (error.ename, error.evalue) == ("ZeroDivisionError", "division by zero")


async def test_corpus_skip_exceptions_without_allow_errors_stops_at_the_error(gateway, tmp_path):
    out = tmp_path / "out.ipynb"
    source = CORPUS / "Skip Exceptions.ipynb"
    done = await run_cli(str(source), "-o", str(out), *url_args(gateway), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "cell 1 raised Exception: message" in done.stderr
    written = nbformat.read(out, as_version=4)
    assert written.cells[0].outputs[-1].ename == "Exception"
    assert written.cells[0].execution_count == 1
    # the next cell never ran: it is as it was in the file
    assert written.cells[1] == read_corpus("Skip Exceptions").cells[1]


async def test_corpus_interrupt_without_interrupt_on_timeout_is_a_timeout(gateway, tmp_path):
    out = tmp_path / "out.ipynb"
    source = CORPUS / "Interrupt.ipynb"
    done = await run_cli(
        str(source), "-o", str(out), "--timeout", "1", *url_args(gateway), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert "cell 1 timed out after 1 s" in done.stderr
    written = nbformat.read(out, as_version=4)
    assert written.cells[0].outputs == []  # what the cell printed before its deadline: nothing
    assert written.cells[1] == read_corpus("Interrupt").cells[1]  # never ran


async def test_corpus_autokill_reports_a_dead_kernel(gateway, tmp_path):
    out = tmp_path / "out.ipynb"
    source = CORPUS / "Autokill.ipynb"
    done = await run_cli(str(source), "-o", str(out), *url_args(gateway), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "the kernel died while running cell 1" in done.stderr
    written = nbformat.read(out, as_version=4)
    nbformat.validate(written)
    assert written.cells[0].outputs == []


async def test_private_gateway_runs_a_notebook_like_nbclient(tmp_path):
    """No --url: the CLI's own gateway, the kernel in the notebook's directory, no history file."""
    shutil.copy(CORPUS / "python.png", tmp_path / "python.png")
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [
        new_markdown_cell("A notebook for the CLI's private gateway."),
        new_code_cell("from IPython.display import Image\nImage('python.png')"),
        new_code_cell("get_ipython().history_manager.hist_file"),
        new_code_cell(""),
        new_code_cell(f"import os\nprint(os.path.basename(os.getcwd()) == {tmp_path.name!r})"),
    ]
    source = tmp_path / "private.ipynb"
    nbformat.write(nb, source)
    out = tmp_path / "out.ipynb"
    done = await run_cli(str(source), "--output", str(out), cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "ok: 3 cells in" in done.stderr
    written = nbformat.read(out, as_version=4)
    nbformat.validate(written)
    image, history, empty, cwd = written.cells[1:]
    assert image.outputs[0].output_type == "execute_result"
    assert (
        base64.b64decode(image.outputs[0].data["image/png"]) == (CORPUS / "python.png").read_bytes()
    )
    assert history.outputs[0].data["text/plain"] == "':memory:'"
    assert empty.execution_count is None and empty.outputs == []
    assert cwd.outputs[0].text == "True\n"
    assert [image.execution_count, history.execution_count, cwd.execution_count] == [1, 2, 3]
    assert written.metadata.language_info["name"] == "python"
    assert_timed(written)


# -- our own notebooks, against nbclient -----------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    """A valid PNG of one grey colour."""
    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


OWN_NOTEBOOKS: dict[str, tuple[list[str], dict[str, Any]]] = {
    "rich displays": (
        [
            "from IPython.display import HTML, JSON, SVG, Image, Latex, Markdown, display\n"
            "import base64",
            "HTML('<b>bold</b> <i>text</i>')",
            "display(Markdown('# Title\\n\\n*emphasis*'), Latex(r'$\\alpha^2$'))",
            "JSON({'a': [1, 2, {'b': None}], 'ü': 'ñ'}, expanded=True)",
            f"Image(data=base64.b64decode({base64.b64encode(_png(3, 2)).decode()!r}), width=30)",
            'SVG(\'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            '<rect width="10" height="10" fill="red"/></svg>\')',
            "display({'text/plain': 'raw', 'text/html': '<p>raw</p>'}, raw=True,"
            " metadata={'text/html': {'isolated': True}})",
            "class Rich:\n"
            "    def _repr_html_(self):\n        return '<em>rich</em>'\n"
            "    def _repr_markdown_(self):\n        return '*rich*'\n"
            "Rich()",
            "1\n2",
            "3;",
            "x = 4\nx",
            "_ + 1",
            "Out[max(Out)]",
            "%pwd",
            "print(In[1][:4])",
        ],
        {},
    ),
    "clear and update display": (
        [
            "from IPython.display import clear_output, display, update_display",
            "h = display('first', display_id=True)\nprint('after')",
            "h.update('first, updated from cell 3')",
            "display('a', display_id='shared')\ndisplay('b', display_id='shared')",
            "update_display('shared, updated', display_id='shared')",
            "print('gone')\nclear_output()\nprint('kept')",
            "print('waits', end='')\nclear_output(wait=True)\nprint('replaced')",
            "display('kept: nothing follows', display_id='late')\nclear_output(wait=True)",
            "update_display('updated after a pending clear', display_id='late')",
            "display('in a cleared cell', display_id='cleared')\nclear_output()",
            "update_display('must not appear', display_id='cleared')",
            "import IPython.display as d\nr = d.DisplayHandle('res')\n"
            "r.display('execute_result-like display')\n'the result'",
            "r.update('updated across cells')",
            "for i in range(3):\n    clear_output(wait=True)\n    print(i)",
        ],
        {},
    ),
    "unicode": (
        [
            "print('☃ ünïcödé 日本語 🐍 e\\u0301')",
            "'ascii: \\x00\\x7f, bidi: \\u202e, emoji: 🎉'",
            "import sys\nprint('stderr: ß∂ƒ©', file=sys.stderr)",
            "raise ValueError('ünïcödé error: ☃')",
            "from IPython.display import HTML\nHTML('<p>naïve café — “quotes”</p>')",
            "{'ключ': 'значение', '鍵': [1, '値']}",
        ],
        {"allow_errors": True},
    ),
    "errors": (
        [
            "print('before')\n1 / 0",
            "def f():\n    raise KeyError('missing')\ntry:\n    f()\nexcept KeyError as e:\n"
            "    raise RuntimeError('chained') from e",
            "def broken(:\n    pass",
            "import sys\nprint('out')\nprint('err', file=sys.stderr)\nassert False, 'no'",
            "print('still running')",
            "raise SystemExit(3)",
            "from IPython.display import display\ndisplay('display then error')\n[][1]",
        ],
        {"allow_errors": True},
    ),
    "streams": (
        [
            "import sys\nprint('a')\nsys.stdout.flush()\nprint('b', file=sys.stderr)\n"
            "sys.stderr.flush()\nprint('c')",
            "print('no newline', end='')",
            "for i in range(5):\n    print(f'\\rprogress {i}', end='')\nprint()",
            "print('x' * 100_000)",
            "print('line\\n' * 200, end='')",
            "sys.stdout.write('written')",
            "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.1)",
            "!echo from a shell",
        ],
        {},
    ),
}


def _own_notebook(sources: list[str]) -> Any:
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [new_markdown_cell("Written for the gateway's compatibility tests.")]
    nb.cells += [new_code_cell(source) for source in sources]
    return nb


@pytest.mark.parametrize("name", list(OWN_NOTEBOOKS))
async def test_own_notebooks_match_nbclient(gateway, name):
    sources, options = OWN_NOTEBOOKS[name]
    ours = _own_notebook(sources)
    run = await through_gateway(gateway, ours, **options)
    assert run.failure is None, run.failure
    expected = await through_nbclient(_own_notebook(sources), gateway.root / "corpus", **options)
    # metadata compared too; streams joined (message boundaries depend on timing)
    assert_same_cells(expected, ours, keep_metadata=True, merged=True)
    assert ours.metadata.language_info == expected.metadata.language_info
    assert_timed(ours)
    nbformat.validate(ours)


async def test_own_errors_stop_where_nbclient_stops(gateway):
    sources = ["print(1)", "raise ValueError('stop')", "print('never')"]
    ours = _own_notebook(sources)
    run = await through_gateway(gateway, ours)
    assert run.failure is not None
    assert (run.failure.kind, run.failure.cell_index) == ("error", 2)
    assert "ValueError: stop" in run.failure.message
    assert "ValueError" in run.failure.traceback
    assert ours.cells[3].outputs == [] and ours.cells[3].execution_count is None
    with pytest.raises(CellExecutionError, match="stop"):
        await through_nbclient(theirs := _own_notebook(sources), gateway.root)
    assert_same_cells(theirs, ours)


# -- cell mode on the wire ----------------------------------------------------------------------


async def test_cell_mode_runs_the_source_as_one_notebook_cell(gateway):
    async def run() -> None:
        async with session_channel(gateway.address, f"cell-{uuid.uuid4().hex[:8]}") as (ch, _):

            async def execute(script: str, **fields: Any) -> list[dict[str, Any]]:
                eid = uuid.uuid4().hex
                await ch.send(
                    {
                        "type": "execute",
                        "script": script,
                        "executionId": eid,
                        "mode": "cell",
                        **fields,
                    }
                )
                events = []
                while True:
                    event = await ch.recv(60)
                    assert event is not None
                    if event.get("executionId") == eid:
                        events.append(event)
                        if event["type"] == "complete":
                            return events

            def result(events: list[dict[str, Any]]) -> dict[str, Any]:
                [found] = [e for e in events if e["type"] == "result"]
                return found

            events = await execute("a = 1\na + 1\n3\n\n\n")
            assert [e["expressions"] for e in events if e["type"] == "expressions"] == [
                [{"index": 0, "lineStart": 1, "lineEnd": 3, "source": "a = 1\na + 1\n3"}]
            ]
            done = result(events)
            assert [i["content"] for i in done["output"]] == ["3"]  # only the last expression
            assert done["executionCount"] == 1
            done = result(await execute("a;"))
            assert done["isInvisible"] and done["executionCount"] == 2  # ';' suppresses
            events = await execute("display(a)\nprint('p')\na * 10")
            assert [e["type"] for e in events if e["type"] in ("display", "stream")] == [
                "display",
                "stream",
            ]
            assert [i["content"] for i in result(events)["output"]] == ["1", "p\n", "10"]
            done = result(await execute("a", storeHistory=False))
            assert done["executionCount"] == 3  # no history: the count does not move on
            done = result(await execute("raise ValueError('x')\n", allowErrors=True))
            assert done["status"] == "error" and done["output"][-1]["ename"] == "ValueError"
            events = await execute("a")
            assert result(events)["executionCount"] == 5  # an error is counted as a cell
            assert events[-1]["status"] == "ok"

    await asyncio.wait_for(run(), RUN_WAIT)


# -- scripts as notebooks and pages ---------------------------------------------------------------

SCRIPT = '''"""# A script as a notebook

Each statement is a cell; this string is markdown."""

import sys

from IPython.display import HTML, Image, display

# the numbers
numbers = [1, 2, 3]
sum(numbers)

for n in numbers:
    print(n)
print("warning", file=sys.stderr)

"""## Displays"""

display(HTML("<b>bold</b>"))
Image(data=IMAGE)
handle = display("first", display_id=True)
handle.update("updated by a later statement")
total = sum(numbers); total * 2
f"The total is **{total}**."
# a comment at the end
'''


def _script(tmp_path: Path) -> Path:
    script = tmp_path / "script.py"
    png = base64.b64encode(_png(4, 4)).decode()
    script.write_text(
        SCRIPT.replace("IMAGE", f"__import__('base64').b64decode({png!r})"), encoding="utf-8"
    )
    return script


async def test_script_exports_a_notebook_that_nbclient_reproduces(gateway, tmp_path):
    script = _script(tmp_path)
    out = tmp_path / "script.ipynb"
    done = await run_cli(str(script), "-o", str(out), *url_args(gateway), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stderr
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    kinds = [cell.cell_type for cell in nb.cells]
    assert (
        kinds
        == ["markdown", "code", "code", "code", "code", "code", "code", "markdown"] + ["code"] * 6
    )
    assert nb.cells[0].source.startswith("# A script as a notebook")
    assert nb.cells[3].source == "# the numbers\nnumbers = [1, 2, 3]"
    assert nb.cells[-1].source.endswith("# a comment at the end")
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.language_info.name == "python"
    counts = [cell.execution_count for cell in nb.cells if cell.cell_type == "code"]
    assert counts == list(range(1, 13))
    assert nb.cells[4].outputs[0].output_type == "execute_result"
    assert nb.cells[10].outputs[0].data["text/plain"] == "'updated by a later statement'"
    assert nb.cells[-1].outputs[0].data["text/markdown"] == "The total is **6**."
    assert_timed(nb)
    theirs = await through_nbclient(cleaned(nb), tmp_path)
    assert_same_cells(theirs, nb, keep_metadata=True, merged=True)


async def test_percent_script_exports_its_cells(gateway, tmp_path):
    script = tmp_path / "percent.py"
    script.write_text(
        "# %% [markdown]\n# # Percent cells\n\n"
        "# %%\nx = 1\nx + 1\nx + 2\n\n"
        "# %%\nprint('two statements, one cell')\nx\n",
        encoding="utf-8",
    )
    out = tmp_path / "percent.ipynb"
    done = await run_cli(str(script), "-o", str(out), *url_args(gateway), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert [o.data["text/plain"] for o in nb.cells[1].outputs] == ["3"]  # a cell, not statements
    assert [c.execution_count for c in nb.cells[1:]] == [1, 2]
    theirs = await through_nbclient(cleaned(nb), tmp_path)
    assert_same_cells(theirs, nb, keep_metadata=True, merged=True)


class _PageParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


async def test_script_exports_a_self_contained_page(gateway, tmp_path):
    script = _script(tmp_path)
    out = tmp_path / "script.html"
    done = await run_cli(str(script), "-o", str(out), *url_args(gateway), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = out.read_text(encoding="utf-8")
    parser = _PageParser()
    parser.feed(page)
    tags = parser.tags
    assert not [t for t, _ in tags if t in ("script", "link", "iframe", "object", "embed")]
    for tag, attrs in tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            assert value is None or value.startswith("data:"), (tag, attrs)
    assert any(
        t == "img" and str(a.get("src")).startswith("data:image/png;base64,") for t, a in tags
    )
    assert "Content-Security-Policy" in page
    # each result beside its lines: a row holds the line numbers and the outputs
    rows = page.split('<section class="row')
    [total_row] = [r for r in rows if '<span class="ln">23</span>' in r]
    assert "total" in total_row
    assert "<pre>12</pre>" in total_row
    [loop_row] = [r for r in rows if '<span class="ln">13</span>' in r]
    assert re.search(r'<pre class="stdout">1\n(2\n)?', loop_row)
    assert "<b>bold</b>" in page
    assert "The total is <strong>6</strong>." in page
    assert "<h1>A script as a notebook</h1>" in page


async def test_failed_script_still_writes_its_notebook(gateway, tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("print('ran')\n1 / 0\nprint('not run')\n", encoding="utf-8")
    out = tmp_path / "fails.ipynb"
    done = await run_cli(str(script), "-o", str(out), *url_args(gateway), cwd=tmp_path)
    assert done.returncode == 1
    assert "wrote the run as far as it went to" in done.stderr
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[1].outputs[0].ename == "ZeroDivisionError"
    assert nb.cells[2].outputs == [] and nb.cells[2].execution_count is None


# -- the pure parts -------------------------------------------------------------------------------


def test_normalize_output():
    traceback = [
        "\x1b[0;31m---\x1b[0m",
        "Cell \x1b[0;32mIn[3], line 5\x1b[0m\n----> 5 raise",
        "\x1b[1;32m<ipython-input-1-9abc744909d9>\x1b[0m in \x1b[0;36m<module>\x1b[0m\n",
    ]
    normal = normalize_output(
        {"output_type": "error", "ename": "E", "evalue": "v", "traceback": traceback}
    )
    assert normal["traceback"] == ["---", "<CELL>\n----> 5 raise", "<CELL>\n"]
    svg = '<svg height="1"><circle r="2" cx="1"/></svg>'
    same_svg = '<svg height="1">\n  <circle cx="1" r="2" />\n</svg>'
    png = base64.b64encode(_png(1, 1)).decode()
    one = {
        "output_type": "display_data",
        "metadata": {"x": 1},
        "data": {"image/svg+xml": svg, "image/png": png, "text/plain": "<A at 0x7f00aa>"},
    }
    two = {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "image/svg+xml": same_svg,
            "image/png": png[:10] + "\n" + png[10:],
            "text/plain": "<A at 0xdeadbeef>",
        },
    }
    assert normalize_output(one) == normalize_output(two)
    assert normalize_output(one, keep_metadata=True) != normalize_output(two, keep_metadata=True)


def test_merge_streams():
    outputs = [
        {"output_type": "stream", "name": "stdout", "text": "a"},
        {"output_type": "stream", "name": "stdout", "text": "b"},
        {"output_type": "stream", "name": "stderr", "text": "c"},
        {"output_type": "stream", "name": "stdout", "text": "d"},
    ]
    assert [o["text"] for o in merge_streams(outputs)] == ["ab", "c", "d"]
    assert json.dumps(outputs[0]) == '{"output_type": "stream", "name": "stdout", "text": "a"}'
