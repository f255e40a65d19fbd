"""``pdit-gateway run``: real processes and kernels, a private gateway or the test's server."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pdit_gateway.client import GatewayAddress
from pdit_gateway.printer import TerminalPrinter, render_item
from pdit_gateway.run import UsageError, parse_line_range

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo.py"
CLIENT = REPO / "examples" / "client.py"

#: Seconds one CLI process may take (a private server and a kernel start within it).
CLI_WAIT = 90.0


@dataclass
class Finished:
    """A finished CLI process: exit status, stdout lines with their arrival times, stderr."""

    returncode: int
    lines: list[tuple[float, str]] = field(default_factory=list)
    stderr: str = ""

    @property
    def stdout(self) -> str:
        return "".join(line for _, line in self.lines)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PDIT_GATEWAY_TOKEN", "NO_COLOR")}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


async def _start(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO):
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env or _env(),
    )


async def _finish(process, lines=None, until: str | None = None) -> Finished:
    """Read stdout line by line (timestamped) and stderr until exit; every read is bounded.

    With ``until``, return as soon as a stdout line contains it (the process goes on).
    """
    lines = [] if lines is None else lines
    deadline = time.monotonic() + CLI_WAIT
    stderr_task = asyncio.ensure_future(process.stderr.read()) if until is None else None
    try:
        while True:
            raw = await asyncio.wait_for(process.stdout.readline(), deadline - time.monotonic())
            if not raw:
                break
            line = raw.decode("utf-8")
            lines.append((time.monotonic(), line))
            if until is not None and until in line:
                return Finished(-1, lines)
        returncode = await asyncio.wait_for(process.wait(), deadline - time.monotonic())
        stderr = ""
        if stderr_task is not None:
            stderr = (await asyncio.wait_for(stderr_task, 10)).decode("utf-8")
        return Finished(returncode, lines, stderr)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise


async def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> Finished:
    """Run ``python -m pdit_gateway run ARGS`` to its end."""
    process = await _start("-m", "pdit_gateway", "run", *args, env=env, cwd=cwd)
    return await _finish(process)


def line_of(path: Path, text: str) -> int:
    """Return the 1-based number of the first line of ``path`` that contains ``text``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in {path}")


def in_order(haystack: str, *needles: str) -> None:
    """Assert every needle occurs in ``haystack``, each after the one before."""
    position = 0
    for needle in needles:
        found = haystack.find(needle, position)
        assert found >= 0, f"{needle!r} missing after position {position} of:\n{haystack}"
        position = found + len(needle)


# -- a private gateway ----------------------------------------------------------------------------


async def test_demo_runs_ok_and_prints_in_order():
    done = await run_cli(str(DEMO))
    assert done.returncode == 0, done.stderr
    loop_start = line_of(DEMO, "for step, name in enumerate")
    dict_line = line_of(DEMO, "{name: round(au")
    display_line = line_of(DEMO, "display(HTML(")
    fstring_line = line_of(DEMO, 'f"The farthest')
    in_order(
        done.stdout,
        "── lines 1–7 ──\n# pdit gateway demo",
        f"── lines {loop_start}–{loop_start + 2} ──\n",
        "step 1: measuring Mercury…\n",
        "step 4: measuring Mars…\n",
        f"── line {dict_line} ──\n{{'Mercury': 58.3, 'Venus': 107.7",
        f"── line {display_line} ──\n[text/html output]\n",
        f"── line {fstring_line} ──\nThe farthest of the **4** planets here is **Mars**.\n",
    )
    assert "\x1b[" not in done.stdout  # no colour without a terminal
    assert "⠋" not in done.stderr  # nor a progress line
    assert "ok: " in done.stderr
    assert " statements in " in done.stderr
    assert "Traceback" not in done.stderr
    # the loop's lines were streamed as they were printed, not all at its end
    arrivals = {line.strip(): at for at, line in done.lines}
    assert arrivals["step 4: measuring Mars…"] - arrivals["step 1: measuring Mercury…"] > 0.2


async def test_failing_script_prints_the_traceback_and_what_did_not_run(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("print('before')\nx = 1 / 0\nprint('after')\ny = 2\n")
    done = await run_cli(str(script))
    assert done.returncode == 1
    in_order(
        done.stdout,
        "── line 1 ──\nbefore\n",
        "── line 2 ──\n",
        "ZeroDivisionError",
        "── not run: lines 3–4 (2 statements): an earlier statement failed ──",
    )
    assert "after" not in done.stdout
    assert "\x1b[" not in done.stdout  # the traceback without ANSI codes
    assert "error at line 2 (ZeroDivisionError)" in done.stderr


async def test_color_paints_stderr_and_the_traceback_red(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("import sys\nprint('oops', file=sys.stderr)\n1 / 0\n")
    done = await run_cli(str(script), "--color")
    assert done.returncode == 1
    assert "\x1b[31moops\x1b[0m\n" in done.stdout  # stderr text in red, in stdout order
    assert "\x1b[2m── line 3 ──\x1b[0m" in done.stdout
    # python's traceback (plain text, as python writes it to stderr) in red, line by line
    assert f'\x1b[31m  File "{script}", line 3, in <module>\x1b[0m' in done.stdout
    assert "\x1b[31mZeroDivisionError: division by zero\x1b[0m" in done.stdout


async def test_timeout_stops_the_run(tmp_path):
    script = tmp_path / "spins.py"
    script.write_text("print('spinning')\nwhile True:\n    pass\n")
    done = await run_cli(str(script), "--timeout", "1")
    assert done.returncode == 1
    assert "spinning" in done.stdout
    assert "timeout after 1 s" in done.stderr


async def test_line_range_runs_only_those_lines(tmp_path):
    script = tmp_path / "three.py"
    script.write_text("print('one')\nprint('two')\nprint('three')\n")
    done = await run_cli(str(script), "--lines", "2:2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "── line 2 ──\ntwo\n"
    assert "ok: 1 statement in" in done.stderr


async def test_ctrl_c_cancels_the_execution(tmp_path):
    script = tmp_path / "forever.py"
    script.write_text("print('ready')\nwhile True:\n    pass\n")
    process = await _start("-m", "pdit_gateway", "run", str(script))
    lines: list[tuple[float, str]] = []
    await _finish(process, lines, until="ready")
    process.send_signal(signal.SIGINT)
    done = await _finish(process, lines)
    assert done.returncode == 130
    assert "cancelling" in done.stderr
    assert "cancelled after" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no/such/script.py"], "no/such/script.py: no such file"),
        ([str(DEMO), "--lines", "5:2"], "FROM must not exceed TO"),
        ([str(DEMO), "--lines", "x"], "expected FROM:TO"),
        ([str(DEMO), "--token", "t"], "--token needs --url"),
        ([str(DEMO), "--url", "ftp://example.org/"], "expected http://HOST:PORT/"),
        ([str(DEMO), "--session", "bad id"], "--session"),
        # a private gateway's kernel ends with the run: no later run could see the session
        ([str(DEMO), "--session", "kept"], "--session needs --url"),
    ],
)
async def test_usage_errors_exit_2(args, message):
    done = await run_cli(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


async def test_unknown_kernel_exits_2():
    done = await run_cli(str(DEMO), "--kernel", "no-such-kernel")
    assert done.returncode == 2
    assert "no kernel named 'no-such-kernel'" in done.stderr
    assert "python3" in done.stderr


# -- the test's own server ------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    url: str
    token: str


@pytest.fixture
def server(jp_serverapp, jp_http_port, jp_base_url, http_server) -> Server:
    """The test's jupyter_server, listening (``http_server`` serves its port) for subprocesses."""
    return Server(
        f"http://localhost:{jp_http_port}{jp_base_url}", jp_serverapp.identity_provider.token
    )


async def test_url_and_token_run_on_a_running_server(server, jp_fetch, tmp_path):
    script = tmp_path / "count.py"
    script.write_text("n = 41\nn + 1\n")
    done = await run_cli(
        str(script), "--url", server.url, "--token", server.token, "--session", "kept"
    )
    assert done.returncode == 0, done.stderr
    # a statement that prints nothing takes no line
    assert done.stdout == "── line 2 ──\n42\n"
    # a named session stays, so the next run sees its variables; the token may come from the env
    again = tmp_path / "again.py"
    again.write_text("n * 2\n")
    env = _env(PDIT_GATEWAY_TOKEN=server.token)
    done = await run_cli(str(again), "--url", server.url, "--session", "kept", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("82\n")
    # a run without --session uses a fresh session and deletes it afterwards
    done = await run_cli(str(again), "--url", server.url + f"?token={server.token}")
    assert done.returncode == 1
    assert "NameError" in done.stdout
    response = await jp_fetch("pdit", "api", "sessions")
    assert [s["sessionId"] for s in json.loads(response.body)] == ["kept"]


async def test_wrong_token_exits_2(server, jp_fetch):
    done = await run_cli(str(DEMO), "--url", server.url, "--token", "wrong")
    assert done.returncode == 2
    assert "authentication failed (HTTP 403)" in done.stderr
    assert "Traceback" not in done.stderr
    response = await jp_fetch("pdit", "api", "sessions")
    assert json.loads(response.body) == []  # no session, no kernel was started


async def test_no_gateway_at_the_url_exits_2(server):
    wrong_base = server.url.replace("/a%40b/", "/not-the-base/")
    done = await run_cli(str(DEMO), "--url", wrong_base, "--token", server.token)
    assert done.returncode == 2
    assert "no pdit gateway there (HTTP 404)" in done.stderr
    assert "Traceback" not in done.stderr


async def test_no_server_at_the_url_exits_2():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = await run_cli(str(DEMO), "--url", f"http://127.0.0.1:{port}/")
    assert done.returncode == 2
    assert "cannot connect" in done.stderr
    assert "Traceback" not in done.stderr


async def test_example_client_prints_every_event(server, tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("print('hi')\n1 + 1\n")
    process = await _start(str(CLIENT), server.url, server.token, str(script))
    done = await _finish(process)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for _, line in done.lines]
    assert events[0]["type"] == "welcome"
    assert events[-1]["type"] == "complete"
    assert events[-1]["status"] == "ok"
    kinds = [e["type"] for e in events]
    assert kinds.count("result") == 2
    assert "stream" in kinds


# -- pure parts -----------------------------------------------------------------------------------


def _png(width: int, height: int) -> str:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    ihdr = b"IHDR" + header
    chunk = struct.pack(">I", len(header)) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + chunk).decode()


def test_parse_line_range():
    assert parse_line_range("3:7", 10) == (3, 7)
    assert parse_line_range("4", 10) == (4, 4)
    assert parse_line_range("4:", 10) == (4, 10)
    assert parse_line_range(":2", 10) == (1, 2)
    for bad in ("0:3", "3:1", "a:b", "1:2:3"):
        with pytest.raises(UsageError):
            parse_line_range(bad, 10)


def test_gateway_address():
    address = GatewayAddress.parse("http://host:8888/base/lab?token=abc", None)
    assert address.base_url == "http://host:8888/base/lab/"
    assert address.token == "abc"
    assert address.ws("pdit", "api", "sessions", "s.1", "channel") == (
        "ws://host:8888/base/lab/pdit/api/sessions/s.1/channel"
    )
    secure = GatewayAddress.parse("wss://host/", "given")
    assert secure.http("api") == "https://host/api"
    assert secure.headers() == {"Authorization": "token given"}


def test_render_items():
    assert render_item({"type": "stdout", "content": "x"}, color=False) is None
    assert render_item({"type": "image/png", "content": _png(640, 480)}, color=False) == (
        "[image/png 640×480]"
    )
    image = {"type": "image/jpeg", "content": "", "width": 3, "height": 2}
    assert render_item(image, color=False) == "[image/jpeg 3×2]"
    html = {"type": "text/html", "content": "<b>x</b>", "data": {"text/plain": "x"}}
    assert render_item(html, color=False) == "x"
    bare = {"type": "text/html", "content": "<b>x</b>"}
    assert render_item(bare, color=False) == "[text/html output]"
    opaque = {**bare, "data": {"text/plain": "<IPython.core.display.HTML object>"}}
    assert render_item(opaque, color=False) == "[text/html output]"
    assert render_item({"type": "application/json", "content": '{"a": 1}'}, color=False) == (
        '{\n  "a": 1\n}'
    )
    error = {"type": "error", "content": "E: x", "traceback": ["\x1b[31mE\x1b[0m", "x"]}
    assert render_item(error, color=False) == "E: x"
    assert render_item(error, color=True) == "\x1b[31mE\x1b[0m\nx"


def test_printer_without_a_terminal_draws_no_progress(tmp_path):
    with (tmp_path / "out").open("w+") as out, (tmp_path / "err").open("w+") as err:
        printer = TerminalPrinter(out, err, progress=False)
        printer.handle({"type": "running", "lineStart": 2, "lineEnd": 4})
        printer.handle({"type": "stream", "name": "stdout", "text": "partial"})
        printer.tick()
        printer.handle(
            {"type": "result", "lineStart": 2, "lineEnd": 4, "status": "ok", "output": []}
        )
        printer.handle({"type": "complete", "status": "ok", "durationMs": 1500})
        out.seek(0)
        err.seek(0)
        assert out.read() == "── lines 2–4 ──\npartial\n"
        assert err.read() == "ok: 1 statement in 1.5 s\n"


# -- script semantics in the terminal -------------------------------------------------------


def run_cli_with_input(*args: str, stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``pdit-gateway run ARGS`` with ``stdin`` as its standard input (a pipe)."""
    return subprocess.run(
        [sys.executable, "-m", "pdit_gateway", "run", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=_env(),
        timeout=CLI_WAIT,
        check=False,
    )


async def test_input_reads_the_terminals_standard_input(tmp_path):
    script = tmp_path / "ask.py"
    script.write_text("name = input('Name: ')\nprint('hello', name)\nprint(input('Again: '))\n")
    done = await asyncio.to_thread(
        run_cli_with_input, str(script), stdin="Ada\nBob\n", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    # the prompt is written to stdout, as python's input() writes it
    in_order(done.stdout, "Name: ", "hello Ada", "Again: ", "Bob")


async def test_input_at_the_end_of_standard_input_raises_eoferror(tmp_path):
    script = tmp_path / "ask.py"
    script.write_text("value = input('Value: ')\n")
    done = await asyncio.to_thread(run_cli_with_input, str(script), stdin="", cwd=tmp_path)
    assert done.returncode == 1
    assert "EOFError: EOF when reading a line" in done.stdout


async def test_sys_exit_is_the_exit_status(tmp_path):
    script = tmp_path / "exits.py"
    script.write_text("import sys\nprint('before')\nsys.exit(7)\nprint('after')\n")
    done = await run_cli(str(script))
    assert done.returncode == 7
    assert "before" in done.stdout and "after" not in done.stdout
    assert "exited with status 7" in done.stderr


async def test_the_kernel_runs_in_the_shells_directory(tmp_path):
    (tmp_path / "project").mkdir()
    (tmp_path / "data.txt").write_text("from the shell's directory\n")
    script = tmp_path / "project" / "where.py"
    script.write_text(
        "import os, sys\nprint(os.getcwd())\nprint(__file__)\nprint(open('data.txt').read())\n"
    )
    done = await run_cli("project/where.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    in_order(done.stdout, str(tmp_path), str(script), "from the shell's directory")


async def test_only_statements_with_output_get_a_header(tmp_path):
    script = tmp_path / "quiet.py"
    script.write_text("a = 1\nb = 2\nprint(a + b)\nc = 3\nc * 2\n")
    done = await run_cli(str(script))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "── line 3 ──\n3\n── line 5 ──\n6\n"


# -- --watch ---------------------------------------------------------------------------------------


async def _read_until(process, seen: list[str], text: str, wait: float) -> bool:
    """Read merged output lines until one contains ``text``; False after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            raw = await asyncio.wait_for(process.stdout.readline(), left)
        except asyncio.TimeoutError:
            return False
        if not raw:
            raise AssertionError("the CLI ended:\n" + "".join(seen))
        seen.append(raw.decode("utf-8"))
        if text in seen[-1]:
            return True


async def test_watch_reruns_only_the_changed_statements_on_save(tmp_path):
    script = tmp_path / "watched.py"
    source = (
        "import pathlib\n"
        "pathlib.Path('loads.txt').open('a').write('load\\n')\n"
        "total = sum([1, 2, 3])\n"
        "print('total', total)\n"
    )
    script.write_text(source)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pdit_gateway", "run", "--watch", str(script),
        stdin=subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, cwd=tmp_path, env=_env(),
    )  # fmt: skip
    seen: list[str] = []
    try:
        assert await _read_until(process, seen, "watching", CLI_WAIT), "".join(seen)
        assert "total 6\n" in seen
        first = len(seen)
        # the watcher may start a moment after its note: save again until the rerun shows
        for _ in range(10):
            script.write_text(source.replace("print('total', total)", "print('sum', total)"))
            if await _read_until(process, seen, "sum 6", 3.0):
                break
        else:
            raise AssertionError("no rerun after the edit:\n" + "".join(seen))
        assert await _read_until(process, seen, "watching", CLI_WAIT), "".join(seen)
        rerun = "".join(seen[first:])
        in_order(rerun, "changed: running what changed", "── line 4 ──", "sum 6", "ok: 1 statement")
        assert "3 statements kept their result" in rerun
        assert "line 2" not in rerun and "total 6" not in rerun
        assert (tmp_path / "loads.txt").read_text() == "load\n"  # the loader ran once
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), CLI_WAIT) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_watch_takes_no_line_range():
    done = await run_cli(str(DEMO), "--watch", "--lines", "1:2")
    assert done.returncode == 2
    assert "--watch reruns a whole script" in done.stderr
