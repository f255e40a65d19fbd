"""Frame decoding and validation."""

from __future__ import annotations

import math

import pytest

from pdit_gateway import errors
from pdit_gateway.protocol import (
    CancelRequest,
    ExecuteRequest,
    GetStateRequest,
    PingRequest,
    ResumeRequest,
    decode_frame,
    encode,
    parse_request,
    valid_session_id,
)


def parse(raw: str):
    return parse_request(decode_frame(raw, 1000))


def test_execute_with_every_option():
    request = parse(
        '{"type": "execute", "script": "1", "executionId": "e", "lineRange": {"from": 2, "to": 3},'
        ' "scriptName": "a.py", "reset": true, "timeout": 2, "whenBusy": "reject", "mode": "cell",'
        ' "allowErrors": true, "storeHistory": false, "unknown": "ignored"}'
    )
    assert request == ExecuteRequest(
        script="1",
        execution_id="e",
        line_range=(2, 3),
        script_name="a.py",
        reset=True,
        timeout=2.0,
        when_busy="reject",
        mode="cell",
        allow_errors=True,
        store_history=False,
        allow_stdin=False,  # cell mode: no input(), as nbclient runs cells
    )


def test_defaults_and_other_frames():
    assert parse('{"type": "execute", "script": ""}') == ExecuteRequest(script="")
    assert parse('{"type": "resume", "lastSeq": 0}') == ResumeRequest(0)
    assert parse('{"type": "cancel", "executionId": "x"}') == CancelRequest("x")
    assert parse('{"type": "get-state"}') == GetStateRequest()
    assert parse('{"type": "ping", "id": [1]}') == PingRequest([1])


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("{", errors.InvalidJSONError),
        ("[]", errors.ProtocolError),
        ('{"type": null}', errors.MissingFieldError),
        ('{"type": "nope"}', errors.UnknownTypeError),
        ('{"type": "execute", "script": null}', errors.MissingFieldError),
        ('{"type": "execute", "script": "1", "reset": 1}', errors.InvalidFieldError),
        ('{"type": "resume", "lastSeq": true}', errors.InvalidFieldError),
        ('{"type": "resume", "lastSeq": 1.5}', errors.InvalidFieldError),
        ('{"type": "cancel", "executionId": "' + "x" * 129 + '"}', errors.InvalidFieldError),
        ("x" * 1001, errors.MessageTooLargeError),
    ],
)
def test_bad_frames_raise_with_codes(raw, error):
    with pytest.raises(error) as caught:
        parse(raw)
    assert caught.value.to_event()["code"] == error.code


def test_size_counts_utf8_bytes():
    with pytest.raises(errors.MessageTooLargeError):
        decode_frame('{"type": "ping", "id": "' + "é" * 600 + '"}', 1000)


def test_encode_survives_nan_and_unknown_objects():
    text = encode({"type": "x", "value": math.nan, "inf": [math.inf], "obj": object()})
    assert '"value":null' in text and '"inf":[null]' in text and "object object" in text


@pytest.mark.parametrize("session_id", ["a", "A-b_c.1", "x" * 128])
def test_valid_session_ids(session_id):
    assert valid_session_id(session_id)


@pytest.mark.parametrize("session_id", ["", "x" * 129, "a/b", "a b", "..%2f", "ü"])
def test_invalid_session_ids(session_id):
    assert not valid_session_id(session_id)
