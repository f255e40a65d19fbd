"""One kernel connection: execute requests out, replies and iopub routed back by parent id."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import zmq
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session

from .compat import ActivityRecorder, deserialize, set_replay_window
from .jsontypes import JSONDict

#: Kernel states that a remote gateway announces when the kernel process died.
LIFECYCLE = frozenset({"restarting", "dead"})
Listener = Callable[[str, JSONDict], None]
"""Called with the channel name (``"iopub"`` or ``"shell"``) and the message."""


#: Requests with ``stop_on_error`` whose reply has not come that a connection remembers. Fixed:
#: a run has at most ``pipeline_depth`` of them in the kernel; the rest are requests whose
#: kernel restarted before answering.
MAX_UNANSWERED = 1024


class KernelConnection:
    """A connection whose incoming messages are dispatched to listeners by parent ``msg_id``.

    Every request the gateway sends registers a listener under its ``msg_id``; iopub
    messages and the shell reply whose ``parent_header.msg_id`` matches go to it, in
    the order each channel delivers them. Listeners are called synchronously, so the
    events they emit keep the kernel's order.
    """

    def __init__(self, log: logging.Logger, name: str, probe_interval: float) -> None:
        self.log = log
        self.name = name
        self._listeners: dict[str, Listener] = {}
        self._closed = False
        #: Called with ``"restarting"`` or ``"dead"`` when the far side reports that the
        #: kernel died (jupyter_server's kernel WebSocket does so in gateway mode).
        self.on_lifecycle: Callable[[str], None] | None = None
        #: Seconds between two ``kernel_info`` probes while waiting for the kernel.
        self.probe_interval = probe_interval
        self._seen: set[str] = set()
        self._probe_ids: set[str] = set()
        self._ready: asyncio.Future[None] | None = None
        #: The content of the kernel's last ``kernel_info_reply``.
        self.kernel_info: dict[str, Any] = {}
        #: Whether the kernel runs the gateway's script set-up (:mod:`.kernel_setup`).
        self.scripting = False
        #: Whether the kernel's process still runs (None: not known here), asked while probing.
        self.alive: Callable[[], Awaitable[bool]] | None = None
        #: The kernel process's id (None: not known here, a remote kernel).
        self.pid: Callable[[], int | None] | None = None
        #: The process id the set-up was installed in.
        self.setup_pid: int | None = None
        #: Whether the kernel may abort the next execute requests: the last execute reply was
        #: the error of a request sent with ``stop_on_error``. ipykernel then aborts what it
        #: holds, and also what arrives before it has finished aborting: a request sent at
        #: once after that reply can come back ``aborted`` without having run.
        self.aborting = False
        # the requests sent with stop_on_error whose reply has not come (insertion order;
        # kept when forgotten, since a late reply still tells the kernel's state)
        self._stoppers: dict[str, None] = {}

    async def start(self, ready_timeout: float) -> None:
        """Connect and wait until the kernel answers on shell and iopub."""
        raise NotImplementedError

    def send_probe(self) -> str:
        """Send a ``kernel_info_request`` on the shell channel; return its ``msg_id``."""
        raise NotImplementedError

    def may_have_lost_setup(self) -> bool:
        """Whether the kernel process changed since the set-up was installed (a restart that
        did not go through the gateway, such as one through ``/api/kernels``)."""
        return self.pid is not None and self.pid() != self.setup_pid

    def setup_installed(self) -> None:
        """Note that the script set-up was installed in the kernel's current process."""
        self.setup_pid = self.pid() if self.pid is not None else None

    async def probe(self, ready_timeout: float) -> None:
        """Send ``kernel_info`` until its reply and an iopub message of it both come back.

        iopub subscriptions take effect asynchronously (after a connection, and after a
        remote gateway restarted the kernel): output sent before is lost, so the probe is
        repeated until iopub answers. Closes the connection and raises ``TimeoutError``
        when ``ready_timeout`` seconds pass first.
        """
        self._seen.clear()
        self._ready = asyncio.get_running_loop().create_future()
        deadline = time.monotonic() + ready_timeout
        while not self._ready.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await self.close()
                raise TimeoutError(f"kernel did not answer within {ready_timeout:g} s")
            self._probe_ids.add(self.send_probe())
            try:
                await asyncio.wait_for(
                    asyncio.shield(self._ready), min(self.probe_interval, remaining)
                )
            except asyncio.TimeoutError:
                if self.alive is not None and not await self.alive():
                    # a kernel that ended while starting never answers: say so now
                    await self.close()
                    raise TimeoutError("the kernel process ended before it answered") from None
                continue
        self._probe_ids.clear()

    def probe_answered(self, channel: str, msg: JSONDict) -> bool:
        """Take ``msg`` if it answers a probe (and note the channel); True if it did."""
        if not self._probe_ids:
            return False
        if (msg.get("parent_header") or {}).get("msg_id") not in self._probe_ids:
            return False
        if channel == "shell":
            self.kernel_info = msg.get("content") or {}
        self._seen.add(channel)
        if {"shell", "iopub"} <= self._seen and self._ready and not self._ready.done():
            self._ready.set_result(None)
        return True

    def send_execute(self, content: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
        """Send an ``execute_request`` with ``content``; return its ``msg_id``."""
        raise NotImplementedError

    def send_input(self, value: str, parent: JSONDict | None = None) -> None:
        """Answer the kernel's ``input_request`` (``parent``) with ``value`` on stdin."""
        raise NotImplementedError

    async def install_scripting(self, timeout: float) -> None:
        """Install the script set-up in a Python kernel (sets :attr:`scripting`).

        A kernel of another language, or one whose set-up fails, runs scripts without it;
        that is logged, not raised.
        """
        language = ((self.kernel_info.get("language_info") or {}).get("name") or "").lower()
        if language != "python":
            return
        from .scripting import setup_code

        loop = asyncio.get_running_loop()
        replied: asyncio.Future[JSONDict] = loop.create_future()

        def listener(channel: str, msg: JSONDict) -> None:
            if channel == "shell" and not replied.done():
                replied.set_result(msg)

        msg_id = self.execute(setup_code(), listener, silent=True, store_history=False)
        try:
            reply = await asyncio.wait_for(replied, timeout)
        except asyncio.TimeoutError:
            self.log.warning("pdit session %s: the script set-up got no reply", self.name)
            return
        finally:
            self.forget(msg_id)
        content = reply.get("content") or {}
        if content.get("status") == "ok":
            self.scripting = True
            self.setup_installed()
        else:
            self.log.warning(
                "pdit session %s: the script set-up failed in the kernel: %s: %s",
                self.name,
                content.get("ename"),
                content.get("evalue"),
            )

    async def close(self) -> None:
        """Stop receiving and close the channels."""
        self._closed = True
        self._listeners.clear()

    def execute(self, code: str, listener: Listener, **options: Any) -> str:
        """Send ``code`` and route what answers it to ``listener``; return the ``msg_id``."""
        content = {
            "code": code,
            "silent": options.get("silent", False),
            "store_history": options.get("store_history", True),
            "user_expressions": {},
            "allow_stdin": options.get("allow_stdin", False),
            "stop_on_error": options.get("stop_on_error", True),
        }
        msg_id = self.send_execute(content, options.get("metadata"))
        self._listeners[msg_id] = listener
        if content["stop_on_error"] and not content["silent"]:
            self._stoppers[msg_id] = None
            if len(self._stoppers) > MAX_UNANSWERED:  # lost with a restarted kernel
                del self._stoppers[next(iter(self._stoppers))]
        return msg_id

    def forget(self, msg_id: str) -> None:
        """Stop routing messages of ``msg_id``."""
        self._listeners.pop(msg_id, None)

    def _note_reply(self, msg_id: str, msg: JSONDict) -> None:
        """Follow whether the kernel is aborting requests (see :attr:`aborting`)."""
        status = (msg.get("content") or {}).get("status")
        stopper = self._stoppers.pop(msg_id, 0) is None
        if status == "error" and stopper:
            self.aborting = True
        elif status != "aborted":
            self.aborting = False

    def dispatch(self, channel: str, msg: JSONDict) -> None:
        """Hand one received message to its listener (messages of no request are dropped)."""
        parent = msg.get("parent_header") or {}
        if channel == "shell" and (msg.get("header") or {}).get("msg_type") == "execute_reply":
            self._note_reply(parent.get("msg_id", ""), msg)
        listener = self._listeners.get(parent.get("msg_id", ""))
        if listener is None:
            state = (msg.get("content") or {}).get("execution_state")
            if msg.get("msg_type") == "status" and state in LIFECYCLE and self.on_lifecycle:
                self.on_lifecycle(state)
            return
        try:
            listener(channel, msg)
        except Exception:
            self.log.exception(
                "pdit session %s: handling a %s %s message failed",
                self.name,
                channel,
                msg.get("msg_type"),
            )


#: Bytes of the operating system's receive buffer of each iopub subscription (SO_RCVBUF).
#: Fixed: it only needs to be large (Linux caps it at twice ``net.core.rmem_max`` anyway);
#: the bound on what a kernel's output may cost is ``kernel_iopub_hwm``.
IOPUB_RCVBUF = 8 << 20

#: Most iopub messages already queued that one receive callback also handles. Fixed: it
#: trades the loop's fairness to other sessions against the turns a flood takes; any value
#: from about a hundred up drains a flood as fast as the kernel makes it.
DRAIN_BATCH = 256

#: Receive high-water mark (messages) of the iopub subscription to a kernel that queues its
#: output itself: what the gateway holds of a kernel's backlog, the rest waits in the kernel.
#: Fixed: ZeroMQ's own default; such a kernel loses nothing past it (see unbounded_iopub).
IOPUB_RCVHWM = 1000


def queues_output_itself(kernel_manager: Any) -> bool:
    """Return whether the kernel runs the gateway's launcher with no IOPub send limit (it then
    keeps output for a lagging subscriber instead of dropping it)."""
    spec = getattr(kernel_manager, "_kernel_spec", None)
    argv = getattr(spec, "argv", None)
    if not isinstance(argv, list):
        return False
    return "pdit_gateway.kernel_launcher" in argv and "--GatewayKernelApp.iopub_hwm=0" in argv


def unbounded_iopub(kernel_manager: Any, hwm: int = 0) -> Any:
    """Return the kernel manager's iopub stream, subscribed with a receive high-water mark of
    ``hwm`` messages (0: none).

    A PUB socket drops messages for a subscriber whose queue is full, and ZMQ's default
    limit is 1,000 messages on each side: a gateway loop that stalls while a kernel floods
    its iopub (``display`` in a loop, many sessions at once) would lose output and even the
    ``idle`` status that ends a statement. With no limit on the receiving side, ZMQ's I/O
    thread keeps draining the kernel into the gateway's process while the loop is busy.
    The socket also asks for a large receive buffer (``IOPUB_RCVBUF``; Linux caps it at
    twice ``net.core.rmem_max``): the kernel's output keeps flowing into it even while the
    whole gateway process is not scheduled. Both options only apply to connections made
    after they are set, so they are given to the context as defaults for the one socket
    created here.

    A kernel that queues output for a lagging subscriber itself (the gateway's launcher
    with no send limit, see :func:`queues_output_itself`) loses nothing when the gateway's
    side is bounded: past ``hwm`` the backlog waits in the socket buffers and in the
    kernel, and the gateway's memory stays flat however fast the kernel prints.
    """
    context = kernel_manager.context
    options = {zmq.RCVHWM: hwm, zmq.RCVBUF: IOPUB_RCVBUF}
    saved = {option: context.sockopts.get(option) for option in options}
    for option, value in options.items():
        context.setsockopt(option, value)
    try:
        return kernel_manager.connect_iopub()
    finally:
        for option, value in saved.items():
            if value is None:
                context.sockopts.pop(option, None)
            else:
                context.setsockopt(option, value)


class ZMQKernelConnection(KernelConnection):
    """A local kernel reached through tornado ``ZMQStream``s, as jupyter_server's own channels are.

    The streams call back for every message, so there is no receive loop to starve: an
    asyncio receive on the shell socket can miss its wake-up when requests are sent on
    that same socket, leaving replies unread (seen with pyzmq 27 under pipelined
    requests); ``ZMQStream`` re-checks the socket after every send.
    """

    def __init__(
        self,
        kernel_manager: Any,
        log: logging.Logger,
        name: str,
        probe_interval: float,
        activity: ActivityRecorder | None = None,
    ) -> None:
        super().__init__(log, name, probe_interval)
        self.kernel_manager = kernel_manager
        self.session = kernel_manager.session
        self.activity = activity
        self._streams: dict[str, Any] = {}

    async def start(self, ready_timeout: float) -> None:
        """Open shell and iopub streams; ping with ``kernel_info`` until both answer."""
        km = self.kernel_manager
        # The kernel sends input requests to the socket identity that sent the execute request.
        # The identity is this connection's own: ipykernel's stdin socket hands a route over to
        # the newest connection of an identity, and other clients of the kernel manager's
        # session (its session id is the default identity) would take the route away.
        identity = f"pdit-{uuid.uuid4().hex}".encode()
        hwm = IOPUB_RCVHWM if queues_output_itself(km) else 0
        self._streams = {
            "shell": km.connect_shell(identity=identity),
            "iopub": unbounded_iopub(km, hwm),
            "stdin": km.connect_stdin(identity=identity),
        }
        for channel, stream in self._streams.items():
            stream.on_recv(functools.partial(self._receive, channel), copy=False)
        if self.activity is not None:
            self.activity.take_over()
        await self.probe(ready_timeout)

    def send_probe(self) -> str:
        """Send ``kernel_info_request`` on the shell stream."""
        msg = self.session.send(self._streams["shell"], "kernel_info_request")
        return str(msg["header"]["msg_id"])

    def _receive(self, channel: str, frames: list[Any]) -> None:
        self._handle(channel, frames)
        if channel != "iopub":
            return
        # ZMQStream hands over one message per turn of the event loop; a kernel flooding its
        # output makes messages faster than that, and they pile up in the subscription's
        # (unbounded) queue. Take what is already queued, up to a batch, in this turn.
        stream = self._streams.get(channel)
        socket = getattr(stream, "socket", None)
        for _ in range(DRAIN_BATCH):
            if self._closed or socket is None or socket.closed:
                return
            try:
                more = socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._handle(channel, more)

    def _handle(self, channel: str, frames: list[Any]) -> None:
        if self._closed:
            return
        try:
            _, parts = self.session.feed_identities(frames, copy=False)
            msg = deserialize(self.session, parts)
        except Exception:
            self.log.exception("pdit session %s: undecodable %s message", self.name, channel)
            return
        if channel == "iopub" and self.activity is not None:
            self.activity.record(msg)
        if not self.probe_answered(channel, msg):
            self.dispatch(channel, msg)

    def send_execute(self, content: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
        """Send on the shell stream."""
        msg = self.session.send(
            self._streams["shell"], "execute_request", content, metadata=metadata
        )
        return str(msg["header"]["msg_id"])

    def send_input(self, value: str, parent: JSONDict | None = None) -> None:
        """Send ``input_reply`` on the stdin stream."""
        stream = self._streams.get("stdin")
        if stream is not None:
            self.session.send(stream, "input_reply", {"value": value}, parent=parent)

    async def close(self) -> None:
        """Close the streams."""
        await super().close()
        for stream in self._streams.values():
            if not stream.closed():
                stream.on_recv(None)
                stream.close(linger=0)
        self._streams.clear()


class RemoteKernelConnection(KernelConnection):
    """A kernel on a remote Kernel/Enterprise Gateway, reached through its kernel WebSocket.

    jupyter_server's own ``GatewayKernelClient`` does not send the gateway's auth headers
    on its WebSocket (a gateway with a token answers 401) and reads with threads; this
    connection uses tornado's WebSocket with ``GatewayClient``'s connection arguments and
    the JSON message protocol, and reports the gateway's ``restarting``/``dead`` status
    messages and a lost connection through ``on_lifecycle``.
    """

    def __init__(
        self, kernel_manager: Any, log: logging.Logger, name: str, probe_interval: float
    ) -> None:
        super().__init__(log, name, probe_interval)
        self.kernel_manager = kernel_manager
        self.session = Session(key=b"", username="pdit-gateway")
        self._ws: Any = None

    async def start(self, ready_timeout: float) -> None:
        """Open the kernel's WebSocket on the gateway; probe with ``kernel_info`` until answered."""
        from jupyter_server.gateway.gateway_client import GatewayClient
        from jupyter_server.utils import url_escape, url_path_join
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        client = GatewayClient.instance()
        url = url_path_join(
            client.ws_url or "",
            client.kernels_endpoint,
            url_escape(self.kernel_manager.kernel_id),
            "channels",
        )
        url += f"?session_id={url_escape(self.session.session)}"
        request = HTTPRequest(url, **client.load_connection_args())  # type: ignore[no-untyped-call]
        self._ws = await asyncio.wait_for(
            websocket_connect(request, on_message_callback=self._receive), ready_timeout
        )
        await self.probe(ready_timeout)

    def send_probe(self) -> str:
        """Send ``kernel_info_request`` on the kernel WebSocket's shell channel."""
        return self._send("shell", "kernel_info_request", {})

    def _send(
        self,
        channel: str,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        parent: JSONDict | None = None,
    ) -> str:
        msg = self.session.msg(msg_type, content, parent=parent, metadata=metadata)
        msg["channel"] = channel
        msg.pop("buffers", None)
        self._ws.write_message(json.dumps(msg, default=json_default))
        return str(msg["header"]["msg_id"])

    def _receive(self, text: str | bytes | None) -> None:
        if self._closed:
            return
        if text is None:  # the gateway closed the connection: the kernel is out of reach
            self._closed = True
            if self.on_lifecycle is not None:
                self.on_lifecycle("dead")
            return
        if isinstance(text, bytes):
            return  # binary frames carry buffers, which execute replies and outputs do not use
        try:
            msg = json.loads(text)
        except ValueError:
            self.log.warning("pdit session %s: undecodable gateway frame", self.name)
            return
        channel = msg.get("channel")
        if self.probe_answered(str(channel), msg):
            return
        if channel in ("shell", "iopub", "stdin"):
            msg.setdefault("msg_type", (msg.get("header") or {}).get("msg_type"))
            self.dispatch(channel, msg)

    def send_execute(self, content: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
        """Send on the kernel WebSocket's shell channel."""
        return self._send("shell", "execute_request", content, metadata)

    def send_input(self, value: str, parent: JSONDict | None = None) -> None:
        """Send ``input_reply`` on the kernel WebSocket's stdin channel."""
        if self._ws is not None:
            self._send("stdin", "input_reply", {"value": value}, parent=parent)

    async def close(self) -> None:
        """Close the WebSocket."""
        await super().close()
        if self._ws is not None:
            self._ws.close()
            self._ws = None


async def open_kernel(
    kernel_manager: Any,
    kernel_id: str,
    log: logging.Logger,
    name: str,
    ready_timeout: float,
    digest_history_size: int,
    probe_interval: float,
    remote_probe_interval: float,
) -> KernelConnection:
    """Connect to a server kernel that the gateway watches and restarts itself.

    jupyter_client's restarter is stopped (it would race with the session's own restarts),
    the kernel's replay window is set to ``digest_history_size`` signatures (0 leaves it),
    and the connection keeps the server's activity record. ``probe_interval`` (a local
    kernel) or ``remote_probe_interval`` (a kernel on a remote gateway) are the seconds
    between two ``kernel_info`` probes while waiting for it. Returns once the kernel
    answered on shell and iopub; on failure the connection is closed.
    """
    km = kernel_manager.get_kernel(kernel_id)
    stop_restarter = getattr(km, "stop_restarter", None)
    if stop_restarter is not None:
        stop_restarter()
    set_replay_window(getattr(km, "session", None), digest_history_size)
    activity = ActivityRecorder(kernel_manager, kernel_id)
    connection = connect(km, log, name, probe_interval, remote_probe_interval, activity)
    is_alive = getattr(km, "is_alive", None)
    if is_alive is not None and not isinstance(connection, RemoteKernelConnection):

        async def alive() -> bool:
            result = is_alive()
            return bool(await result if inspect.isawaitable(result) else result)

        connection.alive = alive

        def pid() -> int | None:
            value = getattr(getattr(km, "provisioner", None), "pid", None)
            return value if isinstance(value, int) else None

        connection.pid = pid
    try:
        await connection.start(ready_timeout)
        await connection.install_scripting(ready_timeout)
    except BaseException:
        await connection.close()
        raise
    return connection


def connect(
    kernel_manager: Any,
    log: logging.Logger,
    name: str,
    probe_interval: float,
    remote_probe_interval: float,
    activity: ActivityRecorder | None = None,
) -> KernelConnection:
    """Return the right connection for a kernel manager: ZMQ streams for a local kernel, the
    kernel WebSocket for a kernel on a remote gateway (jupyter_server's gateway mode).

    ``activity`` (local kernels only) makes the connection keep the server's record of the
    kernel's activity in place of the server's own iopub watcher.
    """
    from jupyter_server.gateway.managers import GatewayKernelManager

    if isinstance(kernel_manager, GatewayKernelManager):
        return RemoteKernelConnection(kernel_manager, log, name, remote_probe_interval)
    return ZMQKernelConnection(kernel_manager, log, name, probe_interval, activity)
