"""KernelConnection's bookkeeping of the requests it sent: routing and the kernel's aborting."""

from __future__ import annotations

import logging
from typing import Any

from pdit_gateway.kernel import KernelConnection


class Recording(KernelConnection):
    """A connection that records what it would send."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("test-kernel-connection"), "s1", 0.1)
        self.sent: list[dict[str, Any]] = []

    def send_execute(self, content: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
        self.sent.append(content)
        return f"m{len(self.sent)}"


def reply(msg_id: str, status: str) -> dict[str, Any]:
    return {
        "header": {"msg_type": "execute_reply", "msg_id": f"r-{msg_id}"},
        "parent_header": {"msg_id": msg_id},
        "content": {"status": status},
    }


def test_the_error_of_a_stop_on_error_request_means_the_kernel_may_abort_the_next():
    connection = Recording()
    seen: list[str] = []
    first = connection.execute("1 / 0", lambda channel, msg: seen.append(channel))
    assert not connection.aborting
    connection.dispatch("shell", reply(first, "error"))
    assert connection.aborting and seen == ["shell"]
    # an aborted reply says the kernel still aborts; a reply that ran says it stopped
    second = connection.execute("x = 1", lambda channel, msg: None)
    connection.dispatch("shell", reply(second, "aborted"))
    assert connection.aborting
    third = connection.execute("x = 1", lambda channel, msg: None)
    connection.dispatch("shell", reply(third, "ok"))
    assert not connection.aborting


def test_errors_that_stop_nothing_leave_the_kernel_not_aborting():
    connection = Recording()
    silent = connection.execute("1 / 0", lambda channel, msg: None, silent=True)
    connection.dispatch("shell", reply(silent, "error"))
    assert not connection.aborting
    allowed = connection.execute("1 / 0", lambda channel, msg: None, stop_on_error=False)
    connection.dispatch("shell", reply(allowed, "error"))
    assert not connection.aborting


def test_a_forgotten_requests_late_reply_still_tells_the_kernels_state():
    connection = Recording()
    forgotten = connection.execute("1 / 0", lambda channel, msg: None)
    connection.forget(forgotten)
    connection.dispatch("shell", reply(forgotten, "error"))
    assert connection.aborting
