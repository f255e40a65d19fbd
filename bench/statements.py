"""Time N trivial statements (``xN = N``): raw jupyter_client loops against the gateway's WebSocket.

Run: ``python bench/statements.py [--n 200] [--rounds 5]``. Prints a table of ms per statement
(medians over rounds, the variants alternating inside each round). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import socket
import statistics
import sys
import time
from typing import Any

from jupyter_client.manager import start_new_async_kernel
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def script(n: int) -> str:
    return "".join(f"x{i} = {i}\n" for i in range(n))


async def raw_sequential(kc: Any, n: int, store_history: bool = True) -> float:
    start = time.perf_counter()
    for i in range(n):
        msg_id = kc.execute(f"x{i} = {i}", store_history=store_history)
        while True:
            reply = await kc.get_shell_msg()
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        while True:
            msg = await kc.get_iopub_msg()
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                break
    return time.perf_counter() - start


async def raw_pipelined(kc: Any, n: int, store_history: bool = True) -> float:
    start = time.perf_counter()
    ids = [kc.execute(f"x{i} = {i}", store_history=store_history) for i in range(n)]
    pending = set(ids)
    idle: set[str] = set()
    while pending:
        reply = await kc.get_shell_msg()
        pending.discard(reply["parent_header"].get("msg_id"))
    last = ids[-1]
    while last not in idle:
        msg = await kc.get_iopub_msg()
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            idle.add(msg["parent_header"].get("msg_id"))
    return time.perf_counter() - start


async def gateway_run(ws: Any, n: int, tag: str) -> float:
    start = time.perf_counter()
    await ws.write_message(json.dumps({"type": "execute", "script": script(n), "executionId": tag}))
    last = ""
    while True:
        try:
            message = await asyncio.wait_for(ws.read_message(), 20)
        except TimeoutError:
            raise TimeoutError(f"no complete for {tag}; last event {last[:300]}") from None
        if message is None:
            raise ConnectionError("gateway closed the channel")
        last = message
        if '"complete"' in message:
            event = json.loads(message)
            if event["type"] == "complete" and event["executionId"] == tag:
                break
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.n

    port, token = free_port(), secrets.token_hex(16)
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pdit_gateway",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        "--ServerApp.log_level=WARN",
        stderr=asyncio.subprocess.DEVNULL,
    )
    km, kc = await start_new_async_kernel()
    try:
        for _ in range(100):
            try:
                ws = await websocket_connect(
                    HTTPRequest(
                        f"ws://127.0.0.1:{port}/pdit/api/sessions/bench/channel",
                        headers={"Authorization": f"token {token}"},
                    )
                )
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the gateway did not start")
        await ws.read_message()  # welcome
        await gateway_run(ws, 5, "warm")
        await raw_sequential(kc, 5)
        names = ["raw sequential", "raw pipelined", "raw pipelined, no history", "gateway"]
        timings: dict[str, list[float]] = {name: [] for name in names}
        for r in range(args.rounds):
            timings["raw sequential"].append(await raw_sequential(kc, n))
            timings["gateway"].append(await gateway_run(ws, n, f"r{r}"))
            timings["raw pipelined"].append(await raw_pipelined(kc, n))
            timings["raw pipelined, no history"].append(await raw_pipelined(kc, n, False))
        floor = statistics.median(timings["raw pipelined"])
        print(f"{n} statements, {args.rounds} rounds (median ms/statement; ratio to raw pipelined)")
        for name, values in timings.items():
            med = statistics.median(values)
            print(f"  {name:28s} {med / n * 1000:6.2f} ms   x{med / floor:4.2f}")
        ws.close()
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        server.terminate()
        await server.wait()


if __name__ == "__main__":
    asyncio.run(main())
