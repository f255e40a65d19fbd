"""``pdit-gateway run SCRIPT.py``: run a script on a gateway and print its results in a terminal."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import os
import re
import secrets
import signal
import struct
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from .protocol import valid_session_id

__all__ = [
    "CellPrinter",
    "ChannelConnection",
    "GatewayAddress",
    "RunFailure",
    "TerminalPrinter",
    "UsageError",
    "execute_frame",
    "execution_events",
    "local_gateway",
    "main",
    "parse_line_range",
    "session_channel",
]

Event = dict[str, Any]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Seconds to connect (HTTP and WebSocket) and to get the ``welcome``.
CONNECT_TIMEOUT = 30.0
#: Seconds to wait for the ``complete`` of a cancelled execution after Ctrl-C.
CANCEL_WAIT = 5.0
#: Seconds for deleting the run's session and for the in-process server to shut down.
SHUTDOWN_TIMEOUT = 30.0
#: Seconds between WebSocket pings, and without a pong before the connection counts as lost.
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
#: Largest event frame accepted, in bytes (results carry whole images).
MAX_EVENT_SIZE = 512 * 1024 * 1024
#: Seconds a statement runs without output before the progress line shows, and its redraw period.
PROGRESS_DELAY = 1.0
PROGRESS_PERIOD = 0.1

_TOKEN_ENV = "PDIT_GATEWAY_TOKEN"  # noqa: S105 (a variable name, not a secret)
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_OBJECT_REPR = re.compile(r"<[\w.]+ object( at 0x[0-9a-f]+)?>")

_DIM = "\x1b[2m"
_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_YELLOW = "\x1b[33m"
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


class UsageError(Exception):
    """A command line that cannot be run (exit status 2)."""


class RunFailure(Exception):
    """The gateway could not be reached or refused the run (exit status 2)."""


# -- command line ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
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
) -> RunOptions:
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
    line_range = None
    if args.lines is not None:
        line_range = parse_line_range(args.lines, len(source.splitlines()))
    color = args.color
    if color is None:
        color = _isatty(stdout) and "NO_COLOR" not in environ
    return RunOptions(
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


# -- the gateway: an address, a private in-process one, a channel connection -----------------


@dataclass(frozen=True)
class GatewayAddress:
    """Where a gateway listens: the server's base URL (with ``/``) and its token."""

    base_url: str
    token: str | None

    @classmethod
    def parse(cls, url: str, token: str | None) -> GatewayAddress:
        """Read ``http(s)://`` or ``ws(s)://host:port/base_url/``; ``?token=`` is the default token.

        Raises
        ------
        UsageError
            When the URL is not an http(s) or ws(s) URL with a host.
        """
        parts = urlsplit(url)
        scheme = {"http": "http", "ws": "http", "https": "https", "wss": "https"}.get(
            parts.scheme.lower()
        )
        if scheme is None or not parts.netloc:
            raise UsageError(f"--url {url!r}: expected http://HOST:PORT/ (or https, ws, wss)")
        if token is None:
            tokens = parse_qs(parts.query).get("token")
            token = tokens[0] if tokens else None
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return cls(urlunsplit((scheme, parts.netloc, path, "", "")), token)

    def http(self, *path: str) -> str:
        """Return the URL of a REST path under the base URL."""
        return self.base_url + "/".join(quote(part, safe="") for part in path)

    def ws(self, *path: str) -> str:
        """Return the ``ws(s)://`` URL of a WebSocket path under the base URL."""
        return "ws" + self.http(*path)[len("http") :]

    def headers(self) -> dict[str, str]:
        """Return the authentication header (none without a token)."""
        return {"Authorization": f"token {self.token}"} if self.token else {}


@asynccontextmanager
async def local_gateway(
    root_dir: Path, *, ipython_hist_file: str = ":memory:"
) -> AsyncIterator[GatewayAddress]:
    """Run a private jupyter_server with only the pdit gateway, inside the running event loop.

    It listens on 127.0.0.1 on a free port with a random token and serves ``root_dir``.
    On exit the gateway's sessions and every kernel are shut down. IPython kernels get
    ``--HistoryManager.hist_file=ipython_hist_file`` as nbclient gives them (``":memory:"``:
    the run leaves no history behind; ``""``: the kernel's own setting).
    """
    from jupyter_server.serverapp import ServerApp

    class RunServerApp(ServerApp):
        """A ServerApp embedded in the CLI: the CLI owns the signals, not the server."""

        name = "pdit-gateway-run"

        def init_signal(self) -> None:
            """Install no signal handlers (Ctrl-C cancels the run instead)."""

    token = secrets.token_hex(24)
    argv = [
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root_dir}",
        f"--ServerApp.allow_root={_running_as_root()}",
        "--Application.log_level=WARN",
        # CurveZMQ keys for kernels that support them (no plain-text TCP between the processes)
        "--MappingKernelManager.transport_encryption=auto",
        "--ServerApp.jpserver_extensions=pdit_gateway=True",
        f"--IdentityProvider.token={token}",
        "--ServerApp.kernel_manager_class=pdit_gateway.notebook.NotebookKernelManager",
        f"--NotebookKernelManager.ipython_hist_file={ipython_hist_file}",
    ]
    RunServerApp.clear_instance()
    app = RunServerApp.instance(no_browser_open_file=True)
    try:
        try:
            # Command-line config outranks config files; other extensions are not looked for.
            app.initialize(argv=argv, find_extensions=False, new_httpserver=True)
            await asyncio.sleep(0)  # initialize() scheduled the socket bind on the loop
            app.start_app()
            await app.extension_manager.start_all_extensions()  # type: ignore[no-untyped-call]
        except (OSError, SystemExit) as err:
            raise RunFailure(f"the private gateway did not start: {err}") from None
        yield GatewayAddress(f"http://127.0.0.1:{app.port}/", token)
    finally:
        try:
            # jupyter_server's shutdown (extensions, kernels, sockets), the loop left running
            await asyncio.wait_for(app._cleanup(), SHUTDOWN_TIMEOUT)
        finally:
            kernel_manager = getattr(app, "kernel_manager", None)
            if kernel_manager is not None:
                kernel_manager.context.destroy()
            RunServerApp.clear_instance()


def _running_as_root() -> bool:
    geteuid: Callable[[], int] | None = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def _http_failure(address: GatewayAddress, err: Exception) -> RunFailure:
    from tornado.httpclient import HTTPClientError

    where = address.base_url
    if isinstance(err, HTTPClientError):
        if err.code in (401, 403):
            return RunFailure(f"{where}: authentication failed (HTTP {err.code}); check the token")
        if err.code == 404:
            return RunFailure(f"{where}: no pdit gateway there (HTTP 404)")
        if err.code == 599:
            return RunFailure(f"{where}: cannot connect: {err.message}")
        return RunFailure(f"{where}: the gateway answered HTTP {err.code} {err.message or ''}")
    if isinstance(err, asyncio.TimeoutError):
        return RunFailure(f"{where}: no answer within {CONNECT_TIMEOUT:g} s")
    return RunFailure(f"{where}: cannot connect: {err}")


class ChannelConnection:
    """One WebSocket connection to a session's protocol v1 channel, and the REST calls around it.

    Frames are queued as they arrive; :meth:`recv` returns ``None`` when the connection closed.
    """

    def __init__(self, address: GatewayAddress) -> None:
        from tornado.httpclient import AsyncHTTPClient

        self.address = address
        self.http = AsyncHTTPClient(force_instance=True)
        self._frames: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._connection: Any = None

    async def _fetch(self, method: str, *path: str, body: Any = None) -> Any:
        from tornado.httpclient import HTTPRequest

        request = HTTPRequest(
            self.address.http(*path),
            method=method,
            headers=self.address.headers(),
            body=None if body is None else json.dumps(body),
            connect_timeout=CONNECT_TIMEOUT,
            request_timeout=CONNECT_TIMEOUT,
        )
        try:
            response = await self.http.fetch(request)
        except Exception as err:  # tornado/OS errors: the gateway cannot be used
            raise _http_failure(self.address, err) from None
        return json.loads(response.body) if response.body else None

    async def check_kernel(self, name: str) -> None:
        """Fail with a list of the kernels there are when ``name`` is not one of them."""
        specs = await self._fetch("GET", "api", "kernelspecs")
        known = sorted((specs or {}).get("kernelspecs", {}))
        if name not in known:
            raise RunFailure(f"no kernel named {name!r} (there are: {', '.join(known) or 'none'})")

    async def kernelspec(self, name: str | None) -> dict[str, str] | None:
        """Return ``{name, display_name, language}`` of a kernel spec (None: the default)."""
        specs = await self._fetch("GET", "api", "kernelspecs") or {}
        name = name or specs.get("default")
        entry = (specs.get("kernelspecs") or {}).get(name)
        spec = entry.get("spec") if isinstance(entry, dict) else None
        if not isinstance(spec, dict):
            return None
        return {
            "name": str(name),
            "display_name": str(spec.get("display_name", name)),
            "language": str(spec.get("language", "")),
        }

    async def open_session(
        self, session_id: str, kernel_name: str | None, path: str | None = None
    ) -> Event:
        """Create the session (or find it) and return its snapshot; this also checks the token.

        ``path`` is the session's path under the server's root (the kernel's directory).
        """
        body: dict[str, Any] = {"sessionId": session_id}
        if kernel_name:
            body["kernelName"] = kernel_name
        if path is not None:
            body["path"] = path
        snapshot: Event = await self._fetch("POST", "pdit", "api", "sessions", body=body)
        return snapshot

    async def delete_session(self, session_id: str) -> None:
        """Shut the session and its kernel down."""
        await self._fetch("DELETE", "pdit", "api", "sessions", session_id)

    async def connect(self, session_id: str) -> Event:
        """Open the channel and return its ``welcome``."""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        request = HTTPRequest(
            self.address.ws("pdit", "api", "sessions", session_id, "channel"),
            headers=self.address.headers(),
            connect_timeout=CONNECT_TIMEOUT,
            request_timeout=CONNECT_TIMEOUT,
        )
        try:
            self._connection = await asyncio.wait_for(
                websocket_connect(
                    request,
                    on_message_callback=self._frames.put_nowait,
                    ping_interval=PING_INTERVAL,
                    ping_timeout=PING_TIMEOUT,
                    max_message_size=MAX_EVENT_SIZE,
                ),
                CONNECT_TIMEOUT,
            )
        except Exception as err:
            raise _http_failure(self.address, err) from None
        try:
            welcome = await self.recv(CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            raise _http_failure(self.address, asyncio.TimeoutError()) from None
        if welcome is None or welcome.get("type") != "welcome":
            raise RunFailure(f"{self.address.base_url}: expected a welcome, got {welcome!r}")
        return welcome

    async def send(self, frame: Event) -> None:
        """Send one frame; a closed connection is a :class:`RunFailure`."""
        from tornado.websocket import WebSocketClosedError

        try:
            await self._connection.write_message(json.dumps(frame))
        except WebSocketClosedError:
            raise RunFailure("the connection to the gateway closed") from None

    async def recv(self, timeout: float | None = None) -> Event | None:
        """Return the next event, ``None`` once the connection closed.

        Raises
        ------
        TimeoutError
            When ``timeout`` seconds pass first (nothing is lost: the next call gets it).
        """
        raw = await asyncio.wait_for(self._frames.get(), timeout)
        if raw is None:
            self._frames.put_nowait(None)  # stays closed for later calls
            return None
        event: Event = json.loads(raw)
        return event

    def close_channel(self) -> None:
        """Close the WebSocket (REST calls still work)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        """Close the WebSocket and the HTTP client."""
        self.close_channel()
        self.http.close()


# -- one execution's events ----------------------------------------------------------------------


def execute_frame(
    source: str,
    *,
    script_name: str,
    execution_id: str,
    line_range: tuple[int, int] | None = None,
    timeout: float | None = None,
    **extra: Any,
) -> Event:
    """Build an ``execute`` frame (``extra`` adds fields such as ``mode="cell"``)."""
    frame: Event = {
        "type": "execute",
        "script": source,
        "scriptName": script_name,
        "executionId": execution_id,
        **extra,
    }
    if line_range is not None:
        frame["lineRange"] = {"from": line_range[0], "to": line_range[1]}
    if timeout is not None:
        frame["timeout"] = timeout
    return frame


async def execution_events(
    channel: ChannelConnection, frame: Event, cancel: asyncio.Event | None = None
) -> AsyncIterator[Event]:
    """Send an ``execute`` frame and yield its events up to and including its ``complete``.

    Session events without an ``executionId`` (``kernel-status``) are yielded too; other
    executions' events are skipped. When ``cancel`` is set, a ``cancel`` frame is sent and
    the ``complete`` is awaited for at most ``CANCEL_WAIT`` seconds.

    Raises
    ------
    RunFailure
        The gateway refused the request (an ``error`` event), or the connection closed
        before the ``complete``.
    TimeoutError
        No ``complete`` within ``CANCEL_WAIT`` s of a cancel.
    """
    execution_id = frame["executionId"]
    await channel.send(frame)
    cancel_deadline: float | None = None
    cancel_wait: asyncio.Task[bool] | None = None
    try:
        while True:
            if cancel is not None and cancel.is_set() and cancel_deadline is None:
                cancel_deadline = time.monotonic() + CANCEL_WAIT
                await channel.send({"type": "cancel", "executionId": execution_id})
            if cancel_deadline is not None:
                event = await channel.recv(max(0.0, cancel_deadline - time.monotonic()))
            elif cancel is not None:
                # wait for an event or for the cancel request, whichever comes first
                cancel_wait = cancel_wait or asyncio.ensure_future(cancel.wait())
                receive = asyncio.ensure_future(channel.recv())
                try:
                    await asyncio.wait({receive, cancel_wait}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not receive.done():
                        receive.cancel()  # safe: a queued frame stays for the next recv
                if not receive.done():
                    continue
                event = receive.result()
            else:
                event = await channel.recv()
            if event is None:
                raise RunFailure("the connection to the gateway closed before the run ended")
            kind = event.get("type")
            owner = event.get("executionId")
            if kind == "error" and owner in (None, execution_id):
                if cancel_deadline is not None:
                    continue  # e.g. the execution ended just before the cancel arrived
                raise RunFailure(f"the gateway refused the run: {event.get('message')}")
            if owner is None and kind == "kernel-status":
                yield event
            elif owner == execution_id:
                yield event
                if kind == "complete":
                    return
    finally:
        if cancel_wait is not None:
            cancel_wait.cancel()


# -- the terminal ---------------------------------------------------------------------------------


def lines_label(start: int, end: int) -> str:
    """Return ``line 3`` or ``lines 3–5``."""
    return f"line {start}" if start == end else f"lines {start}–{end}"


def _seconds(value: float) -> str:
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


def render_item(item: Event, *, color: bool) -> str | None:
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
            return "\n".join(f"{_RED}{line}{_RESET}" if line else line for line in lines)
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
        self._updates: dict[str, Event] = {}  # display id → its latest update in this statement
        self._handlers: dict[str, Callable[[Event], None]] = {
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

    def note(self, text: str, style: str = _DIM) -> None:
        """Write a line on ``err`` (after finishing the current stdout line)."""
        self.clear_progress()
        if not self._at_line_start:
            self._write("\n")
        self.err.write(self._paint(text, style) + "\n")
        self.err.flush()

    # -- events

    def handle(self, event: Event) -> None:
        """Print one event."""
        handler = self._handlers.get(str(event.get("type")))
        if handler is not None:
            handler(event)

    def _queued(self, event: Event) -> None:
        position = event.get("position")
        if isinstance(position, int) and position > 0:
            self.note(f"queued behind {position} other execution(s) in this session")

    def header(self, event: Event) -> str:
        """Return the label of the statement a ``running`` event starts (``lines 3–5``)."""
        return lines_label(int(event["lineStart"]), int(event["lineEnd"]))

    #: Print every statement's header when it starts; False: only before its first output,
    #: so statements that print nothing take no line (the progress line shows them running).
    head_every_statement = False

    def _on_running(self, event: Event) -> None:
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
            self._line(self._paint(header, _DIM))

    def _stream(self, event: Event) -> None:
        if self._running is not None:
            self._running.last_output = time.monotonic()
        self._head()
        text = str(event.get("text", ""))
        if event.get("name") == "stderr" and self.color:
            # colour each line apart so the reset lands before the newline
            text = "".join(
                self._paint(line[:-1], _RED) + "\n"
                if line.endswith("\n")
                else self._paint(line, _RED)
                for line in text.splitlines(keepends=True)
            )
        self._write(text)

    def _display(self, event: Event) -> None:
        # an update of a display an earlier statement showed: print its last state at the result
        display_id = event.get("displayId")
        if event.get("update") and display_id in self._displays:
            self._updates[str(display_id)] = event["output"]

    def _result(self, event: Event) -> None:
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
                self._line(self._paint(f"(the display of {where}, updated)", _DIM))
                self._line(text)
        self._updates.clear()
        if event.get("status") == "error" and self.failed_at is None:
            self.failed_at = (int(event["lineStart"]), int(event["lineEnd"]))
            errors = [i for i in event.get("output") or [] if i.get("type") == "error"]
            if errors:
                self.failure = str(errors[-1].get("ename") or "") or None

    def _cancelled(self, event: Event) -> None:
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
                f"── not run: {lines_label(start, end)} ({count} {plural}): {why} ──", _YELLOW
            )
        )

    def _kernel_status(self, event: Event) -> None:
        state = str(event.get("state"))
        reason = event.get("reason")
        if state in ("dead", "restarting") and state != self._kernel_state:
            self.note(f"kernel {state}" + (f": {reason}" if reason else ""), _YELLOW)
        self._kernel_state = state

    def _input_request(self, event: Event) -> None:
        # python's input() writes its prompt to stdout, with no newline
        self._head()
        self._write(str(event.get("prompt", "")))

    def _complete(self, event: Event) -> None:
        self._running = None
        self.status = str(event.get("status"))
        code = event.get("exitCode")
        self.exit_code = code if isinstance(code, int) else None
        duration = event.get("durationMs")
        self.duration_ms = float(duration) if isinstance(duration, (int, float)) else 0.0
        self.note(self.summary(), _GREEN if self.status == "ok" else _RED)

    def summary(self) -> str:
        """Return the one-line summary of the finished execution."""
        seconds = _seconds(self.duration_ms / 1000)
        where = f" at {lines_label(*self.failed_at)}" if self.failed_at else ""
        if self.status == "ok":
            plural = "statement" if self.results == 1 else "statements"
            return f"ok: {self.results} {plural} in {seconds}"
        if self.status == "error":
            return f"error{where}" + (f" ({self.failure})" if self.failure else "")
        if self.status == "timeout":
            limit = f"{self.timeout:g} s" if self.timeout else seconds
            return f"timeout after {limit}" + where
        if self.status == "kernel-died":
            return "kernel died" + where
        if self.status == "cancelled":
            return f"cancelled after {seconds}"
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
        text = f"{_SPINNER[self._frame]} {running.label} running {_seconds(now - running.started)}"
        self.err.write(_CLEAR_LINE + self._paint(text, _DIM))
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

    def header(self, event: Event) -> str:
        """Return ``cell N`` (1-based) for the cell that runs."""
        return f"cell {self.cell_index + 1}"

    def _on_running(self, event: Event) -> None:
        self._headed = self.cell_index
        super()._on_running(event)

    def _result(self, event: Event) -> None:
        if self._headed != self.cell_index:  # the kernel died before the cell started
            self._headed = self.cell_index
            self._line(self._paint(f"── {self.header(event)} ──", _DIM))
        super()._result(event)

    def _complete(self, event: Event) -> None:
        self._running = None
        self.status = str(event.get("status"))


# -- the run ------------------------------------------------------------------------------------

#: What ipykernel takes as the end of input (``input()`` raises ``EOFError``).
EOF_INPUT = "\x04"


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
        self.printer.note("cancelling… (Ctrl-C again to quit at once)", _YELLOW)

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


@asynccontextmanager
async def session_channel(
    address: GatewayAddress,
    session_id: str,
    *,
    kernel: str | None = None,
    path: str | None = None,
    delete: bool = True,
) -> AsyncIterator[tuple[ChannelConnection, Event]]:
    """Open (or find) a session, connect to its channel, and yield the channel and snapshot.

    On exit the channel is closed and, with ``delete``, the session (and its kernel) deleted.

    Parameters
    ----------
    address : GatewayAddress
        The gateway.
    session_id : str
        The session to run in.
    kernel : str, optional
        The kernel spec; checked first, so an unknown name fails with the names there are.
    path : str, optional
        The session's path under the server's root: the kernel starts in its directory.
    delete : bool, optional
        Delete the session afterwards.
    """
    channel = ChannelConnection(address)
    opened = False
    try:
        if kernel:
            await channel.check_kernel(kernel)
        snapshot = await channel.open_session(session_id, kernel, path)
        opened = True
        await channel.connect(session_id)
        yield channel, snapshot
    finally:
        channel.close_channel()
        try:
            if opened and delete:
                with contextlib.suppress(RunFailure, asyncio.TimeoutError):
                    await asyncio.wait_for(channel.delete_session(session_id), SHUTDOWN_TIMEOUT)
        finally:
            channel.close()


async def _run_on(
    address: GatewayAddress,
    options: RunOptions,
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
    options: RunOptions,
    printer: TerminalPrinter,
    cancel: asyncio.Event,
    kernel_name: str | None,
) -> int:
    """Run a script statement by statement; with ``--output``, also write it as a notebook/page."""
    recorder = None
    if options.output is not None:
        from .notebook import ScriptRecorder
        from .splitter import split_script

        statements = split_script(options.source, options.line_range, options.script.name)
        recorder = ScriptRecorder(options.source, statements)
        await _describe_kernel(channel, recorder.nb, kernel_name, probe=True, kernelspec=True)
    extra = {"allowErrors": True} if options.allow_errors else {}
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
        printer.note(f"the gateway did not confirm the cancel within {CANCEL_WAIT:g} s", _RED)
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


async def _run_cells(
    channel: ChannelConnection,
    options: RunOptions,
    printer: TerminalPrinter,
    cancel: asyncio.Event,
    kernel_name: str | None,
) -> int:
    """Run a notebook's code cells in cell mode; write the notebook (also a partial one)."""
    from .export import notebook_blocks
    from .notebook import NotebookOptions, NotebookRun, run_notebook

    nb = options.notebook

    def on_event(index: int, event: Event) -> None:
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
        printer.note(f"the gateway did not confirm the cancel within {CANCEL_WAIT:g} s", _RED)
    finally:
        if run is None:
            summary, ok = "the run did not finish", False
        elif run.failure is None:
            plural = "cell" if run.cells_executed == 1 else "cells"
            summary, ok = f"ok: {run.cells_executed} {plural} in {_seconds(run.duration)}", True
        else:
            summary, ok = run.failure.message, False
        printer.note(summary, _GREEN if ok else _RED)
        if options.output is not None:
            # a percent script's notebook says which kernel ran it; a notebook keeps its own
            is_script = options.script.suffix.lower() != ".ipynb"
            with contextlib.suppress(RunFailure, asyncio.TimeoutError):
                await asyncio.wait_for(
                    _describe_kernel(channel, nb, kernel_name, probe=False, kernelspec=is_script),
                    CONNECT_TIMEOUT,
                )
            _write_output(options, nb, notebook_blocks(nb), summary, ok, printer, notebook=True)
    if cancel.is_set() or run is None or (run.failure and run.failure.kind == "cancelled"):
        return EXIT_INTERRUPTED
    return EXIT_OK if run.failure is None else EXIT_FAILED


async def _describe_kernel(
    channel: ChannelConnection,
    nb: Any,
    kernel_name: str | None,
    *,
    probe: bool,
    kernelspec: bool,
) -> None:
    """Fill a notebook's ``kernelspec`` (a script's) and ``language_info`` metadata.

    With ``probe``, the kernel's own ``language_info`` is read (``prepare_kernel``, which
    also waits for the kernel to settle); failing that, the kernel spec's language is used.
    """
    from .notebook import prepare_kernel

    spec = await channel.kernelspec(kernel_name)
    metadata = nb.setdefault("metadata", {})
    if kernelspec and spec is not None and not metadata.get("kernelspec"):
        metadata["kernelspec"] = spec
    info = await prepare_kernel(channel) if probe else metadata.get("language_info")
    if not info and spec is not None and spec.get("language"):
        info = {"name": spec["language"]}
    if info:
        metadata["language_info"] = info


def _write_output(
    options: RunOptions,
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


async def _run(options: RunOptions, printer: TerminalPrinter) -> int:
    if options.url is not None:
        return await _run_on(GatewayAddress.parse(options.url, options.token), options, printer)
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
