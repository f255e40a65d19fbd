"""The protocol client's pure parts: frames and URLs (pdit_gateway.client)."""

from __future__ import annotations

import pytest

from pdit_gateway.client import GatewayAddress, execute_frame
from pdit_gateway.protocol import parse_request


def test_execute_frame_leaves_out_what_is_not_given():
    assert execute_frame("x = 1", execution_id="e") == {
        "type": "execute",
        "script": "x = 1",
        "executionId": "e",
    }


def test_execute_frame_is_a_valid_request():
    frame = execute_frame(
        "a = 1\nb = 2\n",
        execution_id="e1",
        script_name="a.py",
        line_range=(2, 2),
        timeout=1.5,
        mode="cell",
        storeHistory=False,
    )
    assert frame["lineRange"] == {"from": 2, "to": 2}
    assert frame["scriptName"] == "a.py"
    assert frame["mode"] == "cell"
    assert frame["storeHistory"] is False
    request = parse_request(frame)
    assert request.execution_id == "e1"
    assert request.timeout == 1.5


def test_local_address_and_channel_url():
    address = GatewayAddress.local(8123, "tok")
    assert address.base_url == "http://127.0.0.1:8123/"
    assert address.channel_url("s.1") == "ws://127.0.0.1:8123/pdit/api/sessions/s.1/channel"
    assert address.headers() == {"Authorization": "token tok"}
    assert GatewayAddress.local(1, None).headers() == {}


def test_a_url_that_is_not_a_gateway_is_a_value_error():
    with pytest.raises(ValueError, match="expected http://HOST:PORT/"):
        GatewayAddress.parse("ftp://host/", None)
    with pytest.raises(ValueError, match="expected"):
        GatewayAddress.parse("http:///path", None)
