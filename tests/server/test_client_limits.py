"""Clients cut off are told why: a cap on sockets per session, a burst of unread replies."""

from __future__ import annotations

import asyncio
import json

import pytest

from pdit_gateway.pytest_plugin import SOCKET_WAIT, results, texts


@pytest.fixture
def pdit_config():
    return {"max_clients_per_session": 3, "max_queue": 1}


async def closed(connection) -> tuple[int | None, str | None]:
    """Read until the server closes the connection; return its close code and reason."""

    async def drain() -> None:
        while await connection.read_message() is not None:
            pass

    await asyncio.wait_for(drain(), SOCKET_WAIT)
    return connection.close_code, connection.close_reason


async def test_sockets_per_session_are_capped(pdit_channel, jp_ws_fetch, jp_fetch):
    """2,000 sockets on one session cost ~150 KB each, with no cap."""
    first, second, third = [await pdit_channel("crowded") for _ in range(3)]
    for channel in (first, second, third):
        await channel.welcome()
    extra = await pdit_channel("crowded")
    code, reason = await closed(extra.connection)
    assert code == 1008
    assert "max_clients_per_session" in reason
    pdit = await jp_ws_fetch("ws", "session", params={"sessionId": "crowded"})
    code, reason = await closed(pdit)
    assert code == 1008 and "max_clients_per_session" in reason
    events = await first.run("6 * 7")
    assert texts(results(events)[0]) == "42"
    # a place freed is a place taken
    third.close()
    await asyncio.wait_for(clients_become(jp_fetch, "crowded", 2), SOCKET_WAIT)
    again = await pdit_channel("crowded")
    await again.welcome()
    other = await pdit_channel("elsewhere")
    await other.welcome()


async def clients_become(jp_fetch, session_id: str, count: int) -> None:
    """Wait until the session lists ``count`` clients (each check is a REST round trip)."""
    while True:
        response = await jp_fetch("pdit", "api", "sessions")
        listed = {s["sessionId"]: s["clients"] for s in json.loads(response.body)}
        if listed.get(session_id) == count:
            return


async def test_a_burst_of_unread_replies_is_cut_off_with_a_close_code(pdit_channel):
    """A 10k-frame burst was disconnected after 1,000 pending replies with no close code."""
    channel = await pdit_channel("burst")
    await channel.welcome()
    # a large snapshot per reply: the socket buffers cannot take them all
    await channel.run("print('x' * 20000)")
    frame = json.dumps({"type": "get-state"})
    for _ in range(3000):
        await channel.connection.write_message(frame)
    code, reason = await closed(channel.connection)
    assert code == 1008
    assert "replies" in reason
    after = await pdit_channel("burst")
    welcome = await after.welcome()
    assert welcome["sessionId"] == "burst"
