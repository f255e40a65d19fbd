"""Queue, cancel, interrupt, reset, timeout and kernel death over the channel."""

from __future__ import annotations

import asyncio
import json

import pytest

from pdit_gateway.pytest_plugin import results, texts

# one statement: ipykernel re-installs its SIGINT handler before every request
LOOP_IGNORING_SIGINT = (
    "import signal, time\n"
    "while True:\n"
    "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "    time.sleep(0.01)\n"
)


async def send_together(channel, *frames):
    """Send frames in one socket write, so the server reads them at once (as a browser's are)."""
    stream = channel.connection.protocol.stream
    chunks = []
    written = asyncio.get_running_loop().create_future()
    written.set_result(None)

    def collect(data):
        chunks.append(data)
        return written

    stream.write = collect  # the instance attribute hides IOStream.write for a moment
    try:
        for frame in frames:
            await channel.connection.write_message(json.dumps(frame))
    finally:
        del stream.write
    await stream.write(b"".join(chunks))


def completes(events):
    return [e for e in events if e["type"] == "complete"]


async def test_fifo_order_of_five_back_to_back(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    ids = [f"e{i}" for i in range(5)]
    for i, execution_id in enumerate(ids):
        await channel.send(
            type="execute", executionId=execution_id, script=f"import time\ntime.sleep(0.05)\n{i}"
        )
    events = await channel.until(lambda e: e["type"] == "complete" and e["executionId"] == "e4")
    queued = [e for e in events if e["type"] == "queued"]
    assert [e["executionId"] for e in queued] == ids
    assert [e["position"] for e in queued] == [0, 1, 2, 3, 4]
    assert [e["executionId"] for e in completes(events)] == ids
    starts = [e["executionId"] for e in events if e["type"] == "expressions"]
    assert starts == ids
    # no two executions interleave: each one's events sit between its expressions and complete
    current = None
    for event in events:
        if event["type"] == "expressions":
            assert current is None
            current = event["executionId"]
        elif event["type"] == "complete":
            assert event["executionId"] == current
            current = None
        elif event["type"] in ("running", "result", "stream"):
            assert event["executionId"] == current
    assert [texts(results([e for e in events if e.get("executionId") == x])[-1]) for x in ids] == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]


@pytest.fixture
def pdit_config():
    return {"interrupt_grace": 2.0, "kernel_poll_interval": 0.5, "ping_interval": 0}


async def test_timeout_interrupts_an_infinite_loop_and_keeps_the_namespace(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.run("kept = 41")
    events = await channel.run("kept += 1\nwhile True:\n    pass\nafter = 1\n", timeout=1)
    res = results(events)
    assert res[1]["status"] == "error"
    assert res[1]["output"][-1]["ename"] == "KeyboardInterrupt"
    cancelled = next(e for e in events if e["type"] == "cancelled")
    assert cancelled["reason"] == "timeout"
    assert [e["lineStart"] for e in cancelled["expressions"]] == [4]
    assert events[-1]["status"] == "timeout"
    after = await channel.run("kept")
    assert texts(results(after)[0]) == "42"


async def test_timeout_restarts_a_kernel_that_ignores_interrupts(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.run("lost = 1")
    events = await channel.run(LOOP_IGNORING_SIGINT, timeout=1)
    assert events[-1]["status"] == "timeout"
    loop_result = results(events)[-1]
    assert loop_result["status"] == "error"
    assert loop_result["output"][-1]["ename"] == "TimeoutError"
    after = await channel.run("'lost' in dir()")
    assert texts(results(after)[0]) == "False"
    states = [e["state"] for e in channel.received if e["type"] == "kernel-status"]
    assert "restarting" in states


async def test_cancel_queued_and_running(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.send(
        type="execute",
        executionId="run",
        script="import time\nfor i in range(600):\n    time.sleep(0.1)\n",
    )
    await channel.send(type="execute", executionId="wait", script="1\n2\n")
    await channel.until(
        lambda e: e["type"] == "running" and e["executionId"] == "run" and e["index"] == 1
    )
    await channel.send(type="cancel", executionId="wait")
    waited = await channel.until(lambda e: e["type"] == "complete" and e["executionId"] == "wait")
    cancelled = [e for e in waited if e["type"] == "cancelled" and e["executionId"] == "wait"]
    assert cancelled[0]["reason"] == "cancel" and len(cancelled[0]["expressions"]) == 2
    assert waited[-1]["status"] == "cancelled"
    await channel.send(type="cancel", executionId="run")
    ran = await channel.until(lambda e: e["type"] == "complete" and e["executionId"] == "run", 30)
    assert ran[-1]["status"] == "cancelled"
    loop_result = [e for e in ran if e["type"] == "result" and e["executionId"] == "run"][-1]
    assert loop_result["output"][-1]["ename"] == "KeyboardInterrupt"
    # the queued one never ran
    assert not [
        e for e in channel.received if e.get("executionId") == "wait" and e["type"] == "running"
    ]
    await channel.send(type="cancel", executionId="run")
    error = (await channel.until(lambda e: e["type"] == "error"))[-1]
    assert error["code"] == "execution-finished"
    follow = await channel.run("5 * 5")
    assert texts(results(follow)[0]) == "25"


async def test_interrupt_and_reset(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.run("name = 'here'")
    await channel.send(type="execute", executionId="long", script="import time\ntime.sleep(60)\n")
    await channel.until(lambda e: e["type"] == "running" and e.get("index") == 1)
    await channel.send(type="interrupt")
    done = await channel.until(lambda e: e["type"] == "complete" and e["executionId"] == "long")
    assert done[-1]["status"] == "cancelled"
    still = await channel.run("name")
    assert texts(results(still)[0]) == "'here'"
    await channel.send(type="execute", executionId="slow", script="import time\ntime.sleep(60)\n")
    await channel.send(type="execute", executionId="behind", script="1")
    await channel.until(
        lambda e: e["type"] == "running" and e.get("executionId") == "slow" and e["index"] == 1
    )
    await channel.send(type="reset")
    events = await channel.until(lambda e: e["type"] == "kernel-status" and e["state"] == "idle")
    by_id = {e["executionId"]: e for e in events if e["type"] == "complete"}
    assert by_id["slow"]["status"] == "cancelled" and by_id["behind"]["status"] == "cancelled"
    reasons = {e["executionId"]: e["reason"] for e in events if e["type"] == "cancelled"}
    assert reasons == {"slow": "reset", "behind": "reset"}
    cleared = await channel.run("'name' in dir()")
    assert texts(results(cleared)[0]) == "False"


@pytest.mark.parametrize("running", [False, True], ids=["idle", "running"])
async def test_an_execute_right_after_a_reset_runs_on_the_restarted_kernel(pdit_channel, running):
    # Restart and Run All sends reset then execute at once: the execute is not cancelled
    channel = await pdit_channel()
    await channel.welcome()
    await channel.run("name = 'here'")
    if running:
        await channel.send(type="execute", executionId="slow", script="import time\ntime.sleep(60)")
        await channel.until(lambda e: e["type"] == "running" and e.get("executionId") == "slow")
    await send_together(
        channel,
        {"type": "reset"},
        {"type": "execute", "executionId": "after", "script": "'name' in dir()"},
    )
    events = await channel.until(lambda e: e["type"] == "complete" and e["executionId"] == "after")
    done = {e["executionId"]: e["status"] for e in events if e["type"] == "complete"}
    assert done["after"] == "ok", events
    assert done.get("slow", "cancelled") == "cancelled"
    restarted = [e for e in events if e["type"] == "kernel-status" and e["state"] == "restarting"]
    assert restarted, "the reset restarted the kernel"
    assert events.index(restarted[0]) < next(
        i
        for i, e in enumerate(events)
        if e["type"] == "expressions" and e["executionId"] == "after"
    )
    assert texts(results([e for e in events if e.get("executionId") == "after"])[0]) == "False"


async def test_reset_flag_on_execute_clears_the_namespace(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.run("gone = 1")
    events = await channel.run("'gone' in dir()", reset=True)
    assert texts(results(events)[0]) == "False"


async def test_when_busy_reject_answers_busy(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.send(type="execute", executionId="long", script="import time\ntime.sleep(30)")
    await channel.until(lambda e: e["type"] == "running")
    await channel.send(type="execute", executionId="second", script="1", whenBusy="reject")
    busy = (await channel.until(lambda e: e["type"] == "busy"))[-1]
    assert busy["executionId"] == "second"
    await channel.send(type="cancel", executionId="long")
    await channel.until(lambda e: e["type"] == "complete")
    await channel.send(type="get-state")
    state = (await channel.until(lambda e: e["type"] == "state"))[-1]
    assert "second" not in [x["executionId"] for x in state["session"]["executions"]]


async def test_duplicate_execution_id_is_refused(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.run("1", executionId="same")
    await channel.send(type="execute", executionId="same", script="2")
    error = (await channel.until(lambda e: e["type"] == "error"))[-1]
    assert error["code"] == "duplicate-execution-id" and error["executionId"] == "same"


async def test_kernel_death_ends_the_run_and_the_next_one_works(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.run("x = 1")
    # the pause lets the kernel send its replies so far: a process killed at once can take the
    # previous statement's reply with it, and then nobody can tell which statement it was on
    script = "print('before')\nimport os, time\ntime.sleep(0.5); os._exit(1)\nnever = 1\n"
    events = await channel.run(script, timeout=60)
    assert events[-1]["status"] == "kernel-died"
    cancelled = next(e for e in events if e["type"] == "cancelled")
    assert cancelled["reason"] == "kernel-died"
    assert [e["lineStart"] for e in cancelled["expressions"]] == [4]
    died = next(r for r in results(events) if r["lineStart"] == 3)
    assert died["status"] == "error" and died["output"][-1]["ename"] == "DeadKernelError"
    await channel.until(lambda e: e["type"] == "kernel-status" and e["state"] == "idle")
    states = [e["state"] for e in channel.received if e["type"] == "kernel-status"]
    assert states[-3:] == ["dead", "restarting", "idle"]
    after = await channel.run("'x' in dir(), 6 * 7")
    assert texts(results(after)[0]) == "(False, 42)"


async def test_kernel_death_while_idle_is_noticed(pdit_channel, jp_serverapp):
    channel = await pdit_channel("idle-death")
    await channel.welcome()
    await channel.run("1")
    manager = jp_serverapp.web_app.settings["pdit_session_manager"]
    session = manager.get("idle-death")
    km = jp_serverapp.kernel_manager.get_kernel(session.kernel_id)
    km.provisioner.process.kill()
    await channel.until(lambda e: e["type"] == "kernel-status" and e["state"] == "dead", 30)
    await channel.until(lambda e: e["type"] == "kernel-status" and e["state"] == "idle", 60)
    after = await channel.run("2 + 3")
    assert texts(results(after)[0]) == "5"


async def test_closing_the_socket_does_not_stop_the_execution(pdit_channel):
    channel = await pdit_channel("survivor")
    await channel.welcome()
    execution_id = await channel.execute(
        "import time\nfor i in range(3):\n    print(i)\n    time.sleep(0.3)\n'fin' + 'ished'\n"
    )
    await channel.until(lambda e: e["type"] == "stream")
    channel.close()
    again = await pdit_channel("survivor")
    welcome = await again.welcome()
    assert execution_id in [x["executionId"] for x in welcome["executions"]]
    await again.send(type="resume", lastSeq=0)
    events = await again.until(
        lambda e: e["type"] == "complete" and e["executionId"] == execution_id
    )
    mine = [e for e in events if e.get("executionId") == execution_id]
    assert "".join(e["text"] for e in mine if e["type"] == "stream") == "0\n1\n2\n"
    assert texts(results(mine)[-1]) == "'finished'"
    seqs = [e["seq"] for e in events if "seq" in e]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # replay has no gap and no repeat


async def test_two_sockets_see_identical_event_sequences(pdit_channel):
    first = await pdit_channel("shared")
    second = await pdit_channel("shared")
    await first.welcome()
    welcome = await second.welcome()
    await second.send(type="resume", lastSeq=welcome["lastSeq"])
    execution_id = await first.execute("for i in range(3):\n    print(i)\n7 * 6")
    done = lambda e: e["type"] == "complete" and e["executionId"] == execution_id  # noqa: E731
    seen_first, seen_second = await asyncio.gather(first.until(done), second.until(done))
    strip = lambda events: [e for e in events if "seq" in e]  # noqa: E731
    assert strip(seen_first)[-len(strip(seen_second)) :] == strip(seen_second)
    kinds = [e["type"] for e in strip(seen_second)]
    assert kinds[0] == "queued" and "expressions" in kinds and kinds[-1] == "complete"
