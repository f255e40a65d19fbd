"""Queued executions survive a killed or stopped gateway as interrupted-by-shutdown (issue 13)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import sqlite3
from pathlib import Path
from typing import Any

from pdit_gateway.pytest_plugin import (
    SOCKET_WAIT,
    fetch_json,
    free_port,
    gateway_argv,
    open_channel,
    server_process,
)


def stored(db_path: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """Return {execution id: (status, snapshot)} as the database holds them now."""
    if not db_path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        rows = conn.execute("SELECT execution_id, status, snapshot FROM executions").fetchall()
    return {eid: (status, json.loads(text)) for eid, status, text in rows}


async def until_stored(db_path: Path, check: Any) -> None:
    """Poll the database file until ``check(rows)`` holds (the caller bounds the wait)."""
    while not check(stored(db_path)):
        await asyncio.sleep(0.02)  # polling a file another process writes


def argv(db_path: Path, port: int, token: str, root: Path) -> list[str]:
    return gateway_argv(
        token,
        f"--ServerApp.root_dir={root}",
        f"--PditGatewayApp.db_path={db_path}",
        "--PditGatewayApp.kernel_pool_size=0",
        port=port,
    )


RUNNING = "print('partial output')\nimport time\ntime.sleep(600)\nprint('never')\n"


def partial(rows: dict[str, tuple[str, dict[str, Any]]]) -> bool:
    """The running execution's record holds its output so far (its results, not the
    statements' ``source``, which names the text too)."""
    return "cut" in rows and "partial output" in json.dumps(rows["cut"][1].get("results"))


async def start_and_queue(client: Any) -> None:
    await client.welcome()
    await client.send(type="execute", executionId="cut", script=RUNNING)
    await client.send(type="execute", executionId="waiting1", script="1")
    await client.send(type="execute", executionId="waiting2", script="2")
    await client.until(
        lambda e: e["type"] == "running" and e["executionId"] == "cut" and e["index"] == 2
    )


async def get_execution(port: int, token: str, eid: str) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{port}/pdit/api/sessions/queue/executions/{eid}"
    return await fetch_json(url, token)


async def check_after_restart(port: int, token: str) -> None:
    code, cut = await get_execution(port, token, "cut")
    assert code == 200 and cut["status"] == "interrupted-by-shutdown"
    assert cut["results"]["0"]["output"] == [
        {"type": "stdout", "content": "partial output\n", "outputType": "stream"}
    ]
    for eid in ("waiting1", "waiting2"):
        code, waited = await get_execution(port, token, eid)
        assert code == 200, eid
        assert waited["status"] == "interrupted-by-shutdown"
        assert waited["results"] == {} and waited["startedAt"] is None
    client = await open_channel(port, token, "queue")
    welcome = await client.welcome()
    statuses = {x["executionId"]: x["status"] for x in welcome["executions"]}
    assert statuses == dict.fromkeys(("cut", "waiting1", "waiting2"), "interrupted-by-shutdown")
    client.close()


async def test_queued_executions_survive_a_killed_gateway(tmp_path: Path) -> None:
    """Queued executions were written only when they started: kill -9 lost them."""
    db_path = tmp_path / "executions.sqlite"
    port, token = free_port(), secrets.token_hex(8)
    async with server_process(argv(db_path, port, token, tmp_path)) as (first, port):
        client = await open_channel(port, token, "queue")
        await start_and_queue(client)
        await asyncio.wait_for(
            until_stored(
                db_path,
                lambda rows: (
                    partial(rows)
                    and rows.get("waiting2", ("",))[0] == "queued"
                    and rows.get("waiting1", ("",))[0] == "queued"
                ),
            ),
            SOCKET_WAIT,
        )
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.wait(), SOCKET_WAIT)
        client.close()
    async with server_process(argv(db_path, port, token, tmp_path)) as (_, port):
        await check_after_restart(port, token)


async def test_a_clean_stop_records_queued_executions_as_interrupted(tmp_path: Path) -> None:
    """A clean stop recorded queued executions as cancelled, not interrupted-by-shutdown."""
    db_path = tmp_path / "executions.sqlite"
    port, token = free_port(), secrets.token_hex(8)
    async with server_process(argv(db_path, port, token, tmp_path)) as (_, port):
        client = await open_channel(port, token, "queue")
        await start_and_queue(client)
    # leaving the block stopped the gateway with SIGTERM
    async with server_process(argv(db_path, port, token, tmp_path)) as (_, port):
        await check_after_restart(port, token)
