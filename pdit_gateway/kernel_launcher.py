"""ipykernel whose IOPub socket queues instead of dropping: ``-m pdit_gateway.kernel_launcher``.

ipykernel publishes output on a ZeroMQ XPUB socket with the library's default send high-water
mark of 1,000 messages per subscriber. When a subscriber falls behind by more than that (a
busy machine, thousands of separately flushed lines), ZeroMQ drops the kernel's messages for
that subscriber without telling anyone: a gateway that reads everything it is sent still
misses a block of lines in the middle of the output (docs/reliability.md, problem 2).

This launcher starts the same kernel as ``python -m ipykernel_launcher`` and takes the same
arguments, with one more trait: ``--GatewayKernelApp.iopub_hwm=N`` sets the IOPub socket's send
high-water mark before the socket binds (0, the default, means no limit: a lagging subscriber
costs the kernel memory until it catches up, never a message). The gateway starts its local
ipykernel kernels through it (:mod:`pdit_gateway.launching`, ``PditGatewayApp.kernel_iopub_hwm``).
This module runs in the kernel process and imports nothing of the server.
"""

from __future__ import annotations

import sys
from typing import Any

import zmq
from ipykernel.kernelapp import IPKernelApp
from traitlets import Integer


class GatewayKernelApp(IPKernelApp):
    """An IPython kernel whose IOPub socket has the send high-water mark it is given."""

    iopub_hwm = Integer(
        0,
        min=0,
        config=True,
        help="Messages queued per IOPub subscriber before ZeroMQ drops them (0 = no limit).",
    )

    def init_iopub(self, context: Any) -> None:
        """Create and bind the IOPub socket with ``iopub_hwm`` as its send high-water mark.

        pyzmq applies a context's socket options to every socket created after they are
        set, and libzmq gives each incoming connection the options its socket had when it
        was bound, so the option is set on the context just around ipykernel's own
        ``init_iopub`` (which creates and binds the socket) and taken off afterwards.
        """
        context.setsockopt(zmq.SNDHWM, self.iopub_hwm)
        try:
            super().init_iopub(context)  # type: ignore[no-untyped-call]
        finally:
            context.sockopts.pop(zmq.SNDHWM, None)


def main() -> None:
    """Start the kernel as ``ipykernel_launcher`` does."""
    if sys.path and sys.path[0] == "":
        # as ipykernel_launcher: the working directory must not shadow installed packages
        del sys.path[0]
    GatewayKernelApp.launch_instance()


if __name__ == "__main__":
    main()
