"""A cancel restarts the kernel only when it is still busy with the interrupted statement.

Each test stops a statement at one point of its life — before it is sent, sent and not
started, running, replied to but not idle, idle before the next one is sent, and inside
ipykernel's request handler after the code ran (where the interrupt costs the reply) —
with deterministic stalls: a statement that waits for a file, or the gateway's own view of
the kernel held back (a reply, an idle status or a send kept until the test lets it go).
None of them may restart the kernel, and its namespace must survive.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pdit_gateway.pytest_plugin import SOCKET_WAIT, results, texts

SETUP = (
    "kept = 41\n"
    "import os, sys, time\n"
    "def block(path):\n"
    "    while not os.path.exists(path):\n"
    "        time.sleep(0.01)\n"
)

#: A stdout whose next flush after it is armed waits for a file: ipykernel flushes stdout
#: after the statement's code ran and before it sends the reply, so an interrupt during
#: that wait reaches the request handler outside the statement's code.
FLUSH_GATE = (
    "class FlushGate:\n"
    "    def __init__(self, stream):\n"
    "        self.stream = stream\n"
    "        self.armed = None\n"
    "    def __getattr__(self, name):\n"
    "        return getattr(self.stream, name)\n"
    "    def write(self, text):\n"
    "        return self.stream.write(text)\n"
    "    def flush(self):\n"
    "        armed, self.armed = self.armed, None\n"
    "        if armed is not None:\n"
    "            open(armed + '.entered', 'w').close()\n"
    "            block(armed)\n"
    "        return self.stream.flush()\n"
    "sys.stdout = FlushGate(sys.stdout)\n"
)


@pytest.fixture
def pdit_config() -> dict[str, Any]:
    # the grace is shorter than iopub_timeout: a gateway that restarted a kernel it saw
    # reply (or go idle) would do it before the statement is finished without its idle
    return {"interrupt_grace": 0.5, "iopub_timeout": 2.0}


class Stall:
    """Hold back parts of the gateway's view of its kernel until released.

    ``hold(predicate)`` keeps the received messages ``predicate(channel, msg, code)``
    accepts; ``hold_send(code)`` keeps the execute request of ``code`` unsent (the runner
    gets its ``msg_id`` as if it had left). Interrupts and restarts of the session are
    counted.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self.connection = session.kernel.connection
        self.codes: dict[str, str] = {}
        self.held: list[tuple[str, Any]] = []
        self.held_sends: list[Any] = []
        self.predicate: Callable[[str, Any, str | None], bool] | None = None
        self.send_code: str | None = None
        self.changed = asyncio.Event()
        self.interrupts = 0
        self.restarts = 0
        self.cancels = 0
        self.passed: list[tuple[str, str, str | None]] = []
        connection = self.connection
        self._dispatch = connection.dispatch
        self._send_execute = connection.send_execute
        connection.dispatch = self._dispatch_stalled
        connection.send_execute = self._send_stalled
        kernel = session.kernel
        interrupt, restart = kernel.interrupt, kernel.restart

        async def counted_interrupt() -> None:
            self.interrupts += 1
            await interrupt()
            self.changed.set()

        async def counted_restart(reason: str) -> None:
            self.restarts += 1
            await restart(reason)

        cancel = session.cancel

        def counted_cancel(execution_id: str) -> None:
            cancel(execution_id)
            self.cancels += 1
            self.changed.set()

        kernel.interrupt = counted_interrupt
        kernel.restart = counted_restart
        session.cancel = counted_cancel

    def _code_of(self, msg: Any) -> str | None:
        return self.codes.get((msg.get("parent_header") or {}).get("msg_id", ""))

    def _dispatch_stalled(self, channel: str, msg: Any) -> None:
        code = self._code_of(msg)
        if self.predicate is not None and self.predicate(channel, msg, code):
            self.held.append((channel, msg))
            self.changed.set()
            return
        self.passed.append((channel, msg["header"]["msg_type"], code))
        self.changed.set()
        self._dispatch(channel, msg)

    def _send_stalled(self, content: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
        if content["code"] != self.send_code:
            msg_id = self._send_execute(content, metadata)
            self.codes[msg_id] = content["code"]
            return msg_id
        msg = self.connection.session.msg("execute_request", content, metadata=metadata)
        msg_id = str(msg["header"]["msg_id"])
        self.codes[msg_id] = content["code"]
        self.held_sends.append(msg)
        self.changed.set()
        return msg_id

    def hold(self, predicate: Callable[[str, Any, str | None], bool]) -> None:
        self.predicate = predicate

    def hold_send(self, code: str) -> None:
        self.send_code = code

    def release(self) -> None:
        """Let everything held go, in the order it was held."""
        self.predicate = None
        self.send_code = None
        for channel, msg in self.held:
            self._dispatch(channel, msg)
        self.held.clear()
        for msg in self.held_sends:
            self.connection.session.send(self.connection._streams["shell"], msg)
        self.held_sends.clear()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait (bounded) until ``condition()`` holds; it is checked on every change."""

        async def wait() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), SOCKET_WAIT)


def is_idle(msg: Any) -> bool:
    return bool(
        msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
    )


def event_of(kind: str, execution_id: str) -> Callable[[dict[str, Any]], bool]:
    """Return a predicate: an event of ``kind`` of ``execution_id``."""
    return lambda e: e["type"] == kind and e.get("executionId") == execution_id


async def stalled_channel(pdit_channel: Any, jp_serverapp: Any, name: str) -> tuple[Any, Stall]:
    channel = await pdit_channel(name)
    await channel.welcome()
    done = await channel.run(SETUP + FLUSH_GATE)
    assert done[-1]["status"] == "ok", done
    session = jp_serverapp.web_app.settings["pdit_session_manager"].get(name)
    return channel, Stall(session)


async def check_intact(channel: Any, stall: Stall) -> None:
    """No restart; the namespace survived; the kernel runs the next statement."""
    after = await channel.run("kept, 'after' in dir()")
    assert texts(results(after)[0]) == "(41, False)"
    assert stall.restarts == 0
    restarting = [
        e for e in channel.received if e["type"] == "kernel-status" and e["state"] == "restarting"
    ]
    assert restarting == []


def outcome(events: list[dict[str, Any]]) -> tuple[dict[int, str], list[int], str]:
    """Return {index: result status}, the cancelled indices and the final status."""
    statuses = {e["index"]: e["status"] for e in results(events)}
    cancelled = [
        expression["index"]
        for e in events
        if e["type"] == "cancelled"
        for expression in e["expressions"]
    ]
    return statuses, cancelled, events[-1]["status"]


async def finish(channel: Any, execution_id: str) -> list[dict[str, Any]]:
    events = await channel.until(
        lambda e: e["type"] == "complete" and e.get("executionId") == execution_id
    )
    return [e for e in events if e.get("executionId") == execution_id]


async def test_cancel_before_the_statement_is_sent_and_while_the_one_before_runs(
    pdit_channel: Any, jp_serverapp: Any, tmp_path: Path
) -> None:
    channel, stall = await stalled_channel(pdit_channel, jp_serverapp, "before-sent")
    ran = tmp_path / "ran"
    eid = await channel.execute(f"block({str(tmp_path / 'never')!r})\nopen({str(ran)!r}, 'w')\n")
    await channel.until(lambda e: e["type"] == "running" and e.get("executionId") == eid)
    await channel.send(type="cancel", executionId=eid)
    statuses, cancelled, status = outcome(await finish(channel, eid))
    assert (statuses, cancelled, status) == ({0: "error"}, [1], "cancelled")
    assert not ran.exists()  # the statement behind the interrupted one never ran
    await check_intact(channel, stall)


async def test_cancel_when_the_statement_is_sent_and_not_started(
    pdit_channel: Any, jp_serverapp: Any, tmp_path: Path
) -> None:
    channel, stall = await stalled_channel(pdit_channel, jp_serverapp, "sent")
    code = f"block({str(tmp_path / 'never')!r})"
    stall.hold_send(code)
    eid = await channel.execute(f"x = 1\n{code}\nafter = 3\n")
    await stall.until(lambda: bool(stall.held_sends))
    await channel.send(type="cancel", executionId=eid)
    # the interrupt reaches a kernel between requests, which ignores it
    await stall.until(lambda: stall.interrupts == 1)
    stall.release()  # now the kernel starts the statement: it must be interrupted again
    events = await finish(channel, eid)
    statuses, cancelled, status = outcome(events)
    assert (statuses, cancelled, status) == ({0: "ok", 1: "error"}, [2], "cancelled")
    assert results(events)[1]["output"][-1]["ename"] == "KeyboardInterrupt"
    await check_intact(channel, stall)


async def test_cancel_when_the_last_statement_replied_and_is_not_idle(
    pdit_channel: Any, jp_serverapp: Any
) -> None:
    channel, stall = await stalled_channel(pdit_channel, jp_serverapp, "replied")
    stall.hold(lambda channel, msg, code: code == "x = 2" and is_idle(msg))
    eid = await channel.execute("x = 1\nx = 2\n")
    await stall.until(lambda: ("shell", "execute_reply", "x = 2") in stall.passed)
    await channel.send(type="cancel", executionId=eid)
    # the idle status never comes: the statement ends after iopub_timeout, unrestarted
    statuses, cancelled, status = outcome(await finish(channel, eid))
    assert (statuses, cancelled, status) == ({0: "ok", 1: "ok"}, [], "cancelled")
    assert stall.interrupts == 0  # nothing of the execution was in the kernel
    stall.release()
    await check_intact(channel, stall)
    assert texts(results(await channel.run("x"))[0]) == "2"


async def test_cancel_when_the_kernel_is_idle_before_the_next_statement_is_sent(
    pdit_channel: Any, jp_serverapp: Any, tmp_path: Path
) -> None:
    channel, stall = await stalled_channel(pdit_channel, jp_serverapp, "idle")
    # the gateway does not learn of the reply, so it sends nothing more; the kernel idles
    stall.hold(lambda channel, msg, code: code == "x = 1" and channel == "shell")
    eid = await channel.execute(f"x = 1\nblock({str(tmp_path / 'never')!r})\nafter = 3\n")
    await stall.until(lambda: ("iopub", "status", "x = 1") in stall.passed and stall.held)
    await channel.send(type="cancel", executionId=eid)
    await stall.until(lambda: stall.cancels == 1)
    stall.release()
    statuses, cancelled, status = outcome(await finish(channel, eid))
    assert (statuses, cancelled, status) == ({0: "ok"}, [1, 2], "cancelled")
    await check_intact(channel, stall)


async def test_an_interrupt_that_costs_the_reply_does_not_restart_the_kernel(
    pdit_channel: Any, jp_serverapp: Any, tmp_path: Path
) -> None:
    """The bug: the interrupt lands after the statement's code, ipykernel logs
    'KeyboardInterrupt caught in kernel', sends no reply, goes idle; the gateway waited
    interrupt_grace for the reply and restarted the kernel."""
    channel, stall = await stalled_channel(pdit_channel, jp_serverapp, "lost-reply")
    gate = tmp_path / "gate"
    eid = await channel.execute(f"sys.stdout.armed = {str(gate)!r}\nafter = 3\n")
    entered = Path(str(gate) + ".entered")
    await channel.until(lambda e: e["type"] == "running" and e.get("executionId") == eid)
    await asyncio.wait_for(wait_for_path(entered), SOCKET_WAIT)
    await channel.send(type="cancel", executionId=eid)
    events = await finish(channel, eid)
    statuses, cancelled, status = outcome(events)
    assert (statuses, cancelled, status) == ({0: "error"}, [1], "cancelled")
    assert results(events)[0]["output"][-1]["ename"] == "KeyboardInterrupt"
    assert stall.interrupts == 1
    await check_intact(channel, stall)


async def wait_for_path(path: Path) -> None:
    """Poll for a file the kernel creates (the caller bounds the wait)."""
    while not path.exists():
        await asyncio.sleep(0.01)


#: Tries of the attack pass's sequence in CI; bench/cancel_soak.py runs 200.
TRIES = 30


async def test_cancels_at_random_moments_never_restart_the_kernel(
    pdit_channel: Any, jp_serverapp: Any
) -> None:
    """The attack pass's sequence: ``import time; time.sleep(30); x = 1`` with ``y = 2``
    queued behind; on the first ``running``, cancel the queued one, then, after a random
    delay of up to 30 ms, the running one. It restarted about 1 kernel in 4."""
    channel, stall = await stalled_channel(pdit_channel, jp_serverapp, "random")
    rng = random.Random(13)
    interrupted = 0
    for attempt in range(TRIES):
        run, queued = f"run{attempt}", f"queued{attempt}"
        await channel.send(
            type="execute", executionId=run, script="import time\ntime.sleep(30)\nx = 1\n"
        )
        await channel.send(type="execute", executionId=queued, script="y = 2\n")
        await channel.until(event_of("running", run))
        await channel.send(type="cancel", executionId=queued)
        delay = rng.uniform(0, 0.03)
        if delay > 0.015:
            await asyncio.sleep(delay)  # a random moment, not a synchronisation
        await channel.send(type="cancel", executionId=run)
        events = await finish(channel, run)
        statuses, cancelled, status = outcome(events)
        assert status == "cancelled", events
        assert 2 in cancelled and 2 not in statuses  # x = 1 never ran
        assert sorted([*statuses, *cancelled]) == [0, 1, 2]
        for result in results(events):
            if result["status"] == "error":
                assert result["output"][-1]["ename"] == "KeyboardInterrupt", result
                interrupted += 1
        queued_events = [e for e in channel.received if e.get("executionId") == queued]
        assert queued_events[-1]["type"] == "complete", queued_events
        assert queued_events[-1]["status"] == "cancelled"
        assert stall.restarts == 0, f"restarted at attempt {attempt}"
    assert interrupted > 0
    after = await channel.run("kept, 'x' in dir(), 'y' in dir()")
    assert texts(results(after)[0]) == "(41, False, False)"
    await check_intact(channel, stall)
