"""Durable results: a gateway killed mid-execution and started again still serves what finished."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import sqlite3

from pdit_gateway.pytest_plugin import (
    fetch_json,
    free_port,
    gateway_argv,
    open_channel,
    results,
    server_process,
    texts,
)


async def committed(db_path, execution_id, status):
    """Wait until the database holds ``execution_id`` with ``status``."""
    while True:
        if db_path.exists():
            with contextlib.closing(sqlite3.connect(db_path)) as conn:
                row = conn.execute(
                    "SELECT status FROM executions WHERE execution_id = ?", (execution_id,)
                ).fetchone()
            if row is not None and row[0] == status:
                return
        await asyncio.sleep(0.02)  # polling the file; the caller bounds the wait


def argv(db_path, port, token, root):
    return gateway_argv(
        token,
        f"--ServerApp.root_dir={root}",
        f"--PditGatewayApp.db_path={db_path}",
        "--PditGatewayApp.kernel_poll_interval=0.5",
        "--PditGatewayApp.kernel_pool_size=0",
        port=port,
    )


async def get_json(port, token, *parts):
    url = f"http://127.0.0.1:{port}/pdit/api/sessions/" + "/".join(parts)
    return await fetch_json(url, token)


async def test_results_survive_a_killed_gateway(tmp_path):
    db_path = tmp_path / "state" / "executions.sqlite"
    port, token = free_port(), secrets.token_hex(8)
    async with server_process(argv(db_path, port, token, tmp_path)) as (first, port):
        client = await open_channel(port, token, "durable")
        await client.welcome()
        done = await client.run("x = 21\nprint('kept')\nx * 2", executionId="finished")
        assert texts(results(done)[-1]) == "42"
        # the write is asynchronous (a background thread): wait, bounded, until it is on disk
        await asyncio.wait_for(committed(db_path, "finished", "ok"), 30)
        await client.send(type="execute", executionId="cut", script="import time\ntime.sleep(600)")
        await client.until(lambda e: e["type"] == "running" and e["executionId"] == "cut")
        last_seen = max(e["seq"] for e in client.received if "seq" in e)
        first.send_signal(signal.SIGKILL)  # no clean shutdown
        await asyncio.wait_for(first.wait(), 30)
        client.close()

    async with server_process(argv(db_path, port, token, tmp_path)) as (_, port):
        code, finished = await get_json(port, token, "durable", "executions", "finished")
        assert code == 200
        assert finished["status"] == "ok"
        assert finished["fromBeforeRestart"] is True
        assert finished["results"]["1"]["output"] == [
            {"type": "stdout", "content": "kept\n", "outputType": "stream"}
        ]
        assert finished["results"]["2"]["output"][0]["content"] == "42"
        code, cut = await get_json(port, token, "durable", "executions", "cut")
        assert code == 200
        assert cut["status"] == "interrupted-by-shutdown"
        code, session = await get_json(port, token, "durable")
        assert code == 200
        assert session["fromBeforeRestart"] is True

        client = await open_channel(port, token, "durable")
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
    async with server_process(argv(db_path, port, token, tmp_path)) as (_, port):
        client = await open_channel(port, token, "clean")
        await client.welcome()
        await client.send(type="execute", executionId="long", script="import time\ntime.sleep(600)")
        await client.until(lambda e: e["type"] == "running")
    # leaving the block stopped the gateway with SIGTERM
    async with server_process(argv(db_path, port, token, tmp_path)) as (_, port):
        code, cut = await get_json(port, token, "clean", "executions", "long")
        assert code == 200
        assert cut["status"] == "interrupted-by-shutdown"
