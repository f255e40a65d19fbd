"""How often a kernel aborts an execute request sent the moment an error's reply arrives.

An ipykernel that fails a request sent with ``stop_on_error`` aborts the execute requests it
holds, and every one that reaches it before it has dispatched its own "stop aborting" step.
This sends ``1/0``, waits for its reply, sends ``x = 1`` at once, and counts the ``aborted``
replies (docs/reliability.md; the runner sends such a request again). Run on demand:

    python bench/abort_race.py [TRIES]
"""

from __future__ import annotations

import sys

import ipykernel
from jupyter_client.manager import start_new_kernel


def reply_to(client, msg_id: str) -> dict:
    """Return the shell reply whose parent is ``msg_id`` (each wait bounded to 10 s)."""
    while True:
        reply = client.get_shell_msg(timeout=10)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def main(tries: int) -> None:
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        aborted = 0
        for _ in range(tries):
            reply_to(client, client.execute("1/0", stop_on_error=True))
            reply = reply_to(client, client.execute("x = 1", silent=True))
            aborted += reply["content"]["status"] == "aborted"
        print(
            f"ipykernel {ipykernel.__version__}: {aborted} of {tries} requests sent at once "
            "after an error's reply were aborted"
        )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
