"""The gateway's uses of other libraries' internals, each behind a feature check with a fallback.

Three shortcuts save most of the gateway's per-message cost, and each reaches past a public
API: writing a batch of WebSocket frames in one socket write (Tornado's permessage-deflate
compressor), receiving kernel messages without jupyter_client's date parsing (its replay
bookkeeping), and keeping jupyter_server's record of a kernel's activity from the gateway's own
iopub stream (its activity watcher). Each function here checks that the internal it needs is
there with the shape it expects and otherwise does the same job through the public API, more
slowly. ``scripts/test-oldest.sh`` runs the suite on the oldest versions pyproject.toml allows,
so a change on either side of the supported range shows up there.

One more reads a server's listening socket where older jupyter_servers do not say which port
they bound (:func:`listening_port`).
"""

from __future__ import annotations

import hmac
import socket
import struct
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from jupyter_client.adapter import adapt
from jupyter_client.session import Session

from .jsontypes import JSONDict

# --- Tornado: several WebSocket messages in one write ------------------------------------


def text_frame(payload: bytes, compressed: bool = False) -> bytes:
    """Return a final, unmasked text frame (RFC 6455 section 5.2) carrying ``payload``.

    ``compressed`` sets RSV1, which marks a permessage-deflate payload (RFC 7692).
    """
    first = 0xC1 if compressed else 0x81
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, 126, size)
    else:
        header = struct.pack("!BBQ", first, 127, size)
    return header + payload


def frame_encoder(connection: Any) -> Callable[[list[str]], bytes] | None:
    """Return a function that encodes texts as ``connection`` would frame them, or None.

    The frames are what Tornado's ``WebSocketProtocol13.write_message`` writes for a server:
    unmasked text frames, deflated by the connection's negotiated compressor (its private
    ``_compressor``: None when compression was not agreed, else an object with
    ``compress(bytes) -> bytes``, which Tornado's own writes share, so the frames keep the
    order the compressor saw them in). None when the connection does not look like that: a
    client-side (masking) connection, no ``stream``, no ``_compressor`` attribute, or one of
    another shape; the caller then writes each message with ``write_message``.
    """
    if connection is None or getattr(connection, "mask_outgoing", None) is not False:
        return None
    if not callable(getattr(getattr(connection, "stream", None), "write", None)):
        return None
    try:
        compressor = connection._compressor
    except AttributeError:
        return None
    if compressor is None:
        return lambda texts: b"".join(text_frame(text.encode()) for text in texts)
    compress = getattr(compressor, "compress", None)
    if not callable(compress):
        return None
    return lambda texts: b"".join(
        text_frame(compress(text.encode()), compressed=True) for text in texts
    )


async def write_messages(handler: Any, texts: list[str]) -> None:
    """Write ``texts`` as text messages on a Tornado WebSocket handler, in order, and wait
    until they are flushed.

    With :func:`frame_encoder`'s frames all go in one socket write (``write_message`` costs a
    task and a system call per message, most of the time of streaming a 10,000-event
    replay); otherwise each goes through ``write_message``. Raises what they raise:
    ``StreamClosedError`` from the batched write, ``WebSocketClosedError`` from
    ``write_message``.
    """
    connection = handler.ws_connection
    encode = frame_encoder(connection)
    if encode is not None:
        await connection.stream.write(encode(texts))
        return
    for text in texts:
        await handler.write_message(text)


# --- jupyter_client: receiving kernel messages without parsing dates ---------------------


def fast_replay_check(session: Session) -> Callable[[bytes], None] | None:
    """Return jupyter_client's bookkeeping of received signatures (``Session._add_digest``,
    which also culls ``digest_history`` to ``digest_history_size``), or None when this
    jupyter_client keeps it otherwise (no such method, or a ``digest_history`` that is not a
    set)."""
    add = getattr(session, "_add_digest", None)
    if not callable(add) or not isinstance(getattr(session, "digest_history", None), set):
        return None
    return add  # type: ignore[no-any-return]


def deserialize(session: Session, parts: list[Any]) -> JSONDict:
    """Return the message in ``parts`` as ``Session.deserialize`` does, without parsing dates.

    jupyter_client turns the header's and parent header's ``date`` into datetimes with
    dateutil, which is most of the cost of receiving a message (tens of µs, several times a
    statement); the gateway never reads them, so they stay ISO strings. The signature and
    replay checks are jupyter_client's: where its bookkeeping is not the one
    :func:`fast_replay_check` knows, ``Session.deserialize`` itself checks the message (and
    parses the dates, which are then dropped).
    """
    if len(parts) < 5:
        raise TypeError("malformed message, must have at least 5 elements")
    frames = [bytes(getattr(part, "bytes", part)) for part in parts[:5]]
    if session.auth is not None:
        remember = fast_replay_check(session)
        if remember is None:
            session.deserialize(frames)  # raises ValueError as below
        else:
            signature = frames[0]
            if not signature:
                raise ValueError("Unsigned Message")
            if signature in session.digest_history:
                raise ValueError(f"Duplicate Signature: {signature!r}")
            remember(signature)
            if not hmac.compare_digest(signature, session.sign(frames[1:5])):
                raise ValueError(f"Invalid Signature: {signature!r}")
    header = session.unpack(frames[1])
    message = {
        "header": header,
        "msg_id": header["msg_id"],
        "msg_type": header["msg_type"],
        "parent_header": session.unpack(frames[2]),
        "metadata": session.unpack(frames[3]),
        "content": session.unpack(frames[4]),
        "buffers": [memoryview(bytes(getattr(part, "bytes", part))) for part in parts[5:]],
    }
    adapted: JSONDict = adapt(message)
    return adapted


def set_replay_window(session: Any, size: int) -> bool:
    """Make ``session`` remember ``size`` received signatures to refuse replays; return
    whether it could (a jupyter_client ``Session`` with the ``digest_history_size`` trait).

    jupyter_client culls its history to the new size at the next signature it records.
    """
    if (
        size <= 0
        or not isinstance(session, Session)
        or not session.has_trait("digest_history_size")
    ):
        return False
    session.digest_history_size = size
    return True


# --- jupyter_server: the record of a kernel's activity -----------------------------------


def _default_tracking(manager: Any) -> bool:
    """Whether ``manager`` decides what counts as activity by jupyter_server's own rule,
    ``track_message_type(t)`` = ``t not in untracked_message_types``."""
    try:
        from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
    except ImportError:  # pragma: no cover - jupyter_server is a dependency
        return False
    rule = getattr(type(manager), "track_message_type", None)
    return rule is getattr(MappingKernelManager, "track_message_type", None) and isinstance(
        getattr(manager, "untracked_message_types", None), Iterable
    )


class ActivityRecorder:
    """jupyter_server's record of a kernel's activity, kept from the gateway's own iopub stream.

    jupyter_server watches every kernel's iopub with a subscription of its own that decodes
    each message again (status messages twice) to keep ``last_activity`` and
    ``execution_state`` for its REST API and its idle culler: that was about 40% of the
    gateway's CPU time per statement. A session's connection decodes every iopub message
    anyway, so it stops that watcher and applies the same rules itself. Where the server
    does not look as this expects (no ``stop_watching_activity``/``start_watching_activity``,
    no ``get_kernel``, a kernel without ``last_activity``/``execution_state``) nothing is
    changed and the server's watcher keeps the record, as it does for any other kernel.

    Parameters
    ----------
    kernel_manager : MappingKernelManager
        The server's kernel manager.
    kernel_id : str
        The kernel whose activity is recorded.
    """

    def __init__(self, kernel_manager: Any, kernel_id: str) -> None:
        self.kernel_manager = kernel_manager
        self.kernel_id = kernel_id
        self.kernel: Any = None
        self._untracked: frozenset[str] = frozenset()
        self._track: Callable[[str | None], bool] | None = None

    def take_over(self) -> bool:
        """Stop the server's watcher of this kernel, so that :meth:`record` does its work from
        now on; return whether it did."""
        manager = self.kernel_manager
        if not all(
            callable(getattr(manager, name, None))
            for name in ("stop_watching_activity", "start_watching_activity", "get_kernel")
        ):
            return False
        try:
            kernel = manager.get_kernel(self.kernel_id)
        except KeyError:
            return False
        if not all(hasattr(kernel, name) for name in ("last_activity", "execution_state")):
            return False
        if _default_tracking(manager):
            self._untracked = frozenset(manager.untracked_message_types)
            self._track = None
        elif callable(getattr(manager, "track_message_type", None)):
            self._track = manager.track_message_type
        else:
            return False
        manager.stop_watching_activity(self.kernel_id)
        self.kernel = kernel
        return True

    def record(self, msg: JSONDict) -> None:
        """Apply one iopub message as jupyter_server's ``record_activity`` does."""
        kernel = self.kernel
        if kernel is None:
            return
        msg_type = msg["header"]["msg_type"]
        parent_type = (msg.get("parent_header") or {}).get("msg_type")
        track = self._track
        if track is None:
            untracked = self._untracked
            tracked_parent = parent_type not in untracked
            tracked = msg_type not in untracked
        else:
            tracked_parent = track(parent_type)
            tracked = track(msg_type)
        if tracked or tracked_parent or kernel.execution_state == "busy":
            self.kernel_manager.last_kernel_activity = kernel.last_activity = datetime.now(
                timezone.utc
            )
        if msg_type == "status":
            state = msg["content"].get("execution_state")
            if tracked_parent:
                if state != kernel.execution_state:
                    kernel.execution_state = state
            elif kernel.execution_state == "starting" and state != "starting":
                kernel.execution_state = "idle"


# --- jupyter_server: the port a server bound ----------------------------------------------


def listening_port(app: Any) -> int:
    """Return the TCP port that ``app``, a ServerApp whose HTTP server listens, accepts on.

    With ``port = 0`` the system picks a free port: jupyter_server 2.20 and later write it
    back to ``app.port``, older ones leave 0 there. Then the port is read from the listening
    sockets of the server's Tornado ``HTTPServer`` (``_sockets``, its map of file descriptors
    to sockets). Raises OSError when neither says which port it is.
    """
    port = getattr(app, "port", 0)
    if isinstance(port, int) and port > 0:
        return port
    sockets = getattr(getattr(app, "http_server", None), "_sockets", None)
    if isinstance(sockets, dict):
        for sock in sockets.values():
            if isinstance(sock, socket.socket) and sock.family in (
                socket.AF_INET,
                socket.AF_INET6,
            ):
                bound = sock.getsockname()[1]
                if isinstance(bound, int) and bound > 0:
                    return bound
    raise OSError("the server does not say which TCP port it listens on")
