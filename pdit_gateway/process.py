"""A standalone gateway as a child process: its command line and a free port.

Shared by the test fixtures, the benchmarks and the soak script, which all start real
gateways with ``python -m pdit_gateway``.
"""

from __future__ import annotations

import socket
import subprocess
import sys


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_argv(token: str, *options: str, port: int = 0) -> list[str]:
    """Return the command line of a standalone gateway on 127.0.0.1 (``port`` 0: a free one)."""
    return [
        sys.executable,
        "-m",
        "pdit_gateway",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port or free_port()}",
        f"--IdentityProvider.token={token}",
        *options,
    ]


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Terminate ``process``; kill it if it has not exited after ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
