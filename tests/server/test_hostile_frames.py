"""Hostile frames: lone surrogates, deep nesting, huge and non-finite numbers (issue 13)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import datetime, timezone
from typing import Any

from pdit_gateway.pytest_plugin import (
    SOCKET_WAIT,
    gateway_argv,
    open_channel,
    results,
    server_process,
    texts,
)
from pdit_gateway.store import SqliteExecutionStore

LONE = "\\ud800"  # a JSON escape: the decoded string holds a lone surrogate

SURROGATE_FRAMES = [
    '{"type": "execute", "script": "1", "executionId": "@"}'.replace("@", LONE),
    '{"type": "execute", "script": "1", "scriptName": "a@b"}'.replace("@", LONE),
    '{"type": "execute", "script": "x = \'@\'"}'.replace("@", LONE),
    '{"type": "execute", "script": "1", "whenBusy": "@"}'.replace("@", LONE),
    '{"type": "cancel", "executionId": "@"}'.replace("@", LONE),
    '{"type": "get-state", "executionId": "@"}'.replace("@", LONE),
    '{"type": "ping", "id": {"deep": ["ok", "\\udfff"]}}',
    '{"type": "ping", "id": {"\\udc00": 1}}',
    '{"type@": "ping"}'.replace("@", LONE),
]


async def test_lone_surrogates_are_refused_and_no_client_goes_silent(pdit_channel):
    """A lone surrogate in executionId or scriptName killed the session's writers: the
    sender, bystanders and later clients got nothing more."""
    attacker = await pdit_channel("surrogates")
    bystander = await pdit_channel("surrogates")
    await attacker.welcome()
    welcome = await bystander.welcome()
    await bystander.send(type="resume", lastSeq=welcome["lastSeq"])
    for raw in SURROGATE_FRAMES:
        await attacker.send_raw(raw)
        error = (await attacker.until(lambda e: e["type"] == "error"))[-1]
        assert error["code"] == "invalid-field", raw
        assert "surrogate" in error["message"]
    # a valid pair (an emoji as two escapes) is text, not refused
    await attacker.send_raw('{"type": "ping", "id": "\\ud83d\\ude00"}')
    pong = (await attacker.until(lambda e: e["type"] == "pong"))[-1]
    assert pong["id"] == "\U0001f600"
    events = await attacker.run("'attacker' + '!'", scriptName="fine.py")
    assert texts(results(events)[0]) == "'attacker!'"
    seen = await bystander.until(lambda e: e["type"] == "complete")
    assert [e for e in seen if e["type"] == "result"]
    late = await pdit_channel("surrogates")
    welcome = await late.welcome()
    assert [x["scriptName"] for x in welcome["executions"]] == ["fine.py"]


async def test_pdit_endpoint_refuses_lone_surrogates(jp_ws_fetch):
    connection = await jp_ws_fetch("ws", "session", params={"sessionId": "pdit-surrogate"})

    async def recv() -> dict[str, Any]:
        message = await asyncio.wait_for(connection.read_message(), SOCKET_WAIT)
        assert message is not None, f"closed ({connection.close_code})"
        return json.loads(message)

    await connection.write_message(
        '{"type": "execute", "script": "1", "scriptName": "@", "executionId": "e"}'.replace(
            "@", LONE
        )
    )
    error = await recv()
    assert error["type"] == "error" and "surrogate" in error["message"]
    await connection.write_message(json.dumps({"type": "execute", "script": "6 * 7"}))
    while (message := await recv())["type"] != "result":
        pass
    assert message["output"][0]["content"] == "42"
    connection.close()


async def test_a_stored_lone_surrogate_does_not_break_the_session(tmp_path):
    """A scriptName stored by an older gateway kept the session silent after a restart."""
    db_path = tmp_path / "executions.sqlite"
    store = SqliteExecutionStore(db_path, logging.getLogger("test"))
    store.save_execution(
        "stored",
        {
            "executionId": "old",
            "status": "ok",
            "scriptName": "bad\udfffname.py",
            "expressions": [],
            "results": {"0": {"output": [{"type": "stdout", "content": "x\ud800"}]}},
            "createdAt": datetime.now(timezone.utc).isoformat(),
        },
    )
    await store.close()
    token = secrets.token_hex(8)
    argv = gateway_argv(
        token, f"--PditGatewayApp.db_path={db_path}", "--PditGatewayApp.kernel_pool_size=0"
    )
    async with server_process(argv) as (_, port):
        client = await open_channel(port, token, "stored")
        welcome = await client.welcome()
        assert welcome["executions"][0]["scriptName"] == "bad\udfffname.py"
        await client.send(type="get-state", executionId="old")
        state = (await client.until(lambda e: e["type"] == "state"))[-1]
        assert state["execution"]["results"]["0"]["output"][0]["content"] == "x\ud800"
        events = await client.run("1 + 2")
        assert texts(results(events)[0]) == "3"
        client.close()


HOSTILE_NUMBERS = [
    ("[" * 100_000 + "]" * 100_000, "invalid-json"),
    ('{"type": "ping", "id": ' + "[" * 100_000 + "]" * 100_000 + "}", "invalid-json"),
    ('{"type": "execute", "script": "1", "timeout": ' + "9" * 400 + "}", "invalid-field"),
    ('{"type": "execute", "script": "1", "timeout": NaN}', "invalid-field"),
    ('{"type": "execute", "script": "1", "timeout": Infinity}', "invalid-field"),
    ('{"type": "execute", "script": "1", "timeout": -Infinity}', "invalid-field"),
    ('{"type": "execute", "script": "1", "timeout": 1e999}', "invalid-field"),
]


async def test_deep_nesting_and_hostile_numbers_get_an_error_and_the_connection_lives(
    pdit_channel,
):
    """A 100k-deep array (RecursionError) and a 400-digit timeout (OverflowError) closed the
    connection without a close frame; NaN and Infinity were accepted as timeouts."""
    channel = await pdit_channel("numbers")
    await channel.welcome()
    for raw, code in HOSTILE_NUMBERS:
        await channel.send_raw(raw)
        error = (await channel.until(lambda e: e["type"] == "error"))[-1]
        assert error["code"] == code, raw[:80]
    events = await channel.run("'ali' + 've'", timeout=30)
    assert texts(results(events)[0]) == "'alive'"
