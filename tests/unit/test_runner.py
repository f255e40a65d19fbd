"""The runner over a scripted kernel: order, errors, output, stops, a dying kernel, pipelining."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fake_kernel import Behaviour, FakeKernel, ListSink, fails, ok, result
from kernel_messages import msg, stream

from pdit_gateway.protocol import ExecuteRequest
from pdit_gateway.runner import Execution, ExecutionPolicy, Runner
from pdit_gateway.splitter import split_script

LOG = logging.getLogger("test-runner")

#: Every wait of these tests is bounded by this many seconds.
BOUND = 10.0


def make_runner(
    kernel: FakeKernel, script: str, policy: ExecutionPolicy | None = None, **request: Any
) -> tuple[Runner, ListSink]:
    statements = split_script(script)
    execution = Execution("e1", ExecuteRequest(script=script, **request), statements)
    sink = ListSink()
    policy = policy or ExecutionPolicy(iopub_timeout=1.0, interrupt_grace=0.5)
    return Runner(execution, kernel, sink, policy, LOG), sink


async def run(runner: Runner) -> str:
    return await asyncio.wait_for(runner.run(), BOUND)


def text_of(event: dict[str, Any]) -> str:
    return "".join(str(item.get("content", "")) for item in event["output"])


async def test_statements_run_in_order_with_their_output():
    kernel = FakeKernel({"print(a)": ok(stream("1\n")), "a + 1": ok(result("2"))})
    runner, sink = make_runner(kernel, "a = 1\nprint(a)\na + 1\n")
    assert await run(runner) == "ok"
    assert kernel.codes() == ["a = 1", "print(a)", "a + 1"]
    assert kernel.max_in_flight == 1  # pipeline_depth 1: each leaves after the reply before
    results = sink.results()
    assert [results[i]["status"] for i in range(3)] == ["ok", "ok", "ok"]
    assert results[0]["isInvisible"] is True
    assert text_of(results[1]) == "1\n"
    assert text_of(results[2]) == "2"
    kinds = [event["type"] for event in sink.events]
    assert kinds[0] == "expressions" and kinds[-1] == "complete"
    # each statement's events come in order: running, its output, its result
    assert [(e["type"], e.get("index")) for e in sink.events if e.get("index") == 1] == [
        ("running", 1),
        ("stream", 1),
        ("result", 1),
    ]
    assert sink.events[-1]["status"] == "ok"
    assert all(request.msg_id in kernel.forgotten for request in kernel.sent)


async def test_an_error_stops_the_run_and_the_rest_is_cancelled():
    kernel = FakeKernel({"1 / 0": fails()})
    runner, sink = make_runner(kernel, "x = 1\n1 / 0\ny = 2\nz = 3\n")
    assert await run(runner) == "error"
    assert kernel.codes() == ["x = 1", "1 / 0"]  # nothing is sent after the failed one
    error = sink.results()[1]
    assert error["status"] == "error"
    assert error["output"][-1]["ename"] == "ZeroDivisionError"
    (cancelled,) = sink.of("cancelled")
    assert [expression["index"] for expression in cancelled["expressions"]] == [2, 3]
    assert cancelled["reason"] == "error"
    assert sink.events[-1] == {**sink.events[-1], "type": "complete", "status": "error"}


async def test_allow_errors_runs_on_after_an_error():
    kernel = FakeKernel({"1 / 0": fails()})
    runner, sink = make_runner(kernel, "1 / 0\ny = 2\n", allow_errors=True)
    assert await run(runner) == "error"
    assert kernel.codes() == ["1 / 0", "y = 2"]
    assert [r["status"] for r in sink.results().values()] == ["error", "ok"]
    assert kernel.sent[0].options["stop_on_error"] is False


async def test_stream_display_and_clear_output():
    shown = {"text/plain": "first"}
    kernel = FakeKernel(
        {
            "show()": ok(
                stream("a"),
                stream("b\n"),
                msg("clear_output", wait=True),
                stream("c\n"),
                msg("display_data", data=shown, metadata={}, transient={"display_id": "d1"}),
                msg(
                    "update_display_data",
                    data={"text/plain": "second"},
                    metadata={},
                    transient={"display_id": "d1"},
                ),
            )
        }
    )
    runner, sink = make_runner(kernel, "show()\n")
    assert await run(runner) == "ok"
    live = [event["type"] for event in sink.events if event.get("index") == 0]
    assert live[0] == "running" and live[-1] == "result"
    assert "clear" in live and live.count("display") == 2
    (clear,) = sink.of("clear")
    assert clear["wait"] is True
    final = sink.results()[0]["output"]
    # the clear took "ab", the update replaced the display's content
    assert [item["content"] for item in final if item["type"] == "stdout"] == ["c\n"]
    displays = [item for item in final if item.get("displayId") == "d1"]
    assert len(displays) == 1 and "second" in str(displays[0])


async def test_a_later_update_keeps_an_earlier_value_an_execute_result():
    value = msg(
        "execute_result",
        data={"text/plain": "v1"},
        metadata={},
        execution_count=1,
        transient={"display_id": "d1"},
    )
    update = msg(
        "update_display_data",
        data={"text/plain": "v2"},
        metadata={},
        transient={"display_id": "d1"},
    )
    kernel = FakeKernel({"shown": ok(value), "change()": ok(update)})
    runner, sink = make_runner(kernel, "shown\nchange()\n")
    assert await run(runner) == "ok"
    (item,) = runner.execution.results[0]["output"]
    assert item["content"] == "v2"
    assert item["outputType"] == "execute_result"
    (sent,) = sink.results()[0]["output"]  # the result event already sent is not re-sent
    assert sent["content"] == "v1"


async def test_a_lone_string_is_a_markdown_display():
    runner, sink = make_runner(FakeKernel({}), '"""# Title"""\n')
    assert await run(runner) == "ok"
    (item,) = sink.results()[0]["output"]
    assert item == {"type": "text/markdown", "content": "# Title", "outputType": "display_data"}


async def test_a_timeout_interrupts_and_an_interrupted_kernel_is_kept():
    kernel = FakeKernel({"wait()": Behaviour(hang="interrupt")})
    runner, sink = make_runner(kernel, "wait()\nafter = 1\n", timeout=0.2)
    assert await run(runner) == "timeout"
    assert kernel.interrupts == 1
    assert kernel.restarts == []  # the statement stopped within interrupt_grace
    assert sink.results()[0]["output"][-1]["ename"] == "KeyboardInterrupt"
    assert kernel.codes() == ["wait()"]
    assert sink.of("cancelled")[0]["reason"] == "timeout"


async def test_a_kernel_that_ignores_the_interrupt_is_restarted():
    kernel = FakeKernel({"stuck()": Behaviour(outputs=[stream("started\n")], hang="forever")})
    policy = ExecutionPolicy(execution_timeout=0.2, interrupt_grace=0.3, iopub_timeout=1.0)
    runner, sink = make_runner(kernel, "stuck()\n", policy)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await run(runner) == "timeout"
    assert loop.time() - began >= 0.2 + 0.3  # the timeout, then the whole grace
    assert kernel.interrupts >= 1
    assert kernel.restarts == ["timeout"]
    failed = sink.results()[0]
    assert failed["status"] == "error"
    assert text_of(failed).startswith("started\n")  # what came before is kept
    assert failed["output"][-1]["ename"] == "TimeoutError"


async def test_the_request_s_timeout_overrides_the_policy_s():
    kernel = FakeKernel({"wait()": Behaviour(hang="interrupt")})
    policy = ExecutionPolicy(execution_timeout=30.0, interrupt_grace=0.5)
    runner, _ = make_runner(kernel, "wait()\n", policy, timeout=0.1)
    assert runner.timeout == 0.1
    assert await run(runner) == "timeout"


async def test_cancel_interrupts_the_running_statement_and_drops_the_queued_ones():
    kernel = FakeKernel({"wait()": Behaviour(hang="interrupt")})
    runner, sink = make_runner(kernel, "first = 1\nwait()\nlater = 2\n")
    task = asyncio.ensure_future(runner.run())
    await asyncio.wait_for(kernel.started["wait()"].wait(), BOUND)
    runner.stop("cancel")
    assert await asyncio.wait_for(task, BOUND) == "cancelled"
    assert kernel.interrupts == 1 and kernel.restarts == []
    assert kernel.codes() == ["first = 1", "wait()"]  # "later" waited and never left
    assert sink.results()[0]["status"] == "ok"
    assert sink.results()[1]["output"][-1]["ename"] == "KeyboardInterrupt"
    (cancelled,) = sink.of("cancelled")
    assert [e["index"] for e in cancelled["expressions"]] == [2]
    assert cancelled["reason"] == "cancel"


async def test_a_stop_with_nothing_in_the_kernel_sends_no_interrupt():
    kernel = FakeKernel()
    runner, sink = make_runner(kernel, "a = 1\n")
    runner.stop("cancel")  # before it started: nothing was sent yet
    assert await run(runner) == "cancelled"
    assert kernel.interrupts == 0
    assert kernel.codes() == []
    assert sink.of("cancelled")[0]["reason"] == "cancel"


async def test_reset_restarts_the_kernel():
    kernel = FakeKernel({"wait()": Behaviour(hang="forever")})
    runner, sink = make_runner(kernel, "wait()\n")
    task = asyncio.ensure_future(runner.run())
    await asyncio.wait_for(kernel.started["wait()"].wait(), BOUND)
    runner.stop("reset")
    assert await asyncio.wait_for(task, BOUND) == "cancelled"
    assert kernel.restarts == ["reset"]
    assert kernel.interrupts == 0
    assert sink.events[-1]["status"] == "cancelled"


async def test_a_kernel_that_dies_mid_statement():
    kernel = FakeKernel({"crash()": Behaviour(outputs=[stream("going\n")], dies=True)})
    runner, sink = make_runner(kernel, "crash()\nnever = 1\n")
    assert await run(runner) == "kernel-died"
    died = sink.results()[0]
    assert died["status"] == "error"
    assert text_of(died).startswith("going\n")
    assert died["output"][-1]["ename"] == "DeadKernelError"
    assert [e["index"] for e in sink.of("cancelled")[0]["expressions"]] == [1]
    assert kernel.restarts == []  # restarting a dead kernel is the session's decision


async def test_a_run_on_a_kernel_already_dead_ends_at_once():
    kernel = FakeKernel()
    kernel.died.set_result(None)
    runner, sink = make_runner(kernel, "a = 1\n")
    assert await run(runner) == "kernel-died"
    assert kernel.codes() == []
    assert sink.events[-1]["status"] == "kernel-died"


async def test_input_is_asked_and_answered():
    kernel = FakeKernel({"name = input('who? ')": Behaviour(asks="who? ")})
    runner, sink = make_runner(kernel, "name = input('who? ')\n")
    task = asyncio.ensure_future(runner.run())
    for _ in range(1000):
        if sink.of("input-request"):
            break
        await asyncio.sleep(0)
    (asked,) = sink.of("input-request")
    assert asked["prompt"] == "who? " and asked["password"] is False
    assert runner.execution.snapshot()["running"]["inputRequest"]["prompt"] == "who? "
    assert runner.answer_input("Ada") is True
    assert runner.answer_input("again") is False  # nothing waits any more
    assert await asyncio.wait_for(task, BOUND) == "ok"
    assert text_of(sink.results()[0]) == "Ada\n"


async def test_pipelining_depth_bounds_the_requests_in_the_kernel():
    script = "".join(f"s{i} = {i}\n" for i in range(6))
    for depth, most in ((1, 1), (2, 2), (0, 6)):
        kernel = FakeKernel()
        policy = ExecutionPolicy(pipeline_depth=depth, iopub_timeout=1.0)
        runner, sink = make_runner(kernel, script, policy)
        assert await run(runner) == "ok"
        assert kernel.max_in_flight == most, depth
        assert len(sink.results()) == 6
        # events still come in statement order
        indexes = [e["index"] for e in sink.events if e["type"] == "result"]
        assert indexes == sorted(indexes)


async def test_a_pipelined_error_aborts_what_the_kernel_holds():
    kernel = FakeKernel({"1 / 0": fails()})
    policy = ExecutionPolicy(pipeline_depth=0, iopub_timeout=1.0)
    runner, sink = make_runner(kernel, "a = 1\n1 / 0\nb = 2\nc = 3\n", policy)
    assert await run(runner) == "error"
    assert kernel.codes() == ["a = 1", "1 / 0", "b = 2", "c = 3"]  # all sent at once
    assert sorted(sink.results()) == [0, 1]  # the aborted ones have no result
    (cancelled,) = sink.of("cancelled")
    assert [e["index"] for e in cancelled["expressions"]] == [2, 3]


async def test_a_run_after_an_error_sends_again_what_the_kernel_still_aborted():
    # ipykernel may abort a request that arrives just after an error's reply (it has not yet
    # stopped aborting): the next run sends its first statement alone, and again when aborted
    kernel = FakeKernel({"1 / 0": fails()}, abort_late=2)
    runner, _ = make_runner(kernel, "1 / 0\n")
    assert await run(runner) == "error"
    assert kernel.aborting
    runner, sink = make_runner(kernel, "print(1)\nx = 2\n")
    assert await run(runner) == "ok"
    assert kernel.codes()[1:] == ["print(1)", "print(1)", "print(1)", "x = 2"]
    assert [r["status"] for r in sink.results().values()] == ["ok", "ok"]
    assert not sink.of("cancelled")
    assert not kernel.aborting
    # with nothing to abort, the next run pipelines as before, sending each statement once
    runner, sink = make_runner(kernel, "y = 3\nz = 4\n")
    assert await run(runner) == "ok"
    assert kernel.codes()[-2:] == ["y = 3", "z = 4"]


async def test_a_script_prologue_the_kernel_aborted_is_sent_again_before_the_statements():
    kernel = FakeKernel({"1 / 0": fails()}, abort_late=1)
    kernel.scripting = True
    runner, _ = make_runner(kernel, "1 / 0\n")
    assert await run(runner) == "error"
    sent = len(kernel.sent)
    kernel.max_in_flight = 0
    runner, sink = make_runner(kernel, "print(1)\n")
    assert await run(runner) == "ok"
    later = kernel.sent[sent:]
    # the prologue (silent) twice, the statement only after the second one's reply
    assert [r.options.get("silent") for r in later] == [True, True, False]
    assert later[0].code == later[1].code and later[2].code == "print(1)"
    assert kernel.max_in_flight == 1
    assert sink.results()[0]["status"] == "ok"


async def test_markdown_and_syntax_errors_do_not_reach_the_kernel():
    kernel = FakeKernel()
    runner, sink = make_runner(kernel, '"""# Title"""\na = 1\n')
    assert await run(runner) == "ok"
    assert kernel.codes() == ["a = 1"]
    assert sink.results()[0]["output"][0]["type"] == "text/markdown"

    broken = FakeKernel()
    runner, sink = make_runner(broken, "a = (\n")
    assert await run(runner) == "error"
    assert broken.codes() == []
    assert sink.results()[0]["output"][0]["ename"] == "SyntaxError"


async def test_output_past_max_output_bytes_is_elided():
    kernel = FakeKernel({"flood()": ok(*(stream("x" * 100 + "\n") for _ in range(50)))})
    policy = ExecutionPolicy(max_output_bytes=1000, output_tail_bytes=200, iopub_timeout=1.0)
    runner, sink = make_runner(kernel, "flood()\n", policy)
    assert await run(runner) == "ok"
    kept = text_of(sink.results()[0])
    assert len(kept) < 2000
    assert "elided" in kept or any("elided" in str(item) for item in sink.results()[0]["output"])
