"""Scripted kernel messages for the unit tests, shaped like jupyter_client's get_iopub_msg()."""

from __future__ import annotations

from typing import Any

Msg = dict[str, Any]


def msg(msg_type: str, **content: Any) -> Msg:
    """Return an iopub message of ``msg_type`` with ``content``, answering request ``parent``."""
    header = {"msg_type": msg_type, "msg_id": "m", "session": "s", "version": "5.3"}
    return {
        "header": header,
        "msg_id": "m",
        "msg_type": msg_type,
        "parent_header": {"msg_id": "parent", "msg_type": "execute_request"},
        "metadata": {},
        "content": content,
        "buffers": [],
    }


def stream(text: str, name: str = "stdout") -> Msg:
    """Return a ``stream`` message."""
    return msg("stream", name=name, text=text)
