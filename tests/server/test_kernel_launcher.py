"""The gateway starts its kernels through its own launcher: an IOPub socket that never drops.

ipykernel's IOPub socket drops a subscriber's messages once 1,000 are queued for it; the
gateway's launcher (``pdit_gateway.kernel_launcher``) starts the same kernel with no such
limit. These tests look at real kernel processes: what runs, with which socket option, that a
restart keeps it, that other kernels of the same server keep ipykernel's launcher, and that a
subscriber that falls far behind still receives every message.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import zmq
from jupyter_client.manager import KernelManager

from pdit_gateway.launching import MODULE, kernel_argv
from pdit_gateway.pytest_plugin import results, texts

WHO_AM_I = (
    "from ipykernel.kernelapp import IPKernelApp\n"
    "app = IPKernelApp.instance()\n"
    "type(app).__name__, app.iopub_thread.socket.sndhwm\n"
)


def command_line(jp_serverapp, kernel_id: str) -> list[str]:
    km = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    raw = Path(f"/proc/{km.provisioner.process.pid}/cmdline").read_bytes()
    return [part.decode() for part in raw.split(b"\0") if part]


async def test_session_kernels_run_the_gateway_launcher(pdit_channel, jp_serverapp, jp_fetch):
    channel = await pdit_channel("launched")
    await channel.welcome()
    assert texts(results(await channel.run(WHO_AM_I))[-1]) == "('GatewayKernelApp', 0)"
    session = jp_serverapp.web_app.settings["pdit_session_manager"].get("launched")
    argv = command_line(jp_serverapp, session.kernel_id)
    assert argv[1:3] == ["-m", MODULE] and argv[-1] == "--GatewayKernelApp.iopub_hwm=0"

    # a dead kernel comes back through the same launcher
    jp_serverapp.kernel_manager.get_kernel(session.kernel_id).provisioner.process.kill()
    await channel.until(lambda e: e["type"] == "kernel-status" and e["state"] == "dead", 30)
    await channel.until(lambda e: e["type"] == "kernel-status" and e["state"] == "idle", 60)
    assert texts(results(await channel.run(WHO_AM_I))[-1]) == "('GatewayKernelApp', 0)"

    # a kernel that someone else starts on the same server keeps ipykernel's launcher
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    other = json.loads(response.body)["id"]
    try:
        assert command_line(jp_serverapp, other)[1:3] == ["-m", "ipykernel_launcher"]
    finally:
        await jp_serverapp.kernel_manager.shutdown_kernel(other, now=True)


def test_a_subscriber_far_behind_receives_every_message(tmp_path):
    """A subscriber with a short queue and small socket buffers reads nothing while the kernel
    prints 5,000 flushed lines of 2 KiB (10 MiB): what the buffers do not hold waits in the
    kernel's IOPub queue until it reads, and every line arrives."""
    lines, width = 5000, 2048
    km = KernelManager(kernel_name="python3", connection_file=str(tmp_path / "kernel.json"))
    argv = kernel_argv(list(km.kernel_spec.argv), 0)
    assert argv is not None
    km.kernel_spec.argv = argv
    km.start_kernel()
    context = zmq.Context()
    client = km.client()
    try:
        client.start_channels(iopub=False)
        client.wait_for_ready(timeout=60)
        sub = context.socket(zmq.SUB)
        sub.rcvhwm = 10
        sub.rcvbuf = 1 << 16
        sub.connect(km._make_url("iopub"))
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        # the subscription is in place once a request's iopub messages arrive (as
        # jupyter_client's wait_for_ready probes it)
        for _ in range(60):
            client.kernel_info()
            if sub.poll(500):
                break
        else:
            raise AssertionError("the subscription never received a message")

        code = f"for i in range({lines}):\n    print(f'{{i:8d}}', 'z' * {width - 10}, flush=True)\n"
        msg_id = client.execute(code)
        # the kernel finishes without waiting for the subscriber (kernel_info replies first)
        reply = client.get_shell_msg(timeout=120)
        while reply["parent_header"]["msg_id"] != msg_id:
            reply = client.get_shell_msg(timeout=120)
        assert reply["content"]["status"] == "ok"

        printed: list[str] = []  # stream texts
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, f"{len(printed)} stream messages, then nothing"
            assert sub.poll(10_000), f"the output stopped after {len(printed)} stream messages"
            parts = client.session.feed_identities(sub.recv_multipart())[1]
            msg = client.session.deserialize(parts)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        numbers = [int(line.split()[0]) for line in "".join(printed).splitlines()]
        assert numbers == list(range(lines))
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
        context.destroy(linger=0)
