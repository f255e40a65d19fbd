"""The execution store: one per root directory, and never a silent failure (issue 13, 7-8)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import sqlite3

import pytest
from tornado.httpclient import HTTPClientError

from pdit_gateway.pytest_plugin import (
    SOCKET_WAIT,
    fetch_json,
    free_port,
    gateway_argv,
    open_channel,
    server_process,
)
from pdit_gateway.store import SqliteExecutionStore, default_db_path

NO_AUTH = {"Authorization": ""}


def _argv(tmp_path, root, port, token, *options):
    # a private Jupyter data directory: the default database lives there
    env = [
        "env",
        f"JUPYTER_DATA_DIR={tmp_path / 'data'}",
        f"JUPYTER_RUNTIME_DIR={tmp_path / 'runtime'}",
    ]
    return env + gateway_argv(
        token,
        f"--ServerApp.root_dir={root}",
        "--PditGatewayApp.kernel_pool_size=0",
        *options,
        port=port,
    )


async def _committed(path, session_id):
    """Wait until the database at ``path`` holds a finished execution of ``session_id``."""
    while True:
        if path.exists():
            with contextlib.closing(sqlite3.connect(path)) as conn:
                row = conn.execute(
                    "SELECT status FROM executions WHERE session_id = ?", (session_id,)
                ).fetchone()
            if row is not None and row[0] == "ok":
                return
        await asyncio.sleep(0.02)  # polling the file; the caller bounds the wait


async def test_the_default_database_is_one_per_root_directory(tmp_path):
    project_a, project_b = tmp_path / "a", tmp_path / "b"
    project_a.mkdir()
    project_b.mkdir()
    # what a server of project A recorded: in the old shared file and in A's own file
    for path in (
        tmp_path / "data" / "pdit_gateway" / "executions.sqlite",
        default_db_path(project_a, str(tmp_path / "data")),
    ):
        store = SqliteExecutionStore(path, logging.getLogger("test"), batch_interval=0)
        store.load()
        store.save_execution(
            "project-a", {"executionId": "e1", "status": "ok", "createdAt": "2026-01-01"}
        )
        await store.close()
    own = default_db_path(project_b, str(tmp_path / "data"))
    assert own.name.startswith("executions-") and own != path
    port, token = free_port(), secrets.token_hex(8)
    async with server_process(_argv(tmp_path, project_b, port, token)) as (_, port):
        base = f"http://127.0.0.1:{port}/pdit/api/sessions"
        code, _ = await fetch_json(f"{base}/project-a", token)
        assert code == 404  # another project's session is not served
        code, sessions = await fetch_json(base, token)
        assert code == 200 and sessions == []
        client = await open_channel(port, token, "project-a")
        welcome = await client.welcome()
        assert welcome["executions"] == []
        events = await client.run("1 + 1", executionId="e1")  # not a duplicate here
        assert events[-1]["type"] == "complete" and events[-1]["status"] == "ok", events[-1]
        client.close()
        await asyncio.wait_for(_committed(own, "project-a"), SOCKET_WAIT)
    # a server restarted on the same folder finds its own results
    async with server_process(_argv(tmp_path, project_b, port, token)) as (_, port):
        code, snapshot = await fetch_json(
            f"http://127.0.0.1:{port}/pdit/api/sessions/project-a/executions/e1", token
        )
        assert code == 200 and snapshot["fromBeforeRestart"] is True


@pytest.mark.parametrize("kind", ["garbage", "truncated", "folder"])
async def test_a_database_that_cannot_be_used_stops_the_standalone_server(tmp_path, kind):
    db_path = tmp_path / "store.sqlite"
    if kind == "garbage":
        db_path.write_bytes(b"this is not a database\n" * 100)
    elif kind == "truncated":
        store = SqliteExecutionStore(db_path, logging.getLogger("test"), batch_interval=0)
        store.load()
        for i in range(50):
            store.save_execution("s", {"executionId": f"e{i}", "status": "ok", "pad": "x" * 500})
        await store.close()
        data = db_path.read_bytes()
        db_path.write_bytes(data[: len(data) // 3])
    else:
        db_path.mkdir()
    argv = _argv(
        tmp_path, tmp_path, free_port(), secrets.token_hex(8), f"--PditGatewayApp.db_path={db_path}"
    )
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), SOCKET_WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 1, stderr.decode(errors="replace")[-2000:]
    log = stderr.decode(errors="replace")
    assert "pdit gateway cannot start" in log and str(db_path) in log, log[-2000:]
    assert "db_path" in log  # what to do about it


@pytest.fixture
def pdit_config(request, tmp_path):
    db_path = tmp_path / "store" / "executions.sqlite"
    db_path.parent.mkdir()
    if getattr(request, "param", None) == "garbage":
        db_path.write_bytes(b"this is not a database\n" * 100)
    return {"db_path": str(db_path)}


@pytest.mark.parametrize("pdit_config", ["garbage"], indirect=True)
async def test_inside_a_larger_server_a_bad_database_answers_503(jp_fetch, jp_ws_fetch):
    for parts, method, body in (
        (("pdit", "api", "sessions"), "GET", None),
        (("pdit", "api", "sessions"), "POST", "{}"),
        (("pdit", "api", "sessions", "s1"), "GET", None),
        (("api", "save-file"), "POST", json.dumps({"path": "x.py", "content": ""})),
    ):
        response = await jp_fetch(*parts, method=method, body=body, raise_error=False)
        assert response.code == 503, parts
        error = json.loads(response.body)
        assert error["code"] == "store-unavailable", error
        assert "executions.sqlite" in error["message"] and "db_path" in error["message"]
    with pytest.raises(HTTPClientError) as refused:
        await jp_ws_fetch("pdit", "api", "sessions", "s1", "channel")
    assert refused.value.code == 503
    # authentication still comes first
    response = await jp_fetch("pdit", "api", "sessions", headers=NO_AUTH, raise_error=False)
    assert response.code == 403


async def test_a_failing_write_is_reported_to_clients_and_in_the_status(
    jp_fetch, pdit_channel, pdit_config, jp_serverapp
):
    db_path = pdit_config["db_path"]
    store = jp_serverapp.web_app.settings["pdit_session_manager"].store
    status = json.loads((await jp_fetch("pdit", "api", "status")).body)["store"]
    assert (status["state"], status["path"], status["failedWrites"]) == ("ok", db_path, 0)
    client = await pdit_channel("store-fails")
    await client.welcome()
    await client.run("1")
    await asyncio.wait_for(store.flush(), SOCKET_WAIT)
    # another process holds the database's write lock: every write fails (busy)
    with contextlib.closing(sqlite3.connect(db_path, isolation_level=None)) as holder:
        holder.execute("BEGIN EXCLUSIVE")
        await client.send(type="execute", script="2")
        events = await client.until(lambda e: e["type"] == "error")
        assert events[-1]["code"] == "store-write-failed", events[-1]
        assert "not being saved" in events[-1]["message"]
        status = json.loads((await jp_fetch("pdit", "api", "status")).body)["store"]
        assert status["state"] == "failing" and status["failedWrites"] >= 1
        assert "locked" in status["lastError"]
        holder.execute("ROLLBACK")
    await client.run("3")
    await asyncio.wait_for(store.flush(), SOCKET_WAIT)
    status = json.loads((await jp_fetch("pdit", "api", "status")).body)["store"]
    assert status["state"] == "ok", status
