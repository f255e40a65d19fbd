"""Soak test: N sessions run random scripts on a real gateway for M minutes; every event is checked.

Run: ``python bench/soak.py [--sessions 20] [--minutes 10] [--seed 1] [--out docs/img/soak.png]
[--json results.json]``. Needs matplotlib for the plot (``pip install matplotlib``); Linux only
(memory and processes are read from ``/proc``). docs/reliability.md says what is checked and
shows the figures of a full run.

The gateway is started from the working tree (``python -m pdit_gateway``) on 127.0.0.1 with a
random token. One worker per session runs, back to back, a random mix of scripts whose events
are known in advance (prints, expressions, errors, infinite loops ended by the execution
timeout, loops that ignore the interrupt so the kernel is restarted, cancels, and output floods
that overflow the event log) and drops its socket at random moments, then reconnects and sends
``resume {lastSeq}``. The process exits with status 1 when an event was lost, an execution hung
or ended with an unexpected status, the protocol was broken, a kernel died or outlived its
session or the gateway, or the gateway stopped before the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import importlib.metadata
import json
import math
import os
import re
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from random import Random
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from pdit_gateway.client import GatewayAddress, execute_frame
from pdit_gateway.process import free_port, gateway_argv

# -- bounds (seconds): every wait in this script has one --------------------------------------
CONNECT_TIMEOUT = 30.0  # open a socket and get its welcome
START_TIMEOUT = 60.0  # the gateway answers HTTP
WARMUP_TIMEOUT = 180.0  # every session's kernel is up and ran a first script
#: An execution without its complete after the longer of HANG_MIN and its own bound (its
#: timeout + interrupt_grace + kernel_ready_timeout) + HANG_MARGIN is a hang.
HANG_MIN = 60.0
HANG_MARGIN = 15.0
RECOVER_TIMEOUT = 20.0  # after a hang: wait this long for the cancel to end it
HTTP_TIMEOUT = 60.0  # one REST request (a DELETE waits for the kernel shutdown)
KERNELS_GONE_TIMEOUT = 30.0  # after the DELETEs: kernel processes must be gone by then
STOP_TIMEOUT = 30.0  # SIGTERM to exit, before SIGKILL
LEFTOVER_GRACE = 5.0  # after the gateway exited: let orphaned kernels notice
SAMPLE_INTERVAL = 2.0  # RSS / kernel count sampling period

# -- the load --------------------------------------------------------------------------------
#: The gateway traits the soak asks for; only those the gateway has are passed.
WANTED_TRAITS = {
    "execution_timeout": "5",
    "interrupt_grace": "1",
    "event_log_size": "2000",
    "kernel_poll_interval": "0.5",
    "db_path": ":memory:",
}
#: Relative frequency of each kind of script.
WEIGHTS = {
    "print": 30,
    "expr": 25,
    "error": 15,
    "cancel": 12,
    "timeout": 6,
    "timeout-restart": 2,
    "flood": 3,
}
SHORT_KINDS = ("print", "expr", "error")  # their execute→complete latency is reported
DROP_PROBABILITY = 0.15  # share of executions whose socket is dropped mid-run
THINK_TIME = 0.3  # at most this long (uniform) between two executions of a worker
FLOOD_TIMEOUT = 60.0  # the flood's own execution timeout (it may be slow on a loaded machine)
CANCEL_TIMEOUT = 30.0  # the cancelled loop's own timeout: the cancel, not the timeout, ends it
#: Share of the timed-out loops that spin the CPU; the others sleep, so that 20 kernels on a
#: small machine do not starve the gateway of CPU (what is measured is the gateway).
BUSY_LOOP_SHARE = 0.1

PR_SET_PDEATHSIG = 1
#: A jupyter_server log line ("[W 2026-01-01 10:00:00.000 App] message") and what varies in it.
LOG_LINE = re.compile(r"\[(?P<level>[WEC]) \S+ \S+ \S+\] (?P<message>.*)")
LOG_IDS = re.compile(r"soak-[\w-]+|0x[0-9a-f]+|\b[0-9a-f]{8}-[0-9a-f-]{27}\b|\d+(\.\d+)?")
STOP_MESSAGE = "received signal 15, stopping"
KERNEL_FILE = re.compile(rb"kernel-([0-9a-f-]{36})\.json")


# ==============================================================================================
# What each script must produce
# ==============================================================================================

Check = Callable[[dict[str, Any]], str | None]


@dataclass
class Spec:
    """One script and everything its execution must produce."""

    kind: str
    script: str
    status: str  # the complete status
    stdout: str = ""
    stderr: str = ""
    #: statement index → check of its result (None: any content); exactly these get a result
    results: dict[int, Check | None] = field(default_factory=dict)
    #: indices listed in the ``cancelled`` event (None: no such event) and its reason
    cancelled: tuple[int, ...] | None = None
    cancel_reason: str | None = None
    timeout: float | None = None  # the request's own timeout
    cancel_after_running: int | None = None  # send ``cancel`` once this statement runs
    flood: bool = False
    interrupted: bool = False  # a statement is interrupted: see INTERRUPTED_STDERR

    def stream_ok(self, stream: str, got: str) -> bool:
        expected = self.stdout if stream == "stdout" else self.stderr
        return got == expected or (
            self.interrupted and stream == "stderr" and got == expected + INTERRUPTED_STDERR
        )


def plain_is(expected: str) -> Check:
    def check(result: dict[str, Any]) -> str | None:
        items = [i for i in result["output"] if i.get("type") == "text/plain"]
        if result.get("status") != "ok" or [i["content"] for i in items] != [expected]:
            return f"expected text/plain {expected!r}, got {result['output']!r}"
        return None

    return check


def markdown_is(expected: str) -> Check:
    def check(result: dict[str, Any]) -> str | None:
        items = [(i.get("type"), i.get("content")) for i in result["output"]]
        if result.get("status") != "ok" or items != [("text/markdown", expected)]:
            return f"expected markdown {expected!r}, got {result['output']!r}"
        return None

    return check


def raised(*enames: str) -> Check:
    def check(result: dict[str, Any]) -> str | None:
        names = [i.get("ename") for i in result["output"] if i.get("type") == "error"]
        if result.get("status") != "error" or len(names) != 1 or names[0] not in enames:
            return (
                f"expected status error and one error of {enames}, got status "
                f"{result.get('status')} and {result['output']!r}"
            )
        return None

    return check


#: What IPython prints, with no error item, when an interrupt lands in its own code rather than
#: in the statement: a kernel behaviour, accepted for interrupted statements.
INTERRUPTED_STDERR = "\nKeyboardInterrupt\n\n"


def interrupted(*enames: str) -> Check:
    """Like ``raised``, or IPython's bare ``KeyboardInterrupt`` on stderr."""
    strict = raised(*enames)

    def check(result: dict[str, Any]) -> str | None:
        bare = [{"type": "stderr", "content": INTERRUPTED_STDERR}]
        return None if result["output"] == bare else strict(result)

    return check


def make_spec(kind: str, rng: Random, tag: str, flood_lines: int) -> Spec:
    """Return a random script of ``kind`` whose output is known (``tag`` makes it unique)."""
    if kind == "print":
        lines: list[str] = []
        out, err = [], []
        for j in range(rng.randint(1, 6)):
            choice = rng.random()
            if choice < 0.6:
                lines.append(f"print('{tag} line {j}')")
                out.append(f"{tag} line {j}\n")
            elif choice < 0.85:
                count = rng.randint(2, 20)
                lines.append(f"for k in range({count}):\n    print('{tag} loop {j}', k)")
                out.extend(f"{tag} loop {j} {k}\n" for k in range(count))
            else:
                lines.append(f"import sys; print('{tag} err {j}', file=sys.stderr)")
                err.append(f"{tag} err {j}\n")
        return Spec(
            kind,
            "\n".join(lines) + "\n",
            "ok",
            "".join(out),
            "".join(err),
            results=dict.fromkeys(range(len(lines))),
        )
    if kind == "expr":
        a, b = rng.randint(-1000, 1000), rng.randint(1, 1000)
        statements: list[tuple[str, Check | None]] = [
            (f"a = {a}", None),
            (f"b = {b}", None),
            ("a + b", plain_is(str(a + b))),
            ("a * b", plain_is(str(a * b))),
            ("[a, b, a - b]", plain_is(str([a, b, a - b]))),
            ("'x' * (b % 5 + 1)", plain_is(repr("x" * (b % 5 + 1)))),
            (f'"""\n# {tag}\n"""', markdown_is(f"# {tag}")),
            ('f"{a} and {b}"', markdown_is(f"{a} and {b}")),
        ]
        chosen = statements[:2] + rng.sample(statements[2:], rng.randint(1, len(statements) - 2))
        return Spec(
            kind,
            "\n".join(code for code, _ in chosen) + "\n",
            "ok",
            results={i: check for i, (_, check) in enumerate(chosen)},
        )
    if kind == "error":
        if rng.random() < 0.2:  # a syntax error: one expression, nothing reaches the kernel
            return Spec(
                kind,
                f"print('{tag}')\nx = (1,\ny = 2\n",
                "error",
                results={0: raised("SyntaxError")},
            )
        return Spec(
            kind,
            f"print('{tag} before')\nx = 1\nraise ValueError('{tag}')\nprint('after')\nx + 1\n",
            "error",
            stdout=f"{tag} before\n",
            results={0: None, 1: None, 2: raised("ValueError")},
            cancelled=(3, 4),
            cancel_reason="error",
        )
    if kind == "timeout":  # interrupted by the execution timeout; the namespace is kept
        body = "pass" if rng.random() < BUSY_LOOP_SHARE else "time.sleep(0.01)"
        return Spec(
            kind,
            f"print('{tag} start')\nimport time\nwhile True:\n    {body}\nprint('never')\n",
            "timeout",
            stdout=f"{tag} start\n",
            results={0: None, 1: None, 2: interrupted("KeyboardInterrupt")},
            cancelled=(3,),
            cancel_reason="timeout",
            interrupted=True,
        )
    if kind == "timeout-restart":  # ignores the interrupt: the kernel is restarted
        return Spec(
            kind,
            f"print('{tag} start')\n"
            "def spin():\n"
            "    import signal, time\n"
            "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "    while True:\n"
            "        time.sleep(0.01)\n"
            "spin()\n"
            "print('never')\n",
            "timeout",
            stdout=f"{tag} start\n",
            results={0: None, 1: None, 2: raised("TimeoutError")},
            cancelled=(3,),
            cancel_reason="timeout",
        )
    if kind == "cancel":  # cancelled by the client while the loop runs
        return Spec(
            kind,
            f"print('{tag} start')\nimport time\n"
            "while True:\n    time.sleep(0.05)\nprint('never')\n",
            "cancelled",
            stdout=f"{tag} start\n",
            # the loop does not ignore SIGINT: a restart would have lost the namespace
            results={0: None, 1: None, 2: interrupted("KeyboardInterrupt")},
            cancelled=(3,),
            cancel_reason="cancel",
            interrupted=True,
            timeout=CANCEL_TIMEOUT,
            cancel_after_running=2,
        )
    if kind == "flood":  # more stream events than the event log holds, while disconnected
        return Spec(
            kind,
            f"for i in range({flood_lines}):\n    print('{tag}', i, flush=True)\n",
            "ok",
            stdout="".join(f"{tag} {i}\n" for i in range(flood_lines)),
            results={0: None},
            timeout=FLOOD_TIMEOUT,
            flood=True,
        )
    raise ValueError(kind)


# ==============================================================================================
# Processes, from /proc
# ==============================================================================================


def rss_mb(pid: int) -> float | None:
    """Return the resident set size of ``pid`` in MB (None if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """Return the user + system CPU time of ``pid`` in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    """Return the 1-minute load average of the machine."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """Return (ppid, start time in clock ticks) of ``pid``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[19])


def _is_kernel(pid: int) -> bool:
    """A kernel process names its connection file (``-f .../kernel-<id>.json``) whatever its
    launcher (ipykernel's or the gateway's, ``pdit_gateway.kernel_launcher``)."""
    return kernel_id(pid) is not None


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def kernel_children(parent: int) -> set[tuple[int, int]]:
    """Return (pid, start time) of the kernel processes whose parent is ``parent``."""
    found = set()
    for pid in _pids():
        stat = _proc_stat(pid)
        if stat is not None and stat[0] == parent and _is_kernel(pid):
            found.add((pid, stat[1]))
    return found


def kernel_id(pid: int) -> str | None:
    """Return the kernel id in a kernel's command line (its connection file's name)."""
    try:
        match = KERNEL_FILE.search(Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return None
    return match.group(1).decode() if match else None


def kernels_of_gateway(gateway_pid: int, seen: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Return the live kernels the gateway started, also once it has exited.

    A kernel is recognised by its parent, by ``JPY_PARENT_PID`` (jupyter_client sets it to
    the launching process) or by being one of the kernels seen earlier (same start time).
    """
    marker = f"JPY_PARENT_PID={gateway_pid}".encode()
    found = set()
    for pid in _pids():
        stat = _proc_stat(pid)
        if stat is None or not _is_kernel(pid):
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            environ = []
        if stat[0] == gateway_pid or marker in environ or (pid, stat[1]) in seen:
            found.add((pid, stat[1]))
    return found


def die_with_parent() -> None:
    """In the child: get SIGTERM if this script dies, so no gateway outlives a crashed soak."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# ==============================================================================================
# The gateway under test
# ==============================================================================================


class Gateway:
    """The standalone gateway as a subprocess, its URLs and its log."""

    def __init__(self, workdir: Path, extra_args: list[str]) -> None:
        self.workdir = workdir
        self.extra_args = extra_args
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.traits: dict[str, str] = {}
        self.defaults: dict[str, str | None] = {}
        self.skipped: list[str] = []
        self.http = AsyncHTTPClient()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def available_traits(self) -> dict[str, str | None]:
        """Return the PditGatewayApp traits this working tree accepts, with their defaults."""
        out = subprocess.run(
            [sys.executable, "-m", "pdit_gateway", "--help-all"],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        ).stdout
        prefix = "--PditGatewayApp."
        traits: dict[str, str | None] = {}
        name = None
        for line in out.splitlines():
            line = line.strip()
            if line.startswith(prefix):
                name = line[len(prefix) :].split("=", 1)[0]
                traits[name] = None
            elif name is not None and line.startswith("Default:"):
                traits[name] = line.removeprefix("Default:").strip().strip("'")
        return traits

    def hang_after(self, timeout: float | None) -> float:
        """Return how long an execution may take before it counts as a hang.

        The gateway's own bound is the execution's timeout, then ``interrupt_grace``,
        then a kernel restart of up to ``kernel_ready_timeout``; past it (plus a margin),
        or past ``HANG_MIN`` if that is longer, the execution hangs.
        """
        if timeout is None:
            timeout = float(self.setting("execution_timeout") or 0)
        bound = (
            timeout
            + float(self.setting("interrupt_grace") or 0)
            + float(self.setting("kernel_ready_timeout") or 0)
            + HANG_MARGIN
        )
        return max(HANG_MIN, bound)

    def setting(self, name: str) -> str | None:
        """Return the value the gateway runs with for trait ``name`` (None: unknown trait)."""
        for arg in reversed(self.extra_args):
            if arg.startswith(f"--PditGatewayApp.{name}="):
                return arg.split("=", 1)[1]
        return self.traits.get(name, self.defaults.get(name))

    def start(self) -> None:
        self.defaults = self.available_traits()
        self.traits = {k: v for k, v in WANTED_TRAITS.items() if k in self.defaults}
        self.skipped = [k for k in WANTED_TRAITS if k not in self.defaults]
        args = gateway_argv(
            self.token,
            "--ServerApp.log_level=WARN",
            f"--ServerApp.root_dir={self.workdir}",
            *(f"--PditGatewayApp.{k}={v}" for k, v in self.traits.items()),
            *self.extra_args,
            port=self.port,
        )
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(self.workdir / "runtime")}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=die_with_parent,
            )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError, HTTPClientError):
                await self.request("GET", "/pdit/api/sessions", timeout=2)
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the gateway did not start; its log:\n{self.log_tail()}")

    async def request(
        self, method: str, path: str, timeout: float = HTTP_TIMEOUT
    ) -> dict[str, Any] | list[Any] | None:
        response = await self.http.fetch(
            HTTPRequest(
                self.base + path,
                method=method,
                headers={"Authorization": f"token {self.token}"},
                connect_timeout=timeout,
                request_timeout=timeout,
            )
        )
        return json.loads(response.body) if response.body else None

    def ws_request(self, session_id: str) -> HTTPRequest:
        address = GatewayAddress.local(self.port, self.token)
        return HTTPRequest(
            address.channel_url(session_id),
            headers=address.headers(),
            connect_timeout=CONNECT_TIMEOUT,
            request_timeout=CONNECT_TIMEOUT,
        )

    def stop(self) -> dict[str, Any]:
        """SIGTERM, a bounded wait, then SIGKILL; return how it ended."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return {"crashed": True, "returncode": self.proc.returncode, "killed": False}
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        killed = False
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
            killed = True
        return {
            "crashed": False,
            "returncode": self.proc.returncode,
            "killed": killed,
            "stopSeconds": round(time.monotonic() - started, 2),
        }

    def log_has(self, text: str) -> bool:
        with contextlib.suppress(OSError):
            return text in self.log_path.read_text(errors="replace")
        return False

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_problems(self) -> dict[str, Any]:
        """Count the gateway's warning and error lines by message, and its tracebacks."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return {}
        counts: dict[str, Counter[str]] = {"errors": Counter(), "warnings": Counter()}
        for line in lines:
            match = LOG_LINE.match(line)
            if match is None or STOP_MESSAGE in line:  # (the SIGTERM this script sends)
                continue
            key = "warnings" if match["level"] == "W" else "errors"
            counts[key][LOG_IDS.sub("<id>", match["message"])] += 1
        return {
            "errors": sum(counts["errors"].values()),
            "warnings": sum(counts["warnings"].values()),
            "tracebacks": sum(1 for line in lines if line.startswith("Traceback")),
            "errorKinds": dict(counts["errors"].most_common(10)),
            "warningKinds": dict(counts["warnings"].most_common(10)),
        }


# ==============================================================================================
# Results of the whole run
# ==============================================================================================


@dataclass
class Stats:
    """Everything the workers count."""

    by_kind: Counter[str] = field(default_factory=Counter)
    drops: int = 0
    connects: int = 0
    resyncs: int = 0
    restarts: int = 0  # kernel-status restarting events
    frames: int = 0
    lost: list[str] = field(default_factory=list)  # events lost or duplicated
    wrong_status: list[str] = field(default_factory=list)
    protocol: list[str] = field(default_factory=list)  # other breaches of the protocol
    hangs: list[str] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)  # seconds, short kinds without drops
    latency_by_kind: dict[str, list[float]] = field(default_factory=dict)
    stopped_workers: list[str] = field(default_factory=list)
    session_kernels: set[str] = field(default_factory=set)  # kernel ids sessions ever used
    kernel_deaths: list[str] = field(default_factory=list)  # kernel-status dead during the load


class Closed(Exception):
    """The socket was closed by the server."""


class Hang(Exception):
    """An execution did not complete in time."""


@dataclass
class Track:
    """What one connection-independent execution has shown so far."""

    spec: Spec
    eid: str
    sent: float
    queued: int = 0
    expressions: int = 0
    completes: list[dict[str, Any]] = field(default_factory=list)
    results: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    cancelled: list[dict[str, Any]] = field(default_factory=list)
    running: set[int] = field(default_factory=set)
    last_index: int = -1
    order_errors: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    resynced: bool = False
    final: dict[str, Any] | None = None  # execution snapshot, when a resync cut the stream
    cancel_sent: bool = False
    cancel_refused: bool = False
    dropped: bool = False

    @property
    def done(self) -> bool:
        return bool(self.completes) or self.final is not None

    def add(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if self.done:
            self.late.append(f"{kind} seq {event['seq']} after the execution ended")
        if "index" in event:
            if event["index"] < self.last_index:
                self.order_errors.append(
                    f"{kind} of statement {event['index']} after statement {self.last_index}"
                )
            self.last_index = max(self.last_index, event["index"])
        if kind == "queued":
            self.queued += 1
        elif kind == "expressions":
            self.expressions += 1
        elif kind == "running":
            self.running.add(event["index"])
        elif kind == "stream":
            (self.stdout if event["name"] == "stdout" else self.stderr).append(event["text"])
        elif kind == "result":
            self.results.setdefault(event["index"], []).append(event)
        elif kind == "cancelled":
            self.cancelled.append(event)
        elif kind == "complete":
            self.completes.append(event)

    def on_resync(self, snapshot: dict[str, Any]) -> None:
        self.resynced = True
        for execution in snapshot.get("executions", []):
            if execution.get("executionId") == self.eid:
                if execution["status"] not in ("queued", "running"):
                    self.final = execution
                elif "running" in execution:
                    self.running.add(execution["running"]["index"])
                return
        self.late.append("the execution is missing from the resync snapshot")
        self.final = {"status": "missing", "results": {}}


#: What a lost-event description says, for counting them by cause (first match wins).
LOST_CAUSES = (
    ("seq gap", "seq gap"),
    ("again (last seen", "seq repeated"),
    ("complete events", "complete missing or repeated"),
    ("queued events", "queued missing or repeated"),
    ("expressions events", "expressions missing or repeated"),
    ("after the execution ended", "event after complete"),
    ("after it was verified", "event after complete"),
    ("missing from", "execution missing from snapshot"),
    ("unexpected results", "statements ran after the stop"),
    ("results for statement", "result repeated"),
    ("no result for", "result missing"),
    ("cancelled events", "cancelled event differs"),
    ("stream text differs", "stream text missing or repeated"),
    ("statement", "result content differs"),
)


def lost_cause(description: str) -> str:
    return next((cause for key, cause in LOST_CAUSES if key in description), "other")


def lost_kind(description: str) -> str:
    """Return the script kind in a lost-event description ("stream" for seq problems)."""
    words = description.split()
    return "stream" if words[0].endswith(":") else words[1]


def describe_text(expected: str, got: str) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
        min(len(expected), len(got)),
    )
    return (
        f"stream text differs at char {at} (expected {len(expected)} chars, got {len(got)}): "
        f"expected {expected[at : at + 40]!r}, got {got[at : at + 40]!r}"
    )


def verify(track: Track, stats: Stats, where: str) -> None:
    """Check a finished execution against its spec; record every difference."""
    spec = track.spec
    name = f"{where} {spec.kind} {track.eid}"
    for problem in track.late:
        stats.lost.append(f"{name}: {problem}")
    for problem in track.order_errors:
        stats.protocol.append(f"{name}: order: {problem}")
    if not track.resynced:
        if len(track.completes) != 1:
            stats.lost.append(f"{name}: {len(track.completes)} complete events")
        if track.queued != 1:
            stats.lost.append(f"{name}: {track.queued} queued events")
        if track.expressions != 1:
            stats.lost.append(f"{name}: {track.expressions} expressions events")
        if not track.completes:
            return
        status = track.completes[0]["status"]
        if status != spec.status:
            stats.wrong_status.append(f"{name}: complete {status}, expected {spec.status}")
            return
        for stream, expected, got in (
            ("stdout", spec.stdout, "".join(track.stdout)),
            ("stderr", spec.stderr, "".join(track.stderr)),
        ):
            if not spec.stream_ok(stream, got):
                stats.lost.append(f"{name}: {stream} {describe_text(expected, got)}")
        results = {index: events[-1] for index, events in track.results.items()}
        for index, events in track.results.items():
            if len(events) != 1:
                stats.lost.append(f"{name}: {len(events)} results for statement {index}")
        check_results(name, spec, results, stats)
        reasons = [
            (tuple(e["index"] for e in c["expressions"]), c["reason"]) for c in track.cancelled
        ]
        expected_cancel = [] if spec.cancelled is None else [(spec.cancelled, spec.cancel_reason)]
        if reasons != expected_cancel:
            stats.lost.append(f"{name}: cancelled events {reasons}, expected {expected_cancel}")
        return
    # a resync cut the stream: the execution snapshot is the truth
    final = track.final
    assert final is not None
    status = final["status"]
    if status != spec.status:
        if status == "missing":
            stats.lost.append(f"{name}: the execution is missing from the snapshot")
        else:
            stats.wrong_status.append(f"{name}: snapshot status {status}, expected {spec.status}")
        return
    results = {int(index): result for index, result in final["results"].items()}
    check_results(name, spec, results, stats)
    for stream, expected in (("stdout", spec.stdout), ("stderr", spec.stderr)):
        got = "".join(
            item["content"]
            for _, result in sorted(results.items())
            for item in result["output"]
            if item.get("type") == stream
        )
        if not spec.stream_ok(stream, got):
            stats.lost.append(f"{name}: snapshot {stream} {describe_text(expected, got)}")


def check_results(name: str, spec: Spec, results: dict[int, dict[str, Any]], stats: Stats) -> None:
    missing = sorted(set(spec.results) - set(results))
    extra = sorted(set(results) - set(spec.results))
    if missing:
        stats.lost.append(f"{name}: no result for statements {missing}")
    if extra:
        stats.lost.append(f"{name}: unexpected results for statements {extra}")
    for index, check in spec.results.items():
        if check is not None and index in results:
            problem = check(results[index])
            if problem is not None:
                stats.lost.append(f"{name}: statement {index}: {problem}")


# ==============================================================================================
# One session's worker
# ==============================================================================================


class Worker:
    """One session: runs scripts back to back, drops and resumes its socket, checks every event."""

    def __init__(
        self,
        index: int,
        run_tag: str,
        gateway: Gateway,
        stats: Stats,
        rng: Random,
        weights: dict[str, float],
    ) -> None:
        self.index = index
        self.weights = weights
        self.session_id = f"soak-{run_tag}-{index}"
        self.gateway = gateway
        self.stats = stats
        self.rng = rng
        self.flood_lines = int(WANTED_TRAITS["event_log_size"]) + 500
        self.ws: WebSocketClientConnection | None = None
        self.seq = 0  # the last session seq seen
        self.track: Track | None = None
        self.ended: set[str] = set()  # executions already verified
        self.count = 0
        self.kernel_idle = asyncio.Event()

    # -- the socket ----------------------------------------------------------------------

    async def connect(self) -> None:
        ws = await asyncio.wait_for(
            websocket_connect(
                self.gateway.ws_request(self.session_id), max_message_size=256 * 1024 * 1024
            ),
            CONNECT_TIMEOUT,
        )
        message = await asyncio.wait_for(ws.read_message(), CONNECT_TIMEOUT)
        if message is None:
            raise Closed(f"closed before welcome (code {ws.close_code})")
        welcome = json.loads(message)
        if welcome.get("type") != "welcome":
            self.stats.protocol.append(f"{self.session_id}: first frame {welcome.get('type')}")
        else:
            self.note_kernel(welcome.get("kernel"))
            if welcome["lastSeq"] < self.seq:
                self.stats.protocol.append(
                    f"{self.session_id}: welcome lastSeq {welcome['lastSeq']} < seen {self.seq}"
                    " (the session was replaced)"
                )
        await ws.write_message(json.dumps({"type": "resume", "lastSeq": self.seq}))
        self.ws = ws
        self.stats.connects += 1

    def note_kernel(self, kernel: dict[str, Any] | None) -> None:
        if kernel and kernel.get("id"):
            self.stats.session_kernels.add(kernel["id"])

    def drop(self) -> None:
        """Cut the socket: a clean close or a torn-down TCP connection."""
        ws, self.ws = self.ws, None
        if ws is None:
            return
        self.stats.drops += 1
        if self.track is not None:
            self.track.dropped = True
        stream = getattr(ws, "stream", None)
        if self.rng.random() < 0.5 and stream is not None:
            stream.close()  # no close handshake, as when a network goes away
        else:
            ws.close()

    async def reconnect(self) -> None:
        self.drop()
        await asyncio.sleep(self.rng.uniform(0, 0.5))
        await self.connect()

    async def send(self, payload: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.write_message(json.dumps(payload))

    async def receive(self, timeout: float) -> bool:
        """Handle one frame; return False if none came within ``timeout``."""
        assert self.ws is not None
        try:
            message = await asyncio.wait_for(self.ws.read_message(), max(timeout, 0.01))
        except asyncio.TimeoutError:
            return False
        if message is None:
            raise Closed(f"code {self.ws.close_code} {self.ws.close_reason!r}")
        self.on_frame(json.loads(message))
        return True

    def on_frame(self, frame: dict[str, Any]) -> None:
        stats = self.stats
        stats.frames += 1
        kind = frame.get("type")
        where = self.session_id
        if "seq" in frame:
            seq = frame["seq"]
            if seq <= self.seq:
                stats.lost.append(f"{where}: seq {seq} again (last seen {self.seq}), {kind}")
            elif seq != self.seq + 1:
                stats.lost.append(f"{where}: seq gap {self.seq + 1}..{seq - 1} before {kind}")
            self.seq = max(self.seq, seq)
            eid = frame.get("executionId")
            if kind == "kernel-status":
                if frame["state"] == "idle":
                    self.kernel_idle.set()
                elif frame["state"] == "restarting":
                    stats.restarts += 1
                elif frame["state"] == "dead":
                    stats.kernel_deaths.append(f"{where}: {frame.get('reason')}")
            elif self.track is not None and eid == self.track.eid:
                self.track.add(frame)
            elif eid in self.ended:
                stats.lost.append(f"{where}: {kind} of {eid} after it was verified")
            else:
                stats.protocol.append(f"{where}: {kind} of an unknown execution {eid}")
        elif kind == "resync":
            stats.resyncs += 1
            self.seq = frame["lastSeq"]
            self.note_kernel(frame.get("kernel"))
            if frame.get("kernel", {}).get("state") in ("idle", "busy"):
                self.kernel_idle.set()
            if self.track is not None:
                self.track.on_resync(frame)
        elif kind == "error":
            eid = frame.get("executionId")
            if frame.get("code") == "execution-finished" and self.track and eid == self.track.eid:
                self.track.cancel_refused = True  # the cancel came after the end: not an error
            elif frame.get("code") == "execution-finished" and eid in self.ended:
                pass  # the same, answered after the execution was verified
            else:
                stats.protocol.append(f"{where}: error reply {frame}")
        elif kind not in ("pong", "state", "welcome"):
            stats.protocol.append(f"{where}: unexpected reply {kind}")

    # -- executions ----------------------------------------------------------------------

    def pick_kind(self) -> str:
        kinds = list(self.weights)
        return self.rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]

    async def run_one(self, kind: str, record: bool = True) -> None:
        self.count += 1
        tag = f"w{self.index}e{self.count}"
        spec = make_spec(kind, self.rng, tag, self.flood_lines)
        track = Track(spec, f"{self.session_id}-{self.count}", time.monotonic())
        self.track = track
        drop_after = (
            self.rng.randint(1, 8) if not spec.flood and self.rng.random() < DROP_PROBABILITY else 0
        )
        cancel_delay = self.rng.uniform(0, 0.5)
        cancel_at: float | None = None
        request = execute_frame(
            spec.script, execution_id=track.eid, script_name=f"{kind}.py", timeout=spec.timeout
        )
        await self.send(request)
        deadline = track.sent + self.gateway.hang_after(spec.timeout)
        seen = 0
        while not track.done:
            now = time.monotonic()
            if now >= deadline:
                raise Hang(track.eid)
            if (
                spec.cancel_after_running is not None
                and not track.cancel_sent
                and spec.cancel_after_running in track.running
            ):
                if cancel_at is None:
                    cancel_at = now + cancel_delay
                if now >= cancel_at:
                    await self.send({"type": "cancel", "executionId": track.eid})
                    track.cancel_sent = True
            if spec.flood and track.queued and not track.dropped:
                await self.flood_away(track, deadline)
                continue
            wait = deadline - now
            if cancel_at is not None and not track.cancel_sent:
                wait = min(wait, max(0.0, cancel_at - now))
            try:
                got = await self.receive(min(wait, 1.0))
            except Closed as err:
                self.stats.protocol.append(
                    f"{self.session_id}: the server closed the socket: {err}"
                )
                await self.reconnect()
                continue
            if got:
                seen += 1
                if drop_after and seen == drop_after and not track.done:
                    await self.reconnect()
        if track.resynced and track.final is None:
            # the stream was cut and the end came live: read the final state over REST
            snapshot = await self.gateway.request(
                "GET", f"/pdit/api/sessions/{self.session_id}/executions/{track.eid}"
            )
            assert isinstance(snapshot, dict)
            track.final = snapshot
        if track.cancel_refused:  # the loop ran into the timeout before the cancel arrived
            spec.status, spec.cancel_reason = "timeout", "timeout"
        elapsed = time.monotonic() - track.sent
        if record:  # (not the warm-up)
            self.stats.by_kind[kind] += 1
            self.stats.latency_by_kind.setdefault(kind, []).append(elapsed)
            if kind in SHORT_KINDS and not track.dropped and not track.resynced:
                self.stats.latency.append(elapsed)
        verify(track, self.stats, self.session_id)
        self.ended.add(track.eid)
        self.track = None

    async def flood_away(self, track: Track, deadline: float) -> None:
        """Stay away while the flood runs, so that the log overflows; then resume."""
        self.drop()
        path = f"/pdit/api/sessions/{self.session_id}/executions/{track.eid}"
        while time.monotonic() < deadline:
            snapshot = await self.gateway.request("GET", path)
            assert isinstance(snapshot, dict)
            if snapshot["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.5)
        await self.connect()

    async def recover(self) -> None:
        """After a hang: record the state, cancel, and wait (bounded) for the end."""
        track = self.track
        assert track is not None
        try:
            snapshot = await self.gateway.request(
                "GET", f"/pdit/api/sessions/{self.session_id}/executions/{track.eid}"
            )
            assert isinstance(snapshot, dict)
            state = (
                f"status {snapshot['status']}, running {snapshot.get('running', {}).get('index')}"
            )
        except (OSError, HTTPClientError) as err:
            state = f"no snapshot: {err}"
        self.stats.hangs.append(
            f"{self.session_id} {track.spec.kind} {track.eid}: "
            f"no complete in {self.gateway.hang_after(track.spec.timeout):g} s ({state})"
        )
        await self.send({"type": "cancel", "executionId": track.eid})
        deadline = time.monotonic() + RECOVER_TIMEOUT
        while not track.done and time.monotonic() < deadline:
            await self.receive(deadline - time.monotonic())
        if not track.done:
            raise RuntimeError("the hung execution did not end after a cancel")
        self.ended.add(track.eid)
        self.track = None

    async def warm_up(self) -> None:
        await self.connect()
        deadline = time.monotonic() + WARMUP_TIMEOUT
        while not self.kernel_idle.is_set() and time.monotonic() < deadline:
            await self.receive(deadline - time.monotonic())
        await self.run_one("print", record=False)

    async def run(self, start: asyncio.Event, stop_at: Callable[[], float]) -> None:
        await start.wait()
        while time.monotonic() < stop_at() and self.gateway.alive:
            try:
                await self.run_one(self.pick_kind())
            except Hang:
                try:
                    await self.recover()
                except (Closed, RuntimeError, OSError, HTTPClientError) as err:
                    self.stats.stopped_workers.append(f"{self.session_id}: {err}")
                    return
            await asyncio.sleep(self.rng.uniform(0, THINK_TIME))

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None


# ==============================================================================================
# Sampling, summary, plot
# ==============================================================================================


@dataclass
class Sample:
    t: float  # seconds since the gateway started
    rss: float | None  # MB
    kernels: int
    cpu: float | None  # gateway CPU seconds (user + system) so far
    load: float  # the machine's 1-minute load average


async def sample(
    gateway: Gateway,
    t0: float,
    samples: list[Sample],
    seen: set[tuple[int, int]],
    marks: dict[str, float],
) -> None:
    while True:
        if not gateway.alive and "gateway exited" not in marks:
            marks["gateway exited"] = time.monotonic() - t0
        kernels = kernel_children(gateway.pid)
        seen.update(kernels)
        samples.append(
            Sample(
                time.monotonic() - t0,
                rss_mb(gateway.pid),
                len(kernels),
                cpu_seconds(gateway.pid),
                load_average(),
            )
        )
        await asyncio.sleep(SAMPLE_INTERVAL)


def slope_mb_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 3:
        return None
    mean_t = statistics.fmean(t for t, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    den = sum((t - mean_t) ** 2 for t, _ in points)
    if den == 0:
        return None
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / den * 60


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def plot(samples: list[Sample], marks: dict[str, float], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.t / 60 for s in samples]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(9, 5.5), height_ratios=[3, 1.3])
    top.plot(minutes, [s.rss if s.rss is not None else math.nan for s in samples], color="C0")
    top.set_ylabel("gateway RSS (MB)")
    top.set_ylim(bottom=0)
    top.grid(alpha=0.3)
    top.set_title(title, fontsize=10)
    bottom.step(minutes, [s.kernels for s in samples], where="post", color="C1")
    bottom.set_ylabel("kernels")
    bottom.set_xlabel("minutes since the gateway started")
    bottom.set_ylim(bottom=0)
    bottom.grid(alpha=0.3)
    for (label, t), color in zip(marks.items(), ("C2", "C3", "C4", "C5", "C6"), strict=False):
        top.axvline(t / 60, color=color, linestyle="--", linewidth=1, label=label)
        bottom.axvline(t / 60, color=color, linestyle="--", linewidth=1)
    top.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def environment() -> dict[str, Any]:
    """Return the versions of the packages under test and when site-packages last changed."""
    versions = {}
    for name in ("jupyter_server", "jupyter_client", "ipykernel", "ipython", "pyzmq", "tornado"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    changed = 0.0
    for directory in {Path(p) for p in sys.path if p.endswith("site-packages")}:
        with contextlib.suppress(OSError):
            changed = max([changed, *(entry.stat().st_mtime for entry in directory.iterdir())])
    return {"versions": versions, "sitePackagesChanged": changed}


def git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
        return done.stdout.strip() or None
    return None


# ==============================================================================================
# The run
# ==============================================================================================


async def leftover_kernels(gateway: Gateway, session_kernels: set[str]) -> dict[str, Any]:
    """Sort the gateway's kernel processes after every session was deleted.

    The pool's spare kernels (``kernel_pool_size``) are registered in the server's kernel
    manager and never belonged to a session; they may stay, up to the pool size. Anything
    else is leaked: a kernel process the kernel manager no longer knows, a session's
    kernel still registered or running, or more spare kernels than the pool holds.
    """
    listing = await gateway.request("GET", "/api/kernels")
    assert isinstance(listing, list)
    registered = {k["id"] for k in listing}
    processes = {kernel_id(pid): pid for pid, _ in kernel_children(gateway.pid)}
    pool = sorted(k for k in registered - session_kernels if k in processes)
    leaked = [
        f"pid {pid} kernel {kid}" + (" (a session's)" if kid in session_kernels else "")
        for kid, pid in processes.items()
        if kid is None or kid not in pool
    ]
    leaked.extend(
        f"kernel {kid} of a deleted session still registered"
        for kid in sorted(registered & session_kernels)
        if kid not in processes
    )
    size = gateway.setting("kernel_pool_size")
    extra = len(pool) - int(size or 0)
    if extra > 0:
        leaked.extend(f"spare kernel {kid} beyond the pool size {size}" for kid in pool[-extra:])
    return {
        "leaked": leaked,
        "pool": len(pool),
        "registered": sorted(registered & session_kernels),
    }


async def delete_all(
    gateway: Gateway, workers: list[Worker], stats: Stats, marks: dict[str, float], t0: float
) -> tuple[list[str], dict[str, Any], Any]:
    """Delete every session over REST; wait (bounded) until their kernels are gone."""
    before = await gateway.request("GET", "/pdit/api/sessions")
    assert isinstance(before, list)
    stats.session_kernels.update(s["kernel"]["id"] for s in before if s["kernel"].get("id"))
    deletes = await asyncio.gather(
        *(gateway.request("DELETE", f"/pdit/api/sessions/{w.session_id}") for w in workers),
        return_exceptions=True,
    )
    delete_errors = [repr(d) for d in deletes if isinstance(d, BaseException)]
    marks["deleted"] = time.monotonic() - t0
    deadline = time.monotonic() + KERNELS_GONE_TIMEOUT
    while True:
        kernels = await leftover_kernels(gateway, stats.session_kernels)
        if not kernels["leaked"] or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.5)
    remaining = await gateway.request("GET", "/pdit/api/sessions")
    await asyncio.sleep(SAMPLE_INTERVAL)  # one more sample after the deletes
    return delete_errors, kernels, remaining


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="pdit-soak-"))
    gateway = Gateway(workdir, args.gateway_arg)
    stats = Stats()
    samples: list[Sample] = []
    seen_kernels: set[tuple[int, int]] = set()
    marks: dict[str, float] = {}
    run_tag = secrets.token_hex(3)
    rng = Random(args.seed)
    workers = [
        Worker(i, run_tag, gateway, stats, Random(rng.getrandbits(64)), args.mix)
        for i in range(args.sessions)
    ]
    report: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "cpus": os.cpu_count(),
        "sessions": args.sessions,
        "minutes": args.minutes,
        "seed": args.seed,
        "mix": args.mix,
        "gatewayLog": str(gateway.log_path),
    }
    env_before = environment()
    t0 = time.monotonic()
    gateway.start()
    report["traits"] = gateway.traits
    report["traitsSkipped"] = gateway.skipped
    sampler = asyncio.create_task(sample(gateway, t0, samples, seen_kernels, marks))
    load_end = math.inf
    try:
        await gateway.wait_ready()
        # warm-up: every session's kernel started and ran one script
        warm = await asyncio.wait_for(
            asyncio.gather(*(w.warm_up() for w in workers), return_exceptions=True),
            WARMUP_TIMEOUT + gateway.hang_after(None),
        )
        failed = [f"{w.session_id}: {r!r}" for w, r in zip(workers, warm, strict=True) if r]
        if failed:
            raise RuntimeError("warm-up failed: " + "; ".join(failed))
        marks["warm"] = time.monotonic() - t0
        load_start = time.monotonic()
        load_end = load_start + args.minutes * 60
        start = asyncio.Event()
        start.set()
        bound = args.minutes * 60 + gateway.hang_after(FLOOD_TIMEOUT) + RECOVER_TIMEOUT + 60
        outcome = await asyncio.wait_for(
            asyncio.gather(
                *(w.run(start, lambda: load_end) for w in workers), return_exceptions=True
            ),
            bound,
        )
        for worker, result in zip(workers, outcome, strict=True):
            if isinstance(result, BaseException):
                stats.stopped_workers.append(f"{worker.session_id}: {result!r}")
        marks["load end"] = time.monotonic() - t0
        load_seconds = time.monotonic() - load_start
        for worker in workers:
            worker.close()
        kernels: dict[str, Any] = {"leaked": [], "pool": None, "registered": []}
        remaining: Any = None
        delete_errors = ["the gateway exited before the end of the load"]
        if gateway.alive:
            try:
                delete_errors, kernels, remaining = await delete_all(
                    gateway, workers, stats, marks, t0
                )
            except (OSError, HTTPClientError) as err:  # e.g. the gateway is going away
                delete_errors = [f"the deletes failed: {err!r}"]
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        for worker in workers:
            worker.close()
        # a SIGTERM logged before ours came from someone else
        outside_sigterm = gateway.log_has(STOP_MESSAGE)
        exited_early = not gateway.alive
        stopped = gateway.stop()
        marks["gateway stop"] = time.monotonic() - t0
        leftover: set[tuple[int, int]] = set()
        deadline = time.monotonic() + LEFTOVER_GRACE
        while time.monotonic() < deadline:
            leftover = kernels_of_gateway(gateway.pid, seen_kernels)
            if not leftover:
                break
            await asyncio.sleep(0.5)
        for pid, _ in leftover:  # clean up what the gateway left behind (these pids only)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if args.verbose_log:
            print(gateway.log_tail(200), file=sys.stderr)

    # -- figures ---------------------------------------------------------------------------------
    env_after = environment()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (usage.ru_utime + usage.ru_stime) / max(1e-9, time.monotonic() - t0) * 100
    warm_t = marks["warm"]
    end_t = marks["load end"]
    loaded = [(s.t, s.rss) for s in samples if warm_t <= s.t <= end_t and s.rss is not None]
    second_half = [(t, rss) for t, rss in loaded if t >= (warm_t + end_t) / 2]
    rss_values = [rss for _, rss in loaded]
    kernel_counts = [s.kernels for s in samples if warm_t <= s.t <= end_t]
    during = [s for s in samples if warm_t <= s.t <= end_t]
    cpu = [(s.t, s.cpu) for s in during if s.cpu is not None]
    gateway_cpu = (
        (cpu[-1][1] - cpu[0][1]) / (cpu[-1][0] - cpu[0][0]) * 100
        if len(cpu) > 1 and cpu[-1][0] > cpu[0][0]
        else None
    )
    executions = sum(stats.by_kind.values())
    report.update(
        {
            "loadSeconds": round(load_seconds, 1),
            "executions": executions,
            "executionsByKind": dict(sorted(stats.by_kind.items())),
            "drops": stats.drops,
            "connects": stats.connects,
            "resyncs": stats.resyncs,
            "kernelRestarts": stats.restarts,
            "frames": stats.frames,
            "eventsLost": len(stats.lost),
            "hangs": len(stats.hangs),
            "wrongStatus": len(stats.wrong_status),
            "protocolErrors": len(stats.protocol),
            "stoppedWorkers": stats.stopped_workers,
            "leakedKernels": len(kernels["leaked"]),
            "leakedKernelDetails": kernels["leaked"],
            "poolKernels": kernels["pool"],
            "poolSize": gateway.setting("kernel_pool_size"),
            "sessionKernelsRegistered": kernels["registered"],
            "sessionKernelIds": len(stats.session_kernels),
            "sessionsLeft": len(remaining) if isinstance(remaining, list) else None,
            "deleteErrors": delete_errors,
            "gatewayStop": stopped,
            "gatewayExitedEarly": exited_early or outside_sigterm,
            "gatewaySigtermFromOutside": outside_sigterm,
            "kernelsAfterExit": len(leftover),
            "rssMB": {
                "start": round(rss_values[0], 1) if rss_values else None,
                "max": round(max(rss_values), 1) if rss_values else None,
                "end": round(rss_values[-1], 1) if rss_values else None,
                "slopeSecondHalfMBPerMin": _round(slope_mb_per_min(second_half), 3),
            },
            "gatewayCpuPercent": _round(gateway_cpu, 1),
            "soakClientCpuPercent": round(client_cpu, 1),
            "loadAverage": {
                "mean": _round(statistics.fmean(s.load for s in during), 2) if during else None,
                "max": max((s.load for s in during), default=None),
            },
            "versions": env_before["versions"],
            "packagesChangedDuringRun": env_after != env_before,
            "kernelDeaths": stats.kernel_deaths,
            "kernelsDuringLoad": {
                "min": min(kernel_counts, default=None),
                "max": max(kernel_counts, default=None),
            },
            "latencyShortMs": {
                "count": len(stats.latency),
                "p50": _ms(percentile(stats.latency, 0.5)),
                "p99": _ms(percentile(stats.latency, 0.99)),
                "max": _ms(max(stats.latency, default=None)),
            },
            "latencyByKindMs": {
                kind: {
                    "p50": _ms(percentile(values, 0.5)),
                    "p99": _ms(percentile(values, 0.99)),
                }
                for kind, values in sorted(stats.latency_by_kind.items())
            },
            "gatewayLogProblems": gateway.log_problems(),
            "lostByCause": dict(Counter(lost_cause(p) for p in stats.lost).most_common()),
            "lostByKind": dict(Counter(lost_kind(p) for p in stats.lost).most_common()),
            "executionsWithLostEvents": len({p.split(":")[0] for p in stats.lost}),
            "problems": {
                "lost": stats.lost,
                "hangs": stats.hangs,
                "wrongStatus": stats.wrong_status,
                "protocol": stats.protocol,
            },
            "samples": [
                {
                    "t": round(s.t, 1),
                    "rssMB": _round(s.rss, 2),
                    "kernels": s.kernels,
                    "cpuSeconds": _round(s.cpu, 2),
                    "load": s.load,
                }
                for s in samples
            ],
            "marks": {k: round(v, 1) for k, v in marks.items()},
        }
    )
    if args.out:
        plot(
            samples,
            marks,
            Path(args.out),
            f"pdit gateway soak: {args.sessions} sessions, {args.minutes:g} min, "
            f"{executions} executions, {os.cpu_count()} CPUs",
        )
    return report


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def print_report(report: dict[str, Any]) -> None:
    rss = report["rssMB"]
    latency = report["latencyShortMs"]
    print(
        f"soak: {report['sessions']} sessions, {report['loadSeconds']} s of load, "
        f"commit {report['commit']}, {report['cpus']} CPUs"
    )
    print(f"  traits: {report['traits']} (not in this gateway: {report['traitsSkipped']})")
    print(f"  executions: {report['executions']} {report['executionsByKind']}")
    print(
        f"  socket drops: {report['drops']}, connects: {report['connects']}, "
        f"resyncs: {report['resyncs']}, kernel restarts: {report['kernelRestarts']}, "
        f"frames: {report['frames']}"
    )
    print(
        f"  events lost: {report['eventsLost']}, hangs: {report['hangs']}, "
        f"wrong status: {report['wrongStatus']}, protocol errors: {report['protocolErrors']}"
    )
    print(
        f"  leaked kernels: {report['leakedKernels']} (pool kernels kept: {report['poolKernels']} "
        f"of {report['poolSize']}), sessions left: {report['sessionsLeft']}, "
        f"kernels after gateway exit: {report['kernelsAfterExit']}, stop: {report['gatewayStop']}"
    )
    print(
        f"  gateway RSS (MB): start {rss['start']}, max {rss['max']}, end {rss['end']}, "
        f"slope over the second half {rss['slopeSecondHalfMBPerMin']} MB/min"
    )
    print(f"  kernels during load: {report['kernelsDuringLoad']}")
    print(
        f"  gateway CPU: {report['gatewayCpuPercent']} % of one core (this client: "
        f"{report['soakClientCpuPercent']} %); machine load average "
        f"{report['loadAverage']}; versions {report['versions']}"
    )
    if report["gatewayExitedEarly"]:
        print(
            "  WARNING: the gateway stopped before the end of the run"
            + (
                " (it logged a SIGTERM this script did not send)"
                if report["gatewaySigtermFromOutside"]
                else ""
            )
        )
    if report["packagesChangedDuringRun"]:
        print("  WARNING: site-packages changed during the run (a concurrent install?)")
    for death in report["kernelDeaths"][:10]:
        print(f"  [kernel dead] {death}")
    print(
        f"  execute→complete, short scripts ({latency['count']}): p50 {latency['p50']} ms, "
        f"p99 {latency['p99']} ms, max {latency['max']} ms"
    )
    print(f"  by kind: {report['latencyByKindMs']}")
    log = report["gatewayLogProblems"]
    print(
        f"  gateway log ({report['gatewayLog']}): {log.get('errors')} errors, "
        f"{log.get('warnings')} warnings, {log.get('tracebacks')} tracebacks"
    )
    print(
        f"  lost events by cause: {report['lostByCause']}; by kind: {report['lostByKind']}; "
        f"executions affected: {report['executionsWithLostEvents']}"
    )
    for name, items in report["problems"].items():
        for item in items[:10]:
            print(f"  [{name}] {item}")
    if report["stoppedWorkers"]:
        print(f"  stopped workers: {report['stoppedWorkers']}")


def failed(report: dict[str, Any]) -> bool:
    return bool(
        report["eventsLost"]
        or report["hangs"]
        or report["wrongStatus"]
        or report["protocolErrors"]
        or report["leakedKernels"]
        or report["kernelsAfterExit"]
        or report["stoppedWorkers"]
        or report["kernelDeaths"]
        or report["deleteErrors"]
        or report["gatewayStop"].get("crashed")
        or report["gatewayExitedEarly"]
    )


def parse_mix(text: str) -> dict[str, float]:
    """Parse ``kind=weight,...`` (the kinds of ``WEIGHTS``)."""
    mix = {}
    for part in text.split(","):
        kind, _, weight = part.partition("=")
        if kind not in WEIGHTS:
            raise argparse.ArgumentTypeError(f"unknown kind {kind!r}; kinds: {', '.join(WEIGHTS)}")
        mix[kind] = float(weight or 1)
    return mix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions")
    parser.add_argument("--minutes", type=float, default=10.0, help="duration of the load")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random script mix")
    parser.add_argument("--out", default="docs/img/soak.png", help="PNG plot ('' = none)")
    parser.add_argument("--json", help="write the figures and samples to this file")
    parser.add_argument(
        "--gateway-arg",
        action="append",
        default=[],
        help="one more argument for the gateway (repeatable), e.g. --PditGatewayApp.max_queue=10",
    )
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default=dict(WEIGHTS),
        help="relative weights of the script kinds, e.g. print=3,flood=1 (default: "
        + ",".join(f"{k}={v}" for k, v in WEIGHTS.items())
        + ")",
    )
    parser.add_argument("--verbose-log", action="store_true", help="print the gateway log's tail")
    args = parser.parse_args()
    report = asyncio.run(soak(args))
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 1 if failed(report) else 0


if __name__ == "__main__":
    sys.exit(main())
