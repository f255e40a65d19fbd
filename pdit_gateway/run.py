"""``pdit-gateway run SCRIPT.py``: the command line that runs a script on a gateway."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from .client import (
    CANCEL_WAIT,
    CONNECT_TIMEOUT,
    EOF_INPUT,
    ChannelConnection,
    GatewayAddress,
    RunFailure,
    execute_frame,
    execution_events,
    session_channel,
)
from .jsontypes import JSONDict
from .printer import (
    DIM,
    EXIT_FAILED,
    EXIT_OK,
    GREEN,
    RED,
    YELLOW,
    CellPrinter,
    TerminalPrinter,
    WatchPrinter,
    seconds,
)
from .protocol import valid_session_id

__all__ = ["CliOptions", "InputReader", "UsageError", "main", "parse_line_range"]


EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_TOKEN_ENV = "PDIT_GATEWAY_TOKEN"  # noqa: S105 (a variable name, not a secret)


class UsageError(Exception):
    """A command line that cannot be run (exit status 2)."""


# -- command line ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CliOptions:
    """What one ``pdit-gateway run`` does, from the command line."""

    script: Path
    source: str
    url: str | None
    token: str | None
    timeout: float | None
    kernel: str | None
    session_id: str
    fresh_session: bool
    line_range: tuple[int, int] | None
    color: bool
    progress: bool
    output: Path | None = None
    allow_errors: bool = False
    interrupt_on_timeout: bool = False
    #: The cells to run in cell mode: a notebook, or a percent script written as a notebook.
    notebook: Any = None
    #: Rerun the changed statements on every save (``--watch``).
    watch: bool = False

    @property
    def kernel_name(self) -> str | None:
        """The kernel to run on: ``--kernel``, else a notebook's own kernelspec."""
        if self.kernel or self.notebook is None:
            return self.kernel
        spec = self.notebook.get("metadata", {}).get("kernelspec") or {}
        name = spec.get("name") if isinstance(spec, dict) else None
        return str(name) if name else None


#: What ``--output`` can write, by file suffix.
OUTPUT_SUFFIXES = (".ipynb", ".html")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pdit-gateway run",
        description="Run a Python script statement by statement on a Jupyter kernel and print "
        "each statement's output under its line numbers. Without --url, a private gateway is "
        "started for the run and stopped after it.",
    )
    parser.add_argument(
        "script",
        help="the Python script (or .ipynb notebook: each code cell is run in cell mode)",
    )
    parser.add_argument(
        "--url",
        help="the base URL of a running Jupyter server with the pdit gateway, e.g. "
        "http://localhost:8888/ (a ?token=… in it is used as the token)",
    )
    parser.add_argument(
        "--token",
        help=f"the server's token (default: the URL's ?token=, else ${_TOKEN_ENV}); needs --url",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop the execution after this many seconds (0 = no limit; default: the gateway's)",
    )
    parser.add_argument("--kernel", metavar="NAME", help="the kernel spec to run on")
    parser.add_argument(
        "--session",
        metavar="ID",
        help="with --url: run in this session of that gateway (kept after the run, so a later "
        "run sees its variables); default: a fresh session, deleted after the run",
    )
    parser.add_argument(
        "--lines",
        metavar="FROM:TO",
        help="run only the statements overlapping these lines (also N, FROM: or :TO)",
    )
    parser.add_argument(
        "--color",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="colour the output (default: when stdout is a terminal and $NO_COLOR is unset)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="show no progress line for slow statements"
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="OUT",
        help="also write the run to OUT: a notebook (.ipynb) with every output, or a "
        "self-contained page (.html) with each result beside its lines; written even when "
        "the run fails. A script with '# %%' cells becomes those cells in a .ipynb",
    )
    parser.add_argument(
        "--allow-errors",
        action="store_true",
        help="do not stop at an error: run every cell (statement) and record the error",
    )
    parser.add_argument(
        "--watch",
        "-w",
        action="store_true",
        help="keep running: after the first run, rerun the script on every save of it (or of "
        "a .py file beside it), running only the statements the edit may have changed and "
        "printing only those; Ctrl-C while waiting ends it (status 0), during a run cancels "
        "the run and ends it (130)",
    )
    parser.add_argument(
        "--interrupt-on-timeout",
        action="store_true",
        help="notebooks: a cell running past --timeout is interrupted and counts as an error "
        "(see --allow-errors); without it a timeout fails the run",
    )
    return parser


def parse_line_range(text: str, line_count: int) -> tuple[int, int]:
    """Parse ``FROM:TO`` (or ``N``, ``FROM:``, ``:TO``) into the execute frame's ``lineRange``.

    Parameters
    ----------
    text : str
        The ``--lines`` value; line numbers are 1-based and inclusive.
    line_count : int
        Lines in the script: the end of an open range.

    Raises
    ------
    UsageError
        When the range is not two integers >= 1 in order.
    """
    start_text, sep, end_text = text.partition(":")
    if not sep:
        end_text = start_text
    try:
        start = int(start_text) if start_text.strip() else 1
        end = int(end_text) if end_text.strip() else max(start, line_count)
    except ValueError:
        raise UsageError(f"--lines {text!r}: expected FROM:TO, e.g. 3:7") from None
    if start < 1 or end < 1:
        raise UsageError(f"--lines {text!r}: line numbers start at 1")
    if start > end:
        raise UsageError(f"--lines {text!r}: FROM must not exceed TO")
    return (start, end)


def _options(
    argv: list[str], environ: dict[str, str], stdout: TextIO, stderr: TextIO
) -> CliOptions:
    args = _parser().parse_args(argv)
    script = Path(args.script)
    try:
        source = script.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{args.script}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{args.script}: is a directory, not a script") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{args.script}: cannot read it: {err}") from None
    if args.timeout is not None and args.timeout < 0:
        raise UsageError("--timeout must be >= 0 seconds (0 = no limit)")
    if args.session is not None and not valid_session_id(args.session):
        raise UsageError("--session: an id matches [A-Za-z0-9_.-]{1,128}")
    if args.token is not None and args.url is None:
        raise UsageError("--token needs --url (a private gateway makes its own token)")
    if args.session is not None and args.url is None:
        raise UsageError(
            "--session needs --url: without it the run has a private gateway, whose kernel "
            "ends with the run (start one with 'pdit-gateway' and give its --url)"
        )
    token = args.token
    # precedence: --token, then a ?token= in --url (GatewayAddress.parse), then the environment
    if args.url is not None and token is None and "token" not in parse_qs(urlsplit(args.url).query):
        token = environ.get(_TOKEN_ENV) or None
    output = Path(args.output) if args.output is not None else None
    if output is not None and output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"--output {args.output}: expected a .ipynb or .html file")
    notebook = _cells_to_run(script, source, output)
    if notebook is not None and args.lines is not None:
        raise UsageError("--lines selects script lines; a notebook runs whole cells")
    if args.interrupt_on_timeout and notebook is None:
        raise UsageError(
            "--interrupt-on-timeout applies to notebook cells (.ipynb, or a '# %%' script "
            "written to a .ipynb); a script's --timeout always interrupts"
        )
    if args.watch and (notebook is not None or output is not None or args.lines is not None):
        raise UsageError("--watch reruns a whole script: it takes no notebook, --output or --lines")
    line_range = None
    if args.lines is not None:
        line_range = parse_line_range(args.lines, len(source.splitlines()))
    color = args.color
    if color is None:
        color = _isatty(stdout) and "NO_COLOR" not in environ
    return CliOptions(
        script=script,
        source=source,
        url=args.url,
        token=token,
        timeout=args.timeout,
        kernel=args.kernel,
        session_id=args.session or uuid.uuid4().hex,
        fresh_session=args.session is None,
        line_range=line_range,
        color=color,
        progress=not args.quiet and _isatty(stderr),
        output=output,
        allow_errors=args.allow_errors,
        interrupt_on_timeout=args.interrupt_on_timeout,
        notebook=notebook,
        watch=args.watch,
    )


def _cells_to_run(script: Path, source: str, output: Path | None) -> Any:
    """Return the notebook to run cell by cell, or None for a script run statement by statement.

    A ``.ipynb`` is read with nbformat; a script with ``# %%`` cells is read with jupytext
    when it is written to a ``.ipynb`` (its cells become the notebook's cells).
    """
    if script.suffix.lower() == ".ipynb":
        from .notebook import read_notebook

        try:
            return read_notebook(source)
        except ValueError as err:
            raise UsageError(f"{script}: {err}") from None
    if output is not None and output.suffix.lower() == ".ipynb":
        from .notebook import is_percent_script, read_percent_script

        if is_percent_script(source):
            return read_percent_script(source)
    return None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class InputReader:
    """Lines of the terminal's standard input for the script's ``input()``, read without
    blocking the event loop (a pipe or a terminal is watched; a regular file is just read).

    Bytes after a line stay for the next ``input()``, as python's own buffered stdin keeps
    them.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._buffer = b""
        self._eof = False

    def _fd(self) -> int | None:
        try:
            return self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return None

    async def read_line(self, password: bool, cancel: asyncio.Event) -> str | None:
        """Return the next line without its line end, or None at the end of input (or when
        ``cancel`` is set first)."""
        fd = self._fd()
        if fd is None:
            return None
        echo_off = password and _isatty(self.stream)
        saved = _echo(fd, False) if echo_off else None
        try:
            while b"\n" not in self._buffer and not self._eof:
                if not await self._fill(fd, cancel):
                    return None
        finally:
            if saved is not None:
                _echo(fd, True, saved)
        if not self._buffer and self._eof:
            return None
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace").removesuffix("\r")

    async def _fill(self, fd: int, cancel: asyncio.Event) -> bool:
        """Read what is there; False when ``cancel`` was set first."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        try:
            loop.add_reader(fd, readable)
        except (OSError, ValueError, PermissionError):
            # a regular file (epoll does not watch files): reading it never blocks
            ready.set_result(None)
            watched = False
        else:
            watched = True
        cancelled: asyncio.Future[Any] = asyncio.ensure_future(cancel.wait())
        try:
            await asyncio.wait({ready, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancelled.cancel()
            if watched:
                loop.remove_reader(fd)
        if not ready.done():
            return False
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True
        return True


def _echo(fd: int, on: bool, saved: Any = None) -> Any:
    """Turn the terminal's echo off (returning what to restore) or restore it."""
    import termios

    if on:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        return None
    before = termios.tcgetattr(fd)
    quiet = list(before)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
    return before


class _CtrlC:
    """Ctrl-C during a run: the first asks for a cancel, the next one stops waiting."""

    def __init__(self, task: asyncio.Task[Any], printer: TerminalPrinter) -> None:
        self.task = task
        self.printer = printer
        self.cancel = asyncio.Event()

    def __call__(self) -> None:
        if self.cancel.is_set():
            self.task.cancel()
            return
        self.cancel.set()
        self.printer.note("cancelling… (Ctrl-C again to quit at once)", YELLOW)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT with this object while the block runs."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self)
        except (NotImplementedError, RuntimeError, ValueError):
            # no loop signal handlers here (Windows, not the main thread): Ctrl-C stops at once
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)


async def _run_on(
    address: GatewayAddress,
    options: CliOptions,
    printer: TerminalPrinter,
    kernel_path: str | None = None,
) -> int:
    kernel = options.kernel_name
    async with session_channel(
        address,
        options.session_id,
        kernel=kernel,
        path=kernel_path,
        delete=options.fresh_session,
    ) as (channel, snapshot):
        name = (snapshot.get("kernel") or {}).get("name")
        if kernel and name and name != kernel:
            printer.note(f"session {options.session_id} runs kernel {name!r}, not {kernel!r}")
        if options.watch:
            return await _watch_script(channel, options, printer, name)
        task = asyncio.current_task()
        assert task is not None
        ctrl_c = _CtrlC(task, printer)
        ticker = asyncio.ensure_future(printer.keep_progress()) if printer.progress else None
        try:
            with ctrl_c.installed():
                if options.notebook is not None:
                    return await _run_cells(channel, options, printer, ctrl_c.cancel, name)
                return await _run_script(channel, options, printer, ctrl_c.cancel, name)
        finally:
            if ticker is not None:
                ticker.cancel()
            printer.clear_progress()


async def _run_script(
    channel: ChannelConnection,
    options: CliOptions,
    printer: TerminalPrinter,
    cancel: asyncio.Event,
    kernel_name: str | None,
) -> int:
    """Run a script statement by statement; with ``--output``, also write it as a notebook/page."""
    recorder = None
    if options.output is not None:
        from .notebook import ScriptRecorder, describe_kernel
        from .splitter import split_script

        statements = split_script(options.source, options.line_range, options.script.name)
        recorder = ScriptRecorder(options.source, statements)
        await describe_kernel(channel, recorder.nb, kernel_name, probe=True, kernelspec=True)
    extra: dict[str, Any] = {"allowErrors": True} if options.allow_errors else {}
    if options.watch:
        extra["mode"] = "changed"
    frame = execute_frame(
        options.source,
        # the kernel's __file__ and tracebacks name the script as python does: its full path
        script_name=str(options.script.resolve()),
        execution_id=uuid.uuid4().hex,
        line_range=options.line_range,
        timeout=options.timeout,
        **extra,
    )
    stdin = InputReader(sys.stdin)
    try:
        async for event in execution_events(channel, frame, cancel):
            printer.handle(event)
            if recorder is not None:
                recorder.feed(event)
            if event.get("type") == "input-request":
                value = await stdin.read_line(bool(event.get("password")), cancel)
                if value is not None or not cancel.is_set():
                    await channel.send(
                        {
                            "type": "input-reply",
                            "executionId": frame["executionId"],
                            # ipykernel's end of input: the script's input() raises EOFError
                            "value": EOF_INPUT if value is None else value,
                        }
                    )
    except asyncio.TimeoutError:
        printer.note(f"the gateway did not confirm the cancel within {CANCEL_WAIT:g} s", RED)
    finally:
        if recorder is not None and options.output is not None:
            summary = printer.summary() if printer.status else "the run did not finish"
            ok = printer.status == "ok" or (options.allow_errors and printer.status == "error")
            _write_output(options, recorder.nb, recorder.blocks, summary, ok, printer)
    if cancel.is_set():
        return EXIT_INTERRUPTED
    if options.allow_errors and printer.status == "error":
        return EXIT_OK
    return printer.exit_status()


class _WatchCtrlC(_CtrlC):
    """Ctrl-C in ``--watch``: while a run runs, as :class:`_CtrlC`; while waiting, the end."""

    running = False

    def __call__(self) -> None:
        if self.running:
            super().__call__()
        else:
            self.cancel.set()


async def _watch_script(
    channel: ChannelConnection,
    options: CliOptions,
    first: TerminalPrinter,
    kernel_name: str | None,
) -> int:
    """Run the script, then rerun its changed statements on every save until Ctrl-C."""
    import watchfiles

    script = options.script.resolve()
    folder = script.parent
    task = asyncio.current_task()
    assert task is not None

    def printer() -> WatchPrinter:
        return WatchPrinter(
            first.out, first.err, color=first.color, progress=first.progress, timeout=first.timeout
        )

    def saved(change: watchfiles.Change, path: str) -> bool:
        # the script, or a module beside it that the script may import
        changed = Path(path)
        return changed == script or (changed.parent == folder and changed.suffix == ".py")

    current = printer()
    ctrl_c = _WatchCtrlC(task, current)
    source = options.source
    with ctrl_c.installed():
        while True:
            ctrl_c.printer = current
            ctrl_c.running = True
            ticker = asyncio.ensure_future(current.keep_progress()) if current.progress else None
            try:
                await _run_script(
                    channel, replace(options, source=source), current, ctrl_c.cancel, kernel_name
                )
            finally:
                ctrl_c.running = False
                if ticker is not None:
                    ticker.cancel()
                current.clear_progress()
            if ctrl_c.cancel.is_set():
                return EXIT_INTERRUPTED
            current.note(f"watching {options.script} (Ctrl-C ends)", DIM)
            text = None
            while text is None:
                async for _ in watchfiles.awatch(
                    folder,
                    watch_filter=saved,
                    stop_event=ctrl_c.cancel,
                    recursive=False,
                    debounce=400,
                    step=50,
                ):
                    break
                if ctrl_c.cancel.is_set():
                    return EXIT_OK
                try:
                    text = script.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as err:  # mid-save, or removed
                    current.note(f"cannot read {options.script}: {err}", RED)
            source = text
            current = printer()
            current.note(f"── {options.script} changed: running what changed ──", DIM)


async def _run_cells(
    channel: ChannelConnection,
    options: CliOptions,
    printer: TerminalPrinter,
    cancel: asyncio.Event,
    kernel_name: str | None,
) -> int:
    """Run a notebook's code cells in cell mode; write the notebook (also a partial one)."""
    from .export import notebook_blocks
    from .notebook import NotebookOptions, NotebookRun, describe_kernel, run_notebook

    nb = options.notebook

    def on_event(index: int, event: JSONDict) -> None:
        if isinstance(printer, CellPrinter):
            printer.cell_index = index
        printer.handle(event)

    settings = NotebookOptions(
        allow_errors=options.allow_errors,
        timeout=options.timeout,
        interrupt_on_timeout=options.interrupt_on_timeout,
    )
    run: NotebookRun | None = None
    try:
        run = await run_notebook(
            channel, nb, settings, name=options.script.name, on_event=on_event, cancel=cancel
        )
    except asyncio.TimeoutError:
        printer.note(f"the gateway did not confirm the cancel within {CANCEL_WAIT:g} s", RED)
    finally:
        if run is None:
            summary, ok = "the run did not finish", False
        elif run.failure is None:
            plural = "cell" if run.cells_executed == 1 else "cells"
            summary, ok = f"ok: {run.cells_executed} {plural} in {seconds(run.duration)}", True
        else:
            summary, ok = run.failure.message, False
        printer.note(summary, GREEN if ok else RED)
        if options.output is not None:
            # a percent script's notebook says which kernel ran it; a notebook keeps its own
            is_script = options.script.suffix.lower() != ".ipynb"
            with contextlib.suppress(RunFailure, asyncio.TimeoutError):
                await asyncio.wait_for(
                    describe_kernel(channel, nb, kernel_name, probe=False, kernelspec=is_script),
                    CONNECT_TIMEOUT,
                )
            _write_output(options, nb, notebook_blocks(nb), summary, ok, printer, notebook=True)
    if cancel.is_set() or run is None or (run.failure and run.failure.kind == "cancelled"):
        return EXIT_INTERRUPTED
    return EXIT_OK if run.failure is None else EXIT_FAILED


def _write_output(
    options: CliOptions,
    nb: Any,
    blocks: Any,
    summary: str,
    ok: bool,
    printer: TerminalPrinter,
    *,
    notebook: bool = False,
) -> None:
    """Write ``--output``: the notebook (validated) or the HTML page."""
    from nbformat import ValidationError

    from .export import render_html
    from .notebook import write_file, write_notebook

    output = options.output
    assert output is not None
    try:
        if output.suffix.lower() == ".ipynb":
            write_notebook(nb, output)
        else:
            page = render_html(
                options.script.name, nb, blocks, summary=summary, ok=ok, wide_markdown=notebook
            )
            write_file(output, page)
    except OSError as err:
        raise RunFailure(f"cannot write {output}: {err}") from None
    except ValidationError as err:  # nothing was written
        raise RunFailure(f"{output}: the notebook does not validate: {err}") from None
    what = "wrote" if ok else "wrote the run as far as it went to"
    printer.note(f"{what} {output}")


async def _run(options: CliOptions, printer: TerminalPrinter) -> int:
    if options.url is not None:
        try:
            address = GatewayAddress.parse(options.url, options.token)
        except ValueError as err:
            raise UsageError(f"--url {err}") from None
        return await _run_on(address, options, printer)
    from .localgateway import local_gateway

    is_notebook = options.script.suffix.lower() == ".ipynb"
    script = options.script.resolve()
    here = Path.cwd()
    # the private server's root holds the script and the shell's directory: a script's kernel
    # starts where the shell is, as python does; a notebook's in the notebook's directory, as
    # Jupyter starts it
    root = Path(os.path.commonpath([here, script.parent]))
    kernel_path = (script if is_notebook else here).relative_to(root).as_posix()
    async with local_gateway(root) as address:
        return await _run_on(address, options, printer, "" if kernel_path == "." else kernel_path)


def main(argv: list[str]) -> int:
    """Run ``pdit-gateway run ARGV…`` (the arguments after ``run``); return the exit status."""
    stdout, stderr = sys.stdout, sys.stderr
    for stream in (stdout, stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        options = _options(argv, dict(os.environ), stdout, stderr)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    except UsageError as err:
        stderr.write(f"pdit-gateway run: {err}\n")
        return EXIT_USAGE
    printer_class = CellPrinter if options.notebook is not None else TerminalPrinter
    printer = printer_class(
        stdout, stderr, color=options.color, progress=options.progress, timeout=options.timeout
    )
    try:
        return asyncio.run(_run(options, printer))
    except (UsageError, RunFailure) as err:
        printer.clear_progress()
        stderr.write(f"pdit-gateway run: {err}\n")
        return EXIT_USAGE
    except (KeyboardInterrupt, asyncio.CancelledError):
        printer.clear_progress()
        stderr.write("pdit-gateway run: interrupted\n")
        return EXIT_INTERRUPTED
