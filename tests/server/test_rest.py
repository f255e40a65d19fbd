"""The REST endpoints, authentication and origin checks."""

from __future__ import annotations

import asyncio
import json
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from pdit_gateway.pytest_plugin import results


async def test_create_list_get_and_delete(jp_fetch, jp_serverapp):
    created = await jp_fetch(
        "pdit", "api", "sessions", method="POST", body=json.dumps({"sessionId": "rest-1"})
    )
    assert created.code == 201
    body = json.loads(created.body)
    assert body["sessionId"] == "rest-1" and body["executions"] == []
    listed = json.loads((await jp_fetch("pdit", "api", "sessions")).body)
    assert [s["sessionId"] for s in listed] == ["rest-1"]
    assert set(listed[0]) >= {"kernel", "clients", "queueLength", "lastSeq"}
    snapshot = json.loads((await jp_fetch("pdit", "api", "sessions", "rest-1")).body)
    assert snapshot["sessionId"] == "rest-1"
    manager = jp_serverapp.web_app.settings["pdit_session_manager"]
    session = manager.get("rest-1")
    await session.kernel.ready.wait()
    kernel_id = session.kernel_id
    assert kernel_id in jp_serverapp.kernel_manager
    deleted = await jp_fetch("pdit", "api", "sessions", "rest-1", method="DELETE")
    assert deleted.code == 204
    assert kernel_id not in jp_serverapp.kernel_manager
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch("pdit", "api", "sessions", "rest-1")
    assert missing.value.code == 404


async def test_post_without_id_makes_one(jp_fetch):
    created = await jp_fetch("pdit", "api", "sessions", method="POST", body="{}")
    session_id = json.loads(created.body)["sessionId"]
    assert len(session_id) == 36
    assert created.headers["Location"].endswith(session_id)


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "a%2Fb"])
async def test_bad_session_ids_are_refused(jp_fetch, bad):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            "pdit", "api", "sessions", method="POST", body=json.dumps({"sessionId": bad})
        )
    assert err.value.code == 400


async def test_bad_session_id_on_the_channel_is_refused_before_a_kernel(jp_ws_fetch, jp_serverapp):
    with pytest.raises(HTTPClientError) as err:
        await jp_ws_fetch("pdit", "api", "sessions", "bad id!", "channel")
    assert err.value.code == 400
    assert jp_serverapp.web_app.settings["pdit_session_manager"].sessions == {}


async def test_execution_snapshot(jp_fetch, pdit_channel):
    channel = await pdit_channel("snap")
    await channel.welcome()
    events = await channel.run("print('hi')\n3", executionId="one")
    assert len(results(events)) == 2
    snapshot = json.loads(
        (await jp_fetch("pdit", "api", "sessions", "snap", "executions", "one")).body
    )
    assert snapshot["status"] == "ok"
    assert snapshot["results"]["0"]["output"] == [
        {"type": "stdout", "content": "hi\n", "outputType": "stream"}
    ]
    assert snapshot["createdAt"] < snapshot["finishedAt"]
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("pdit", "api", "sessions", "snap", "executions", "two")
    assert err.value.code == 404


async def test_requests_without_a_token_are_refused(jp_fetch, jp_ws_fetch, jp_serverapp):
    for headers in ({"Authorization": ""}, {"Authorization": "token wrong"}):
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch("pdit", "api", "sessions", headers=headers)
        assert err.value.code == 403
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch("pdit", "api", "sessions", method="POST", body="{}", headers=headers)
        assert err.value.code == 403
        with pytest.raises(HTTPClientError) as err:
            await jp_ws_fetch("pdit", "api", "sessions", "nope", "channel", headers=headers)
        assert err.value.code == 403
    assert jp_serverapp.web_app.settings["pdit_session_manager"].sessions == {}


async def test_token_in_query_is_accepted(jp_ws_fetch, jp_serverapp):
    token = jp_serverapp.identity_provider.token
    connection = await jp_ws_fetch(
        "pdit",
        "api",
        "sessions",
        "q",
        "channel",
        headers={"Authorization": ""},
        params={"token": token},
    )
    welcome = json.loads(await connection.read_message())
    assert welcome["type"] == "welcome"
    connection.close()


async def _login_cookie(port: int, base_url: str, token: str) -> str:
    """Log in as a browser does and return the Cookie header value."""
    client = AsyncHTTPClient()
    login = f"http://127.0.0.1:{port}{base_url.rstrip('/')}/login"
    page = await client.fetch(login, raise_error=False)
    jar = SimpleCookie()
    for header in page.headers.get_list("Set-Cookie"):
        jar.load(header)
    xsrf = jar["_xsrf"].value
    posted = await client.fetch(
        login,
        method="POST",
        body=urlencode({"_xsrf": xsrf, "password": token}),
        headers={"Cookie": f"_xsrf={xsrf}"},
        follow_redirects=False,
        raise_error=False,
    )
    assert posted.code == 302, posted.code
    for header in posted.headers.get_list("Set-Cookie"):
        jar.load(header)
    return "; ".join(f"{key}={morsel.value}" for key, morsel in jar.items())


async def test_foreign_origin_is_refused_for_cookie_auth(
    http_server_client, jp_http_port, jp_base_url, jp_serverapp
):
    """Token requests skip the origin check (jupyter_server's rule); cookie ones must pass it."""
    cookie = await _login_cookie(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    host = f"127.0.0.1:{jp_http_port}"
    url = f"ws://{host}{jp_base_url.rstrip('/')}/pdit/api/sessions/o/channel"
    foreign = HTTPRequest(url, headers={"Cookie": cookie, "Origin": "http://evil.example"})
    with pytest.raises(HTTPClientError) as err:
        await websocket_connect(foreign)
    assert err.value.code == 403
    assert jp_serverapp.web_app.settings["pdit_session_manager"].sessions == {}
    same = HTTPRequest(url, headers={"Cookie": cookie, "Origin": f"http://{host}"})
    connection = await websocket_connect(same)
    welcome = json.loads(await asyncio.wait_for(connection.read_message(), 30))
    assert welcome["type"] == "welcome"
    connection.close()


async def test_rest_post_with_cookie_needs_xsrf(
    http_server_client, jp_http_port, jp_base_url, jp_serverapp
):
    cookie = await _login_cookie(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url.rstrip('/')}/pdit/api/sessions"
    response = await AsyncHTTPClient().fetch(
        url, method="POST", body="{}", headers={"Cookie": cookie}, raise_error=False
    )
    assert response.code == 403
    assert jp_serverapp.web_app.settings["pdit_session_manager"].sessions == {}
