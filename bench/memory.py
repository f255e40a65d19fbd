"""The gateway's memory under output that no client reads (docs/reliability.md, section II).

Run: ``python bench/memory.py [--scenario floods|big|displays|all] [--seconds 120]
[--gateway-arg=--PditGatewayApp.max_output_bytes=0]``. Starts a standalone gateway (default
settings but ``kernel_pool_size=0``; a temporary ``db_path`` whose size is reported) and samples
its RSS (``VmRSS`` of ``/proc/<pid>/status``) every second:

- ``floods``: three sessions each run ``while True: print(...)`` with no client connected
  (the socket that sent the execute is closed at once) for ``--seconds``; then the sessions
  are deleted and the RSS is sampled for 10 s more.
- ``flushed``: the same with ``print(..., flush=True)``: one iopub message per line.
- ``big``: one execution of 40 statements printing 4 MB each; the client reads everything.
- ``displays``: one statement showing 200 displays of 1 MB each; meanwhile a second session
  runs ``1 + 1`` every 0.5 s and the slowest round trip is reported, and the largest frame
  the client received.

Prints, per scenario: RSS before, peak, at the end, after the sessions were deleted, and the
database size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pdit_gateway.pytest_plugin import fetch_json, gateway_argv, open_channel, server_process

MB = 1024 * 1024

FLOOD = "while True:\n    print('flood ' * 20)\n"
#: one iopub message per line: the most messages a kernel can make
FLUSHED = "i = 0\nwhile True:\n    i += 1\n    print('flood', i, flush=True)\n"
BIG = "".join(f"print('{i}' * 4_000_000)\n" for i in range(10, 50))
DISPLAYS = (
    "from IPython.display import display\n"
    "for i in range(200):\n"
    "    display({'text/plain': str(i % 10) * 1_000_000}, raw=True)\n"
)


def rss(pid: int) -> float:
    """Return the RSS of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def kernels_rss(pid: int) -> float:
    """Return the RSS of the processes whose parent is ``pid`` (the kernels), in MB."""
    total = 0.0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(pid) and "VmRSS" in fields:
            total += int(fields["VmRSS"].split()[0]) / 1024
    return total


class Sampler:
    """Sample a process's RSS every second in the background."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None
        self.started = time.monotonic()

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic() - self.started, rss(self.pid)))
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    @property
    def peak(self) -> float:
        return max(value for _, value in self.samples)


async def delete(port: int, token: str, session_id: str) -> None:
    url = f"http://127.0.0.1:{port}/pdit/api/sessions/{session_id}"
    await fetch_json(url, token, method="DELETE")


async def floods(
    port: int, token: str, sampler: Sampler, seconds: float, script: str = FLOOD
) -> dict[str, Any]:
    ids = [f"flood{i}" for i in range(3)]
    for session_id in ids:
        client = await open_channel(port, token, session_id)
        await client.welcome()
        await client.run("1")
        await client.execute(script)
        await client.until(lambda e: e["type"] == "running")
        client.close()
    await asyncio.sleep(seconds)
    at_end = rss(sampler.pid)
    kernels = kernels_rss(sampler.pid)
    for session_id in ids:
        await delete(port, token, session_id)
    await asyncio.sleep(10)
    return {
        "end of load": at_end,
        "kernels at end MB": round(kernels),
        "after delete": rss(sampler.pid),
    }


async def big(port: int, token: str, sampler: Sampler) -> dict[str, Any]:
    client = await open_channel(port, token, "big", max_message_size=1 << 30)
    await client.welcome()
    started = time.monotonic()
    events = await client.run(BIG, wait=600)
    took = time.monotonic() - started
    at_end = rss(sampler.pid)
    largest = max(len(json.dumps(e)) for e in client.received)
    kind = max(client.received, key=lambda e: len(json.dumps(e)))["type"]
    client.close()
    await delete(port, token, "big")
    await asyncio.sleep(5)
    return {
        "status": events[-1]["status"],
        "seconds": round(took, 1),
        "largest frame MB": round(largest / MB, 2),
        "largest frame type": kind,
        "end of load": at_end,
        "after delete": rss(sampler.pid),
    }


async def displays(port: int, token: str, sampler: Sampler) -> dict[str, Any]:
    client = await open_channel(port, token, "displays", max_message_size=1 << 30)
    other = await open_channel(port, token, "bystander")
    await client.welcome()
    await other.welcome()
    await other.run("1")
    task = asyncio.ensure_future(client.run(DISPLAYS, wait=600))
    slowest = 0.0
    while not task.done():
        started = time.monotonic()
        await other.run("1 + 1", wait=120)
        slowest = max(slowest, time.monotonic() - started)
        await asyncio.sleep(0.5)
    events = task.result()
    at_end = rss(sampler.pid)
    largest = max(len(json.dumps(e)) for e in client.received)
    client.close()
    other.close()
    await delete(port, token, "displays")
    await delete(port, token, "bystander")
    await asyncio.sleep(5)
    return {
        "status": events[-1]["status"],
        "largest frame MB": round(largest / MB, 2),
        "bystander's slowest 1 + 1 s": round(slowest, 2),
        "end of load": at_end,
        "after delete": rss(sampler.pid),
    }


async def main(scenario: str, seconds: float, extra: list[str]) -> int:
    token = secrets.token_hex(16)
    scenarios = ["floods", "flushed", "big", "displays"] if scenario == "all" else [scenario]
    for name in scenarios:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "executions.sqlite"
            argv = gateway_argv(
                token,
                f"--PditGatewayApp.db_path={db}",
                "--PditGatewayApp.kernel_pool_size=0",
                *extra,
            )
            async with server_process(argv) as (process, port):
                sampler = Sampler(process.pid)
                before = rss(process.pid)
                sampler.start()
                try:
                    if name == "floods":
                        figures = await floods(port, token, sampler, seconds)
                    elif name == "flushed":
                        figures = await floods(port, token, sampler, seconds, FLUSHED)
                    elif name == "big":
                        figures = await big(port, token, sampler)
                    else:
                        figures = await displays(port, token, sampler)
                except (ConnectionError, asyncio.TimeoutError) as err:
                    figures = {"client failed": repr(err), "at failure": rss(process.pid)}
                sampler.stop()
                size = sum(f.stat().st_size for f in Path(tmp).glob("executions.sqlite*"))
            trend = [
                round(value) for t, value in sampler.samples[:: max(1, len(sampler.samples) // 8)]
            ]
            report = {
                "scenario": name,
                "RSS before MB": round(before),
                "RSS peak MB": round(sampler.peak),
                **{
                    k: round(v) if isinstance(v, float) and "MB" not in k else v
                    for k, v in figures.items()
                },
                "database MB": round(size / MB, 1),
                "RSS samples MB": trend,
            }
            print(json.dumps(report), flush=True)
    return 0


def cli(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", default="all", choices=["floods", "flushed", "big", "displays", "all"]
    )
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the floods")
    parser.add_argument("--gateway-arg", action="append", default=[], help="an extra option")
    options = parser.parse_args(args)
    if not sys.platform.startswith("linux"):
        print("Linux only (reads /proc)", file=sys.stderr)
        return 2
    return asyncio.run(main(options.scenario, options.seconds, options.gateway_arg))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(cli())
