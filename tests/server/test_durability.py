"""Durable results: a gateway killed mid-execution and started again still serves what finished."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import socket
import sys
from contextlib import asynccontextmanager

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from pdit_gateway.pytest_plugin import ChannelClient, results, texts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def accepting(port: int) -> None:
    """Wait until the port accepts connections: jupyter_server binds it just after logging it."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            await asyncio.sleep(0.05)  # a readiness probe, bounded by the caller
            continue
        writer.close()
        return


@asynccontextmanager
async def gateway(db_path, port, token, root):
    """A standalone gateway process; yields it and its port once it says where it serves.

    The port can differ from the one asked for: a port the killed gateway left in
    TIME_WAIT makes jupyter_server take the next one.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pdit_gateway",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--PditGatewayApp.db_path={db_path}",
        "--PditGatewayApp.kernel_poll_interval=0.5",
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        async def serving() -> int:
            while True:
                line = await process.stderr.readline()
                assert line, "the gateway exited before serving"
                found = re.search(rb"http://127\.0\.0\.1:(\d+)/", line)
                if found:
                    return int(found.group(1))

        actual_port = await asyncio.wait_for(serving(), 60)
        await asyncio.wait_for(accepting(actual_port), 30)
        # keep draining stderr so the pipe never fills
        drain = asyncio.ensure_future(process.stderr.read())
        yield process, actual_port
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 60)
        drain.cancel()


async def channel(port, token, session_id) -> ChannelClient:
    request = HTTPRequest(
        f"ws://127.0.0.1:{port}/pdit/api/sessions/{session_id}/channel",
        headers={"Authorization": f"token {token}"},
    )
    return ChannelClient(await websocket_connect(request))


async def get_json(port, token, *parts):
    response = await AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{port}/pdit/api/sessions/" + "/".join(parts),
        headers={"Authorization": f"token {token}"},
        raise_error=False,
    )
    return response.code, json.loads(response.body) if response.body else None


async def test_results_survive_a_killed_gateway(tmp_path):
    db_path = tmp_path / "state" / "executions.sqlite"
    port, token = free_port(), secrets.token_hex(8)
    async with gateway(db_path, port, token, tmp_path) as (first, port):
        client = await channel(port, token, "durable")
        await client.welcome()
        done = await client.run("x = 21\nprint('kept')\nx * 2", executionId="finished")
        assert texts(results(done)[-1]) == "42"
        await client.send(type="execute", executionId="cut", script="import time\ntime.sleep(600)")
        await client.until(lambda e: e["type"] == "running" and e["executionId"] == "cut")
        last_seen = max(e["seq"] for e in client.received if "seq" in e)
        first.send_signal(signal.SIGKILL)  # no clean shutdown
        await asyncio.wait_for(first.wait(), 30)
        client.close()

    async with gateway(db_path, port, token, tmp_path) as (_, port):
        code, finished = await get_json(port, token, "durable", "executions", "finished")
        assert code == 200
        assert finished["status"] == "ok"
        assert finished["fromBeforeRestart"] is True
        assert finished["results"]["1"]["output"] == [{"type": "stdout", "content": "kept\n"}]
        assert finished["results"]["2"]["output"][0]["content"] == "42"
        code, cut = await get_json(port, token, "durable", "executions", "cut")
        assert code == 200
        assert cut["status"] == "interrupted-by-shutdown"
        code, session = await get_json(port, token, "durable")
        assert code == 200 and session["fromBeforeRestart"] is True

        client = await channel(port, token, "durable")
        welcome = await client.welcome()
        assert {"finished", "cut"} <= {x["executionId"] for x in welcome["executions"]}
        assert welcome["lastSeq"] > last_seen  # seq numbers are never handed out twice
        await client.send(type="resume", lastSeq=last_seen)
        resync = (await client.until(lambda e: e["type"] == "resync"))[-1]
        statuses = {x["executionId"]: x["status"] for x in resync["executions"]}
        assert statuses["finished"] == "ok"
        assert statuses["cut"] == "interrupted-by-shutdown"
        # the session works again, on a new kernel
        after = await client.run("'x' in dir()")
        assert texts(results(after)[0]) == "False"
        client.close()


async def test_a_clean_stop_records_the_running_execution_as_interrupted(tmp_path):
    db_path = tmp_path / "executions.sqlite"
    port, token = free_port(), secrets.token_hex(8)
    async with gateway(db_path, port, token, tmp_path) as (_, port):
        client = await channel(port, token, "clean")
        await client.welcome()
        await client.send(type="execute", executionId="long", script="import time\ntime.sleep(600)")
        await client.until(lambda e: e["type"] == "running")
    # leaving the block stopped the gateway with SIGTERM
    async with gateway(db_path, port, token, tmp_path) as (_, port):
        code, cut = await get_json(port, token, "clean", "executions", "long")
        assert code == 200 and cut["status"] == "interrupted-by-shutdown"
