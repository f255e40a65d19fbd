"""Client frames of protocol v1: decoding and validation into typed requests."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from .errors import (
    InvalidFieldError,
    InvalidJSONError,
    MessageTooLargeError,
    MissingFieldError,
    ProtocolError,
    UnknownTypeError,
)

PROTOCOL_VERSION = 1

SESSION_ID_PATTERN = r"[A-Za-z0-9_.\-]{1,128}"
_SESSION_ID_RE = re.compile(SESSION_ID_PATTERN)
_MAX_EXECUTION_ID = 128
# a lone surrogate cannot be encoded as UTF-8: JSON may carry it (``"\\ud800"``), a frame
# of text may not
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def valid_session_id(session_id: str) -> bool:
    """Return whether ``session_id`` matches ``[A-Za-z0-9_.-]{1,128}``."""
    return _SESSION_ID_RE.fullmatch(session_id) is not None


@dataclass(frozen=True, slots=True)
class ExecuteRequest:
    """An ``execute`` frame."""

    script: str
    execution_id: str | None = None
    line_range: tuple[int, int] | None = None
    script_name: str | None = None
    reset: bool = False
    timeout: float | None = None
    when_busy: Literal["queue", "reject"] = "queue"
    #: ``"statements"``: the script statement by statement; ``"changed"``: the same, running only
    #: the statements an edit may have changed (an incremental rerun); ``"cell"``: one request.
    mode: Literal["statements", "changed", "cell"] = "statements"
    allow_errors: bool = False
    store_history: bool = True
    #: Whether ``input()`` asks the client (``input-request``); without, it raises.
    allow_stdin: bool = True
    #: The script's absolute path when the endpoint knows it better than ``scriptName``
    #: (pdit's client names only the file, the file it watches has the path); not on the wire.
    script_file: str | None = None
    #: Show DataFrames as interactive tables (pdit's client; not on the wire).
    interactive_tables: bool = False

    @property
    def scripted(self) -> bool:
        """Whether the statements run with script semantics (``statements`` and ``changed``)."""
        return self.mode != "cell"


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    """A ``resume`` frame."""

    last_seq: int


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """A ``cancel`` frame."""

    execution_id: str


@dataclass(frozen=True, slots=True)
class InterruptRequest:
    """An ``interrupt`` frame."""


@dataclass(frozen=True, slots=True)
class ResetRequest:
    """A ``reset`` frame."""


@dataclass(frozen=True, slots=True)
class GetStateRequest:
    """A ``get-state`` frame."""

    execution_id: str | None = None


@dataclass(frozen=True, slots=True)
class InputReplyRequest:
    """An ``input-reply`` frame: the answer to an ``input-request``."""

    value: str
    execution_id: str | None = None


@dataclass(frozen=True, slots=True)
class PingRequest:
    """A ``ping`` frame; ``id`` is echoed back unchanged."""

    id: Any = None


@dataclass(frozen=True, slots=True)
class IntrospectRequest:
    """A ``complete`` or ``inspect`` frame: what the kernel knows at ``cursor_pos`` of ``code``."""

    kind: Literal["complete", "inspect"]
    id: Any
    code: str
    cursor_pos: int
    detail_level: int = 0


@dataclass(frozen=True, slots=True)
class ChangeKernelRequest:
    """A ``change-kernel`` frame: restart the session on another kernel spec."""

    kernel_name: str


ClientRequest = (
    ExecuteRequest
    | ResumeRequest
    | CancelRequest
    | InterruptRequest
    | ResetRequest
    | GetStateRequest
    | PingRequest
    | InputReplyRequest
    | IntrospectRequest
    | ChangeKernelRequest
)


def decode_frame(raw: str | bytes, max_size: int) -> dict[str, Any]:
    """Decode one WebSocket frame into a JSON object with a string ``type``.

    Parameters
    ----------
    raw : str or bytes
        The frame as received.
    max_size : int
        The largest frame accepted, in bytes; 0 means no limit.

    Raises
    ------
    ProtocolError
        With the code of what is wrong (``message-too-large``, ``invalid-json``,
        ``invalid-frame``).
    """
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if max_size and size > max_size:
        raise MessageTooLargeError(f"frame of {size} bytes exceeds max_message_size ({max_size})")
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidJSONError(f"frame is not JSON: {err}") from None
    except RecursionError:
        raise InvalidJSONError("frame is not JSON the gateway reads: nested too deeply") from None
    if not isinstance(frame, dict):
        raise ProtocolError("a frame must be a JSON object")
    for name, value in frame.items():
        if _holds_lone_surrogate(name) or _holds_lone_surrogate(value):
            raise InvalidFieldError(
                f"{name!a} holds a lone surrogate (a \\ud800-\\udfff escape that is not "
                "half of a pair): text must be valid Unicode"
            )
    if not isinstance(frame.get("type"), str):
        raise MissingFieldError("a frame needs a string 'type'")
    return frame


def _lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    return _SURROGATE_RE.search(text) is not None


def _holds_lone_surrogate(value: Any) -> bool:
    """Return whether a decoded JSON value holds a string with a lone surrogate anywhere.

    A walk with a stack, not recursion: the value may be nested as deeply as the JSON
    decoder allowed.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _lone_surrogate(item):
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if _lone_surrogate(key):
                    return True
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _field(frame: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = frame.get(name, default)
    if value is default:
        return value
    # bool is an int in Python: reject it where a number is asked for
    if isinstance(value, bool) and kind in (int, (int, float)):
        raise InvalidFieldError(f"'{name}' must be a number")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise InvalidFieldError(f"'{name}' must be of type {names}")
    return value


def _required(frame: dict[str, Any], name: str, kind: type) -> Any:
    if name not in frame or frame[name] is None:
        raise MissingFieldError(f"'{frame['type']}' needs '{name}'")
    return _field(frame, name, kind, None)


def _execution_id(frame: dict[str, Any], *, required: bool) -> str | None:
    value = (
        _required(frame, "executionId", str)
        if required
        else _field(frame, "executionId", str, None)
    )
    if value is not None and not 0 < len(value) <= _MAX_EXECUTION_ID:
        raise InvalidFieldError(f"'executionId' must have 1 to {_MAX_EXECUTION_ID} characters")
    return value  # type: ignore[no-any-return]


def _line_range(frame: dict[str, Any]) -> tuple[int, int] | None:
    value = _field(frame, "lineRange", dict, None)
    if value is None:
        return None
    start, end = value.get("from"), value.get("to")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (start, end)):
        raise InvalidFieldError("'lineRange' needs integer 'from' and 'to', both >= 1")
    if start > end:
        raise InvalidFieldError("'lineRange.from' must not exceed 'lineRange.to'")
    return (start, end)


def _choice(frame: dict[str, Any], name: str, choices: tuple[str, ...]) -> Any:
    value = _field(frame, name, str, choices[0])
    if value not in choices:
        raise InvalidFieldError(f"'{name}' must be one of {', '.join(choices)}")
    return value


def _execute(frame: dict[str, Any]) -> ExecuteRequest:
    timeout = _field(frame, "timeout", (int, float), None)
    if timeout is not None:
        try:
            timeout = float(timeout)
        except OverflowError:
            raise InvalidFieldError("'timeout' is too large (seconds)") from None
        if not math.isfinite(timeout) or timeout < 0:
            raise InvalidFieldError("'timeout' must be a finite number >= 0 (seconds; 0 = none)")
    mode = _choice(frame, "mode", ("statements", "changed", "cell"))
    if mode == "changed" and frame.get("lineRange") is not None:
        raise InvalidFieldError(
            "'lineRange' cannot be combined with mode 'changed' (it reruns the whole script's "
            "changed statements)"
        )
    return ExecuteRequest(
        script=_required(frame, "script", str),
        execution_id=_execution_id(frame, required=False),
        line_range=_line_range(frame),
        script_name=_field(frame, "scriptName", str, None),
        reset=_field(frame, "reset", bool, False),
        timeout=timeout,
        when_busy=_choice(frame, "whenBusy", ("queue", "reject")),
        mode=mode,
        allow_errors=_field(frame, "allowErrors", bool, False),
        store_history=_field(frame, "storeHistory", bool, True),
        # a notebook's cells do not read input, as nbclient runs them
        allow_stdin=_field(frame, "allowStdin", bool, mode != "cell"),
    )


def _resume(frame: dict[str, Any]) -> ResumeRequest:
    last_seq = _required(frame, "lastSeq", int)
    if isinstance(last_seq, bool) or last_seq < 0:
        raise InvalidFieldError("'lastSeq' must be an integer >= 0")
    return ResumeRequest(last_seq=last_seq)


def parse_request(frame: dict[str, Any]) -> ClientRequest:
    """Validate a decoded frame and return the typed request.

    Raises
    ------
    ProtocolError
        ``unknown-type``, ``missing-field`` or ``invalid-field``.
    """
    kind = frame["type"]
    if kind == "execute":
        return _execute(frame)
    if kind == "resume":
        return _resume(frame)
    if kind == "cancel":
        execution_id = _execution_id(frame, required=True)
        assert execution_id is not None
        return CancelRequest(execution_id=execution_id)
    if kind == "interrupt":
        return InterruptRequest()
    if kind == "reset":
        return ResetRequest()
    if kind == "get-state":
        return GetStateRequest(execution_id=_execution_id(frame, required=False))
    if kind == "ping":
        return PingRequest(id=frame.get("id"))
    if kind == "input-reply":
        return InputReplyRequest(
            value=_required(frame, "value", str),
            execution_id=_execution_id(frame, required=False),
        )
    if kind in ("complete", "inspect"):
        return _introspect(frame, kind)
    if kind == "change-kernel":
        name = _required(frame, "kernelName", str)
        if not name:
            raise InvalidFieldError("'kernelName' must not be empty")
        return ChangeKernelRequest(kernel_name=name)
    raise UnknownTypeError(f"unknown frame type {kind!r}")


def _introspect(frame: dict[str, Any], kind: Literal["complete", "inspect"]) -> IntrospectRequest:
    code = _required(frame, "code", str)
    cursor = _field(frame, "cursorPos", int, None)
    if cursor is None:
        cursor = len(code)
    if cursor < 0 or cursor > len(code):
        raise InvalidFieldError(f"'cursorPos' must be from 0 to the code's length, {len(code)}")
    detail = _field(frame, "detailLevel", int, 0)
    if detail not in (0, 1):
        raise InvalidFieldError("'detailLevel' must be 0 or 1")
    return IntrospectRequest(kind, frame.get("id"), code, cursor, detail)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def encode(event: dict[str, Any]) -> str:
    """Encode one event as the text of a WebSocket frame.

    NaN and infinities, which JSON cannot carry, become ``null``; objects JSON does
    not know are sent as their ``str``. Text is kept as it is, except in the rare event
    that holds a lone surrogate (from a kernel's output, say), which UTF-8 cannot carry:
    that event is encoded with ``\\uXXXX`` escapes for everything outside ASCII.
    """
    try:
        text = json.dumps(
            event, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str
        )
    except ValueError:
        event = _finite(event)
        text = json.dumps(
            event, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str
        )
    if _lone_surrogate(text):
        text = json.dumps(event, separators=(",", ":"), allow_nan=False, default=str)
    return text
