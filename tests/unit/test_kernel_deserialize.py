"""Receiving kernel messages without jupyter_client's date parsing: same message, same checks."""

from __future__ import annotations

import pytest
import zmq
from jupyter_client.session import Session

from pdit_gateway.kernel import deserialize


def wire_parts(sender: Session, *, frames: bool = False) -> list:
    request = sender.msg("execute_request", {"code": "1"})
    reply = sender.msg(
        "execute_reply", {"status": "ok", "execution_count": 3}, parent=request["header"]
    )
    reply["metadata"] = {"started": "2024-01-01T00:00:00.000Z"}
    _, parts = sender.feed_identities(sender.serialize(reply))
    return [zmq.Frame(part) for part in parts] if frames else parts


@pytest.mark.parametrize("frames", [False, True])
def test_the_message_is_jupyter_clients_with_dates_left_as_text(frames):
    key = b"secret"
    parts = wire_parts(Session(key=key), frames=frames)
    ours = deserialize(Session(key=key), parts)
    theirs = Session(key=key).deserialize([bytes(getattr(p, "bytes", p)) for p in parts])
    for field in ("msg_id", "msg_type", "content", "metadata", "buffers"):
        assert ours[field] == theirs[field]
    assert ours["header"]["msg_id"] == theirs["header"]["msg_id"]
    assert ours["parent_header"]["msg_type"] == "execute_request"
    assert isinstance(ours["header"]["date"], str)
    assert ours["header"]["date"].startswith(theirs["header"]["date"].strftime("%Y-%m-%dT"))


def test_a_bad_signature_a_replay_and_an_unsigned_message_are_refused():
    key = b"secret"
    receiver = Session(key=key)
    parts = wire_parts(Session(key=key))
    deserialize(receiver, parts)
    with pytest.raises(ValueError, match="Duplicate"):
        deserialize(receiver, parts)
    forged = wire_parts(Session(key=b"other"))
    with pytest.raises(ValueError, match="Invalid"):
        deserialize(receiver, forged)
    with pytest.raises(ValueError, match="Unsigned"):
        deserialize(receiver, [b"", *wire_parts(Session(key=key))[1:]])
    with pytest.raises(TypeError):
        deserialize(receiver, parts[:3])


def test_without_a_key_nothing_is_checked():
    parts = wire_parts(Session(key=b""))
    assert deserialize(Session(key=b""), parts)["content"]["execution_count"] == 3
