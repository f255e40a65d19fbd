"""Bad input never kills a connection or a session; keep-alive closes dead connections."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest

from pdit_gateway.pytest_plugin import results, texts


@pytest.fixture
def pdit_config():
    return {"max_message_size": 4096, "ping_interval": 0.3, "kernel_poll_interval": 0.5}


BAD_FRAMES = [
    ("not json", "invalid-json"),
    ("[1, 2]", "invalid-frame"),
    ('"a string"', "invalid-frame"),
    ("{}", "missing-field"),
    ('{"type": 7}', "missing-field"),
    ('{"type": "launch-rockets"}', "unknown-type"),
    ('{"type": "execute"}', "missing-field"),
    ('{"type": "execute", "script": 5}', "invalid-field"),
    ('{"type": "execute", "script": "1", "timeout": -1}', "invalid-field"),
    ('{"type": "execute", "script": "1", "timeout": true}', "invalid-field"),
    ('{"type": "execute", "script": "1", "whenBusy": "sometimes"}', "invalid-field"),
    ('{"type": "execute", "script": "1", "mode": "notebook"}', "invalid-field"),
    ('{"type": "execute", "script": "1", "lineRange": {"from": 5, "to": 2}}', "invalid-field"),
    ('{"type": "execute", "script": "1", "lineRange": {"from": 0, "to": 2}}', "invalid-field"),
    ('{"type": "execute", "script": "1", "executionId": ""}', "invalid-field"),
    ('{"type": "resume"}', "missing-field"),
    ('{"type": "resume", "lastSeq": -3}', "invalid-field"),
    ('{"type": "cancel"}', "missing-field"),
    ('{"type": "cancel", "executionId": "nope"}', "unknown-execution"),
    ('{"type": "get-state", "executionId": "nope"}', "unknown-execution"),
    (json.dumps({"type": "execute", "script": "x" * 5000}), "message-too-large"),
]


async def test_every_bad_frame_gets_an_error_and_the_connection_lives(pdit_channel):
    channel = await pdit_channel("frames")
    await channel.welcome()
    for raw, code in BAD_FRAMES:
        await channel.send_raw(raw)
        error = (await channel.until(lambda e: e["type"] == "error"))[-1]
        assert error["code"] == code, raw
        assert error["message"]
    await channel.send_raw(b'{"type": "ping", "id": "bytes"}')
    pong = (await channel.until(lambda e: e["type"] == "pong"))[-1]
    assert pong["id"] == "bytes"
    events = await channel.run("1 + 1")
    assert texts(results(events)[0]) == "2"


async def test_frame_beyond_twice_the_limit_closes_only_that_connection(pdit_channel):
    doomed = await pdit_channel("big")
    other = await pdit_channel("big")
    await doomed.welcome()
    await other.welcome()
    await doomed.send_raw(json.dumps({"type": "execute", "script": "x" * 20000}))
    with pytest.raises(ConnectionError):
        await doomed.until(lambda e: False, 30)
    assert doomed.connection.close_code == 1009
    events = await other.run("'still here'.upper()")
    assert texts(results(events)[0]) == "'STILL HERE'"


async def test_ping_pong_reports_last_seq_and_kernel_state(pdit_channel):
    channel = await pdit_channel("pinger")
    await channel.welcome()
    await channel.run("1")
    await channel.send(type="ping", id=42)
    pong = (await channel.until(lambda e: e["type"] == "pong"))[-1]
    assert pong["id"] == 42
    assert pong["lastSeq"] == max(e["seq"] for e in channel.received if "seq" in e)
    assert pong["kernel"]["state"] == "idle"


async def test_server_ping_closes_a_client_that_never_answers(
    http_server_client, jp_serverapp, jp_http_port, jp_base_url, jp_auth_header
):
    """A raw TCP client completes the WebSocket handshake, then never reads or answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    key = base64.b64encode(os.urandom(16)).decode()
    path = f"{jp_base_url.rstrip('/')}/pdit/api/sessions/mute/channel"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{jp_http_port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: {jp_auth_header['Authorization']}\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 30)
    assert b"101" in status
    manager = jp_serverapp.web_app.settings["pdit_session_manager"]
    assert len(manager.get("mute").clients) == 1

    # the server pings every 0.3 s; with no pong it must close the TCP connection
    async def read_to_eof() -> None:
        while await reader.read(65536):
            pass

    await asyncio.wait_for(read_to_eof(), 30)
    assert len(manager.get("mute").clients) == 0
    writer.close()
