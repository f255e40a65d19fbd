"""The servers under test, each a child process on 127.0.0.1: the gateway and pdit 0.7.0."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from pdit_gateway.client import GatewayAddress
from pdit_gateway.process import free_port, gateway_argv

from .wire import Wire

#: Seconds a server may take to answer HTTP after it was started.
START_TIMEOUT = 90.0
#: Seconds a server may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 60.0
#: Seconds one REST request may take (a DELETE waits for a kernel shutdown).
HTTP_TIMEOUT = 120.0
#: Seconds creating the pdit venv (pip install from PyPI) may take.
VENV_TIMEOUT = 900.0

PDIT_VERSION = "0.7.0"
#: The client side of permessage-deflate (RFC 7692) on every WebSocket the benchmark opens:
#: ``{}`` offers it, as browsers do (a server compresses only if it accepts the offer);
#: ``None`` (``bench/run.py --no-compression``) offers nothing.
COMPRESSION: dict[str, Any] | None = {}
#: Installed into pdit's venv at this environment's versions, so every kernel is the same.
PINNED = ("ipykernel", "ipython", "jupyter_client", "pyzmq", "tornado", "traitlets", "jupyter_core")


def rss_bytes(pid: int) -> int:
    """Return the resident set size of process ``pid`` (Linux: ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time process ``pid`` has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerProcess:
    """A child process serving HTTP on 127.0.0.1, stopped with SIGTERM (then SIGKILL)."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.process: asyncio.subprocess.Process | None = None
        self.log_path = workdir / f"{self.name}-{self.port}.log"

    @property
    def pid(self) -> int:
        """Return the server's process id."""
        assert self.process is not None
        return self.process.pid

    def cpu(self) -> float:
        """Return the CPU seconds the server process has used so far."""
        return cpu_seconds(self.pid)

    async def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.workdir,
                env=env,
                start_new_session=True,
            )

    async def _wait_http(self, url: str, headers: dict[str, str]) -> None:
        client = AsyncHTTPClient()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.returncode is not None:
                break
            try:
                await client.fetch(HTTPRequest(url, headers=headers, request_timeout=5))
                return
            except (OSError, HTTPClientError):
                await asyncio.sleep(0.1)
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{self.name} did not answer on port {self.port}:\n{tail}")

    async def stop(self) -> None:
        """SIGTERM the server (its process group: kernels included) and wait, bounded."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except asyncio.TimeoutError:
            print(f"{self.name} did not stop within {STOP_TIMEOUT:g} s: killed", file=sys.stderr)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # what is left of its process group
            if process.returncode is None:
                await process.wait()


class GatewayServer(ServerProcess):
    """``python -m pdit_gateway`` from this environment, with the given gateway traits."""

    name = "gateway"

    def __init__(self, workdir: Path, traits: dict[str, Any] | None = None) -> None:
        super().__init__(workdir)
        self.traits = {"db_path": ":memory:", **(traits or {})}
        self.headers = {"Authorization": f"token {self.token}"}

    async def start(self) -> None:
        """Start the gateway and wait until it answers."""
        argv = gateway_argv(
            self.token,
            f"--ServerApp.root_dir={self.workdir}",
            "--ServerApp.log_level=WARN",
            *(f"--PditGatewayApp.{key}={value}" for key, value in self.traits.items()),
            port=self.port,
        )
        await self._spawn(argv)
        await self._wait_http(f"http://127.0.0.1:{self.port}/api/status", self.headers)

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send a REST request; return the decoded JSON answer (None when empty)."""
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(
                f"http://127.0.0.1:{self.port}{path}",
                method=method,
                headers=self.headers,
                body=None if body is None else json.dumps(body),
                allow_nonstandard_methods=True,
                request_timeout=HTTP_TIMEOUT,
            )
        )
        return json.loads(response.body) if response.body else None

    async def connect(self, path: str) -> Wire:
        """Open a WebSocket to ``path`` on this server."""
        connection = await websocket_connect(
            HTTPRequest(
                f"ws://127.0.0.1:{self.port}{path}",
                headers=self.headers,
                request_timeout=HTTP_TIMEOUT,
            ),
            max_message_size=1 << 30,
            compression_options=COMPRESSION,
        )
        return Wire(connection)

    @property
    def address(self) -> GatewayAddress:
        """The gateway's address, for the client module's URLs."""
        return GatewayAddress.local(self.port, self.token)

    def rss(self) -> int:
        """Return the gateway process's resident set size in bytes."""
        return rss_bytes(self.pid)


class PditServer(ServerProcess):
    """pdit 0.7.0 from PyPI, in a venv of its own, started by its ``pdit`` command."""

    name = "pdit"

    def __init__(self, workdir: Path, venv: Path) -> None:
        super().__init__(workdir)
        self.venv = venv

    async def start(self) -> None:
        """Start ``pdit --port … --no-browser`` with a known token and wait until it answers."""
        env = {**os.environ, "PDIT_TOKEN": self.token}
        env.pop("VIRTUAL_ENV", None)
        argv = [str(self.venv / "bin" / "pdit"), "--port", str(self.port), "--no-browser"]
        await self._spawn(argv, env)
        await self._wait_http(
            f"http://127.0.0.1:{self.port}/api/list-files", {"X-PDIT-Token": self.token}
        )

    async def connect(self, session_id: str) -> Wire:
        """Open pdit's ``/ws/session`` for ``session_id`` (a new id is a new session and kernel)."""
        connection = await websocket_connect(
            HTTPRequest(
                f"ws://127.0.0.1:{self.port}/ws/session?sessionId={session_id}&token={self.token}",
                request_timeout=HTTP_TIMEOUT,
            ),
            max_message_size=1 << 30,
            compression_options=COMPRESSION,
        )
        return Wire(connection)


def pinned_requirements() -> list[str]:
    """Return ``name==version`` of the kernel-side packages of this environment."""
    pins = []
    for name in PINNED:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


async def _run(argv: list[str], log: Path, timeout: float) -> int:
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
        try:
            return await asyncio.wait_for(process.wait(), timeout)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            raise


async def venv_versions(venv: Path) -> dict[str, str]:
    """Return the versions of pdit and the kernel-side packages installed in ``venv``."""
    code = (
        "import json, importlib.metadata as m\n"
        f"names = {['pdit', *PINNED]!r}\n"
        "out = {}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    process = await asyncio.create_subprocess_exec(
        str(venv / "bin" / "python"), "-c", code, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return dict(json.loads(out)) if process.returncode == 0 else {}


async def ensure_pdit_venv(venv: Path, log: Path) -> dict[str, str]:
    """Create ``venv`` with pdit 0.7.0 from PyPI unless it is already there; return its versions.

    The kernel-side packages are pinned to this environment's versions so that pdit's kernels
    are the same as everyone else's; if pip cannot resolve that, pdit is installed unpinned.
    """
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    spec = f"pdit=={PDIT_VERSION}"
    if (venv / "bin" / "pdit").exists():
        versions = await venv_versions(venv)
        if versions.get("pdit") == PDIT_VERSION:
            pins = pinned_requirements()
            if all(versions.get(p.split("==")[0]) == p.split("==")[1] for p in pins):
                return versions
            # this environment's kernel packages changed since the venv was made: follow them
            if await _run([*pip, spec, *pins], log, VENV_TIMEOUT) == 0:
                return await venv_versions(venv)
            return versions
    print(f"creating {venv} with pdit {PDIT_VERSION} (pip log: {log})", file=sys.stderr)
    if await _run([sys.executable, "-m", "venv", "--clear", str(venv)], log, 300) != 0:
        raise RuntimeError(f"python -m venv {venv} failed; see {log}")
    if await _run([*pip, spec, *pinned_requirements()], log, VENV_TIMEOUT) != 0:
        print("pinned install failed; installing pdit unpinned", file=sys.stderr)
        if await _run([*pip, spec], log, VENV_TIMEOUT) != 0:
            raise RuntimeError(f"pip install {spec} failed; see {log}")
    return await venv_versions(venv)
