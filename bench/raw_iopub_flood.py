"""Does a kernel drop its own iopub messages? Floods counted by raw subscribers, no gateway.

Run: ``python bench/raw_iopub_flood.py [--kernels 8] [--rounds 6] [--lines 2500]
[--launcher ipykernel|gateway]``. Starts the kernels with jupyter_client — through ipykernel's
launcher (ZeroMQ's send limit of 1,000 messages) or the gateway's (``pdit_gateway.kernel_launcher``,
no limit) — subscribes to each one's iopub with the gateway's socket options
(no receive high-water mark, 8 MiB receive buffer), then in every round makes all kernels print
``--lines`` separately flushed lines at once and counts, per kernel, the lines that never
arrived. The subscriber's queue is unbounded and its buffer holds a whole flood, so a missing
line was dropped inside the kernel (docs/reliability.md, problem 2). A round ends when every
kernel published its idle status, or after 120 s when one was dropped too.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import zmq
from jupyter_client.manager import KernelManager

from pdit_gateway.launching import kernel_argv

#: Seconds a round may take before it is given up (its missing lines are then counted).
ROUND_TIMEOUT = 120.0


def start_kernel(launcher: str, iopub_hwm: int) -> tuple[Any, Any]:
    """Start a python3 kernel through ipykernel's launcher or the gateway's; return it and a client.

    The client's own iopub channel is closed: a subscriber that never reads is not what is
    measured here (with no send limit it would make the kernel hold every message for it).
    """
    manager = KernelManager(kernel_name="python3")
    if launcher == "gateway":
        argv = kernel_argv(manager.kernel_spec.argv, iopub_hwm)
        assert argv is not None, manager.kernel_spec.argv
        manager.kernel_spec.argv = argv
    manager.start_kernel()
    client = manager.client()
    client.start_channels(iopub=False)
    client.wait_for_ready(timeout=120)
    return manager, client


def subscribe(context: zmq.Context[Any], manager: Any) -> zmq.Socket[Any]:
    """Subscribe to a kernel's iopub as the gateway does."""
    sub = context.socket(zmq.SUB)
    sub.rcvhwm = 0
    sub.rcvbuf = 8 << 20
    sub.connect(manager._make_url("iopub"))
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    return sub


def flood_round(kernels: list[Any], subs: list[zmq.Socket[Any]], lines: int) -> list[int]:
    """Run one flood in every kernel at once; return the missing lines per kernel."""
    poller = zmq.Poller()
    for sub in subs:
        poller.register(sub, zmq.POLLIN)
    which = {sub: k for k, sub in enumerate(subs)}
    code = f"for i in range({lines}):\n    print('x', i, flush=True)\n"
    ids = [client.execute(code) for _, client in kernels]
    texts: list[list[str]] = [[] for _ in kernels]
    done = [False] * len(kernels)
    deadline = time.monotonic() + ROUND_TIMEOUT
    while not all(done) and time.monotonic() < deadline:
        for sub, _ in poller.poll(1000):
            k = which[sub]
            session = kernels[k][1].session
            msg = session.deserialize(session.feed_identities(sub.recv_multipart())[1])
            if msg["parent_header"].get("msg_id") != ids[k]:
                continue
            if msg["msg_type"] == "stream":
                texts[k].append(msg["content"]["text"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                done[k] = True
    missing = []
    for text in texts:
        printed = "".join(text).splitlines()
        seen = {int(line.split()[1]) for line in printed if line.startswith("x ")}
        missing.append(lines - len(seen))
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernels", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--lines", type=int, default=2500)
    parser.add_argument(
        "--launcher",
        choices=("ipykernel", "gateway"),
        default="ipykernel",
        help="start kernels with ipykernel_launcher (send limit 1,000) or the gateway's",
    )
    parser.add_argument(
        "--iopub-hwm", type=int, default=0, help="the gateway launcher's send limit (0 = none)"
    )
    args = parser.parse_args()
    context: zmq.Context[Any] = zmq.Context.instance()
    with ThreadPoolExecutor(args.kernels) as pool:
        kernels = list(
            pool.map(lambda _: start_kernel(args.launcher, args.iopub_hwm), range(args.kernels))
        )
    try:
        subs = [subscribe(context, manager) for manager, _ in kernels]
        time.sleep(1)  # subscriptions take effect asynchronously; a flood is long anyway
        floods_with_loss = 0
        for r in range(args.rounds):
            missing = flood_round(kernels, subs, args.lines)
            floods_with_loss += sum(1 for m in missing if m)
            print(f"round {r + 1}: missing lines per kernel {missing}", flush=True)
        print(f"floods with missing lines: {floods_with_loss} of {args.rounds * args.kernels}")
    finally:
        for manager, client in kernels:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
