"""compat: each shortcut through another library's internals, and its public-API fallback."""

from __future__ import annotations

import asyncio
import hmac
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from jupyter_client.session import Session
from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import Application
from tornado.websocket import WebSocketHandler, websocket_connect

from pdit_gateway import compat

# one of each length form (RFC 6455: 7-bit, 16-bit, 64-bit) and text that is not ASCII
TEXTS = ["short", "é" * 300, "x" * 70_000, '{"type": "stream", "text": "∑ 1\\n"}']


class HiddenCompressor:
    """A Tornado connection as a Tornado without (or with a renamed) ``_compressor`` shows
    it: everything else is the real connection's, so ``write_message`` still works."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "_compressor":
            raise AttributeError(name)
        return getattr(self._inner, name)


class Sender(WebSocketHandler):
    """Writes TEXTS with write_messages, then one message of Tornado's own, then closes."""

    def initialize(self, hide: bool, paths: list[str]) -> None:
        self.hide = hide
        self.paths = paths

    def get_compression_options(self) -> dict[str, Any]:
        return {}

    async def open(self) -> None:  # type: ignore[override]
        if self.hide:
            self.ws_connection = HiddenCompressor(self.ws_connection)  # type: ignore[assignment]
        batched = compat.frame_encoder(self.ws_connection) is not None
        self.paths.append("batched" if batched else "write_message")
        await compat.write_messages(self, TEXTS)
        # Tornado's own write after the batch: with compression it shares the deflate
        # context, so it decodes only if the batch went through the same compressor
        await self.write_message("after")
        self.close()


async def receive_all(hide: bool, compress: bool) -> tuple[list[str], str, list[str]]:
    sock, port = bind_unused_port()
    paths: list[str] = []
    server = HTTPServer(Application([("/ws", Sender, {"hide": hide, "paths": paths})]))
    server.add_sockets([sock])
    try:
        client = await asyncio.wait_for(
            websocket_connect(
                f"ws://127.0.0.1:{port}/ws", compression_options={} if compress else None
            ),
            10,
        )
        received = []
        while True:
            message = await asyncio.wait_for(client.read_message(), 10)
            if message is None:
                break
            received.append(message)
        extensions = client.headers.get("Sec-WebSocket-Extensions", "")
    finally:
        server.stop()
        await asyncio.wait_for(server.close_all_connections(), 10)
    return received, extensions, paths


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
@pytest.mark.parametrize(
    ("hide", "path"),
    [(False, "batched"), (True, "write_message")],
    ids=["tornado-compressor", "no-compressor-attribute"],
)
async def test_a_real_client_reads_the_batch_in_order(hide, path, compress):
    received, extensions, paths = await receive_all(hide, compress)
    assert paths == [path]
    assert extensions.startswith("permessage-deflate") == compress
    assert received == [*TEXTS, "after"]


def test_the_batch_is_tornados_framing_with_its_compressor():
    class Compressor:
        def compress(self, data: bytes) -> bytes:
            return data[::-1]

    stream = SimpleNamespace(write=lambda data: None)
    plain = SimpleNamespace(mask_outgoing=False, stream=stream, _compressor=None)
    encode = compat.frame_encoder(plain)
    assert encode is not None
    assert encode(["ab", "c"]) == b"\x81\x02ab\x81\x01c"
    deflating = SimpleNamespace(mask_outgoing=False, stream=stream, _compressor=Compressor())
    encode = compat.frame_encoder(deflating)
    assert encode is not None
    assert encode(["ab"]) == b"\xc1\x02ba"  # RSV1: a compressed payload


def test_connections_of_another_shape_get_write_message():
    stream = SimpleNamespace(write=lambda data: None)
    assert compat.frame_encoder(None) is None
    # a client side masks its frames
    assert compat.frame_encoder(SimpleNamespace(mask_outgoing=True, stream=stream)) is None
    assert compat.frame_encoder(SimpleNamespace(mask_outgoing=False, _compressor=None)) is None
    assert compat.frame_encoder(SimpleNamespace(mask_outgoing=False, stream=stream)) is None
    odd = SimpleNamespace(mask_outgoing=False, stream=stream, _compressor=object())
    assert compat.frame_encoder(odd) is None


async def test_write_message_fallback_keeps_order_and_waits_for_each():
    written: list[str] = []

    class Handler:
        ws_connection = SimpleNamespace(mask_outgoing=False)  # no stream, no _compressor

        async def write_message(self, text: str) -> None:
            await asyncio.sleep(0)
            written.append(text)

    await compat.write_messages(Handler(), ["a", "b", "c"])
    assert written == ["a", "b", "c"]


# --- kernel messages ----------------------------------------------------------------------


class OtherBookkeeping(Session):
    """A jupyter_client that keeps its replay window its own way: no ``_add_digest``, and a
    ``deserialize`` of its own that still refuses replayed and forged messages."""

    _add_digest = None  # type: ignore[assignment]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[bytes] = []
        self.plain = Session(key=b"")

    def deserialize(self, msg_list: Any, content: bool = True, copy: bool = True) -> Any:
        signature = bytes(msg_list[0])
        if signature in self.seen:
            raise ValueError(f"Duplicate Signature: {signature!r}")
        self.seen.append(signature)
        if not hmac.compare_digest(signature, self.sign(msg_list[1:5])):
            raise ValueError(f"Invalid Signature: {signature!r}")
        return self.plain.deserialize(msg_list, content=content, copy=copy)


def signed_reply(sender: Session, count: int = 3) -> list[bytes]:
    request = sender.msg("execute_request", {"code": "1"})
    reply = sender.msg(
        "execute_reply", {"status": "ok", "execution_count": count}, parent=request["header"]
    )
    _, parts = sender.feed_identities(sender.serialize(reply))
    return parts


@pytest.mark.parametrize("receiver_class", [Session, OtherBookkeeping])
def test_signatures_and_replays_are_checked_either_way(receiver_class):
    key = b"secret"
    receiver = receiver_class(key=key)
    fast = receiver_class is Session
    assert (compat.fast_replay_check(receiver) is not None) == fast
    parts = signed_reply(Session(key=key))

    message = compat.deserialize(receiver, parts)
    assert message["content"]["execution_count"] == 3
    assert message["parent_header"]["msg_type"] == "execute_request"
    # the dates stay text on both paths
    assert isinstance(message["header"]["date"], str)
    assert isinstance(message["parent_header"]["date"], str)
    datetime.fromisoformat(message["header"]["date"])

    with pytest.raises(ValueError, match="Duplicate Signature"):
        compat.deserialize(receiver, parts)
    forged = signed_reply(Session(key=b"another key"))
    with pytest.raises(ValueError, match="Invalid Signature"):
        compat.deserialize(receiver, forged)
    tampered = signed_reply(Session(key=key))
    tampered[4] = tampered[4].replace(b"3", b"4")
    with pytest.raises(ValueError, match="Invalid Signature"):
        compat.deserialize(receiver, tampered)
    # the bookkeeping the check used is the session's own
    remembered = receiver.digest_history if fast else receiver.seen
    assert parts[0] in remembered


def test_the_replay_window_is_set_on_jupyter_client_sessions_only():
    session = Session(key=b"k")
    assert compat.set_replay_window(session, 400)
    assert session.digest_history_size == 400
    for _ in range(450):
        compat.deserialize(session, signed_reply(Session(key=b"k")))
    assert 0 < len(session.digest_history) <= 400
    assert not compat.set_replay_window(session, 0)
    assert session.digest_history_size == 400
    assert not compat.set_replay_window(SimpleNamespace(digest_history_size=1), 10)
    assert not compat.set_replay_window(None, 10)


# --- the server's activity record ---------------------------------------------------------


class Kernel:
    def __init__(self) -> None:
        self.execution_state = "starting"
        self.last_activity: datetime | None = None


class Manager(MappingKernelManager):  # type: ignore[misc]
    """jupyter_server's kernel manager rules, over one stand-in kernel (no process)."""

    def __init__(self, kernel: Kernel, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel = kernel
        self.stopped: list[str] = []

    def get_kernel(self, kernel_id: str) -> Any:
        if kernel_id != "k":
            raise KeyError(kernel_id)
        return self.kernel

    def stop_watching_activity(self, kernel_id: str) -> None:
        self.stopped.append(kernel_id)


def iopub(msg_type: str, parent_type: str | None, state: str | None = None) -> dict[str, Any]:
    return {
        "header": {"msg_type": msg_type},
        "parent_header": {"msg_type": parent_type} if parent_type else {},
        "content": {"execution_state": state} if state else {},
    }


#: jupyter_server >= 2.15 leaves some requests' messages out of a kernel's activity; before,
#: every message counted and the gateway leaves the record to the server's own watcher
SERVER_RULE = hasattr(MappingKernelManager, "untracked_message_types")


def test_the_servers_own_rule_is_applied_where_it_has_one():
    kernel = Kernel()
    manager = Manager(kernel)
    recorder = compat.ActivityRecorder(manager, "k")
    assert recorder.take_over() == SERVER_RULE
    assert manager.stopped == (["k"] if SERVER_RULE else [])
    # the first status after start-up becomes idle even when it answers an untracked request
    recorder.record(iopub("status", "kernel_info_request", "idle"))
    assert kernel.execution_state == ("idle" if SERVER_RULE else "starting")
    # comm_info_request is untracked by default: its status is not activity
    recorder.record(iopub("status", "comm_info_request", "busy"))
    assert kernel.execution_state == ("idle" if SERVER_RULE else "starting")
    assert kernel.last_activity is None
    recorder.record(iopub("status", "execute_request", "busy"))
    assert kernel.execution_state == ("busy" if SERVER_RULE else "starting")
    assert (kernel.last_activity is not None) == SERVER_RULE


def test_a_servers_own_track_message_type_decides():
    class Custom(Manager):
        def track_message_type(self, message_type: str | None) -> bool:
            return message_type not in ("status", "kernel_info_request", "inspect_request")

    kernel = Kernel()
    manager = Custom(kernel)
    recorder = compat.ActivityRecorder(manager, "k")
    assert recorder.take_over()
    assert manager.stopped == ["k"]

    recorder.record(iopub("status", "kernel_info_request", "idle"))
    assert kernel.execution_state == "idle"  # starting becomes idle all the same
    recorder.record(iopub("status", "inspect_request", "busy"))
    assert kernel.execution_state == "idle"
    assert kernel.last_activity is None
    recorder.record(iopub("status", "execute_request", "busy"))
    assert kernel.execution_state == "busy"
    assert kernel.last_activity is not None
    assert manager.last_kernel_activity == kernel.last_activity
    before = kernel.last_activity
    recorder.record(iopub("stream", "execute_request"))
    assert kernel.last_activity >= before
    recorder.record(iopub("status", "execute_request", "idle"))
    assert kernel.execution_state == "idle"


def test_a_server_of_another_shape_keeps_its_own_watcher():
    # no stop_watching_activity: nothing is taken over, and record changes nothing
    kernel = Kernel()
    manager = SimpleNamespace(
        get_kernel=lambda kernel_id: kernel, start_watching_activity=lambda kernel_id: None
    )
    recorder = compat.ActivityRecorder(manager, "k")
    assert not recorder.take_over()
    recorder.record(iopub("status", "execute_request", "busy"))
    assert kernel.execution_state == "starting"
    assert kernel.last_activity is None

    # a kernel without the server's activity attributes
    bare = Manager(kernel)
    bare.kernel = SimpleNamespace()
    assert not compat.ActivityRecorder(bare, "k").take_over()
    assert bare.stopped == []
    # an unknown kernel
    assert not compat.ActivityRecorder(Manager(kernel), "other").take_over()


# --- jupyter_server: the port a server bound ----------------------------------------------


def test_the_port_a_server_reports_is_taken():
    assert compat.listening_port(SimpleNamespace(port=8888, http_server=None)) == 8888


async def test_a_server_that_reports_port_0_is_read_from_its_socket():
    # what jupyter_server before 2.20 leaves after listening on port 0
    server = HTTPServer(Application())
    server.listen(0, "127.0.0.1")
    try:
        port = compat.listening_port(SimpleNamespace(port=0, http_server=server))
        assert port > 0
        _reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
        writer.close()
    finally:
        server.stop()


def test_a_server_that_says_no_port_is_an_error():
    with pytest.raises(OSError, match="which TCP port"):
        compat.listening_port(SimpleNamespace(port=0, http_server=object()))
