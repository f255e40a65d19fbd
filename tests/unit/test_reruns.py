"""Incremental runs without a kernel: the session's records of each script's last run (what
invalidates them) and the runner over a scripted kernel (kept statements are sent again, never run)."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from fake_kernel import FakeKernel, ListSink, fails, ok
from kernel_messages import stream

from pdit_gateway.protocol import ExecuteRequest
from pdit_gateway.reruns import Reruns, module_times, written_names
from pdit_gateway.runner import Execution, ExecutionPolicy, Runner
from pdit_gateway.splitter import cell_statement, split_script

LOG = logging.getLogger("test-reruns")
BOUND = 10.0
TOKEN = ("k1", 1, 100)


_ids = iter(range(1_000_000))


def execution(
    script: str, mode: str = "changed", name: str = "/p/s.py", **fields: Any
) -> Execution:
    request = ExecuteRequest(script=script, mode=mode, script_name=name, **fields)  # type: ignore[arg-type]
    statements = cell_statement(script, None) if mode == "cell" else split_script(script)
    return Execution(f"e{next(_ids)}", request, statements, script_path=name)


def finished(run: Execution, statuses: list[str] | None = None) -> Execution:
    """Give every statement that the plan runs a result (as a run that went well would)."""
    if run.plan is None:  # a cell or a line range: no record
        return run
    for i, runs in enumerate(run.plan.run):
        if runs:
            status = statuses[i] if statuses else "ok"
            run.results[i] = {"type": "result", "output": [], "status": status, "index": i}
        elif i in run.kept:
            run.results[i] = {**run.kept[i], "index": i}
    return run


def record(reruns: Reruns, script: str, **fields: Any) -> Execution:
    run = execution(script, **fields)
    reruns.begin(run, TOKEN)
    reruns.end(finished(run))
    return run


SCRIPT = "a = 1\nb = 2\nprint(a)\nprint(b)\n"


def test_an_edit_keeps_what_it_does_not_touch():
    reruns = Reruns()
    record(reruns, SCRIPT, mode="statements")  # a full run records too
    run = execution(SCRIPT.replace("b = 2", "b = 3"))
    reruns.begin(run, TOKEN)
    assert run.plan is not None and run.plan.run == (False, True, False, True)
    assert sorted(run.kept) == [0, 2]
    assert run.kept[0]["cached"] is True and "index" not in run.kept[0]
    assert run.fresh is False


def test_a_different_kernel_process_runs_everything():
    reruns = Reruns()
    record(reruns, SCRIPT)
    for token in (("k1", 2, 100), ("k1", 1, 101), ("k2", 1, 100)):
        run = execution(SCRIPT)
        reruns.begin(run, token)
        assert run.plan is not None and all(run.plan.run), token
        assert run.kept == {} and run.fresh is True


def test_other_executions_touch_the_names_they_write():
    reruns = Reruns()
    record(reruns, SCRIPT)
    record(reruns, "b = 10\n", mode="cell")
    run = execution(SCRIPT)
    reruns.begin(run, TOKEN)
    assert run.plan is not None and run.plan.run == (False, True, False, False)
    reruns.end(finished(run))
    # a run of another script (and a line range of this one) touches too; a barrier: everything
    record(reruns, "a = 5\n", name="/p/other.py", mode="statements")
    run = execution(SCRIPT)
    reruns.begin(run, TOKEN)
    assert run.plan is not None and run.plan.run == (True, False, False, False)
    reruns.end(finished(run))
    record(reruns, "exec('a = 0')\n", mode="cell")
    run = execution(SCRIPT)
    reruns.begin(run, TOKEN)
    assert run.plan is not None and all(run.plan.run)


def test_an_error_and_a_cancel_are_recorded():
    reruns = Reruns()
    run = execution(SCRIPT)
    reruns.begin(run, TOKEN)
    run.results[0] = {"type": "result", "output": [], "status": "ok"}
    run.results[1] = {"type": "result", "output": [], "status": "error"}
    reruns.end(run)  # 2 and 3 got no result: cancelled
    again = execution(SCRIPT)
    reruns.begin(again, TOKEN)
    assert again.plan is not None and again.plan.run == (False, True, True, True)


def test_module_times_and_changed_siblings(tmp_path: Path):
    (tmp_path / "helper.py").write_text("X = 1\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "deep.py").write_text("Y = 1\n")
    (tmp_path / "data.csv").write_text("a\n")
    script = tmp_path / "main.py"
    times = module_times(str(tmp_path), str(script))
    assert times is not None and set(times) == {"helper", "pkg"}
    assert module_times(str(tmp_path / "missing"), None) is None
    assert module_times(None, None) == {}

    reruns = Reruns()
    text = "import helper\nv = helper.X\nw = 2\nprint(w)\n"
    record(reruns, text, name=str(script))
    stat = (tmp_path / "pkg" / "deep.py").stat()
    os.utime(tmp_path / "pkg" / "deep.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    run = execution(text, name=str(script))
    reruns.begin(run, TOKEN)
    assert run.plan is not None and not any(run.plan.run)  # pkg changed; nothing imports it
    reruns.end(finished(run))
    stat = (tmp_path / "helper.py").stat()
    os.utime(tmp_path / "helper.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    run = execution(text, name=str(script))
    reruns.begin(run, TOKEN)
    assert run.plan is not None and run.plan.run == (True, True, False, False)


def test_written_names():
    assert written_names(split_script("a = 1\nxs.append(a)\n")) == {"a", "xs"}
    assert written_names(split_script("exec('a = 1')\n")) is None


# -- the runner ------------------------------------------------------------------------------


async def run_with(kernel: FakeKernel, run: Execution, **policy: Any) -> tuple[str, ListSink]:
    sink = ListSink()
    settings = ExecutionPolicy(iopub_timeout=1.0, interrupt_grace=0.5, **policy)
    status = await asyncio.wait_for(Runner(run, kernel, sink, settings, LOG).run(), BOUND)
    return status, sink


def kept_result(text: str) -> dict[str, Any]:
    return {
        "type": "result",
        "output": [{"type": "stdout", "content": text}],
        "isInvisible": False,
        "status": "ok",
        "durationMs": 12.0,
        "executionCount": 3,
        "cached": True,
    }


async def test_kept_statements_are_sent_again_at_their_place_and_never_run():
    for depth in (1, 0):
        kernel = FakeKernel({"print(b)": ok(stream("3\n"))})
        run = execution("\n" + SCRIPT.replace("b = 2", "b = 3"))  # one line down
        run.kept = {0: kept_result(""), 2: kept_result("1\n")}
        status, sink = await run_with(kernel, run, pipeline_depth=depth)
        assert status == "ok"
        assert kernel.codes() == ["b = 3", "print(b)"]
        results = sink.of("result")
        assert [(r["index"], r["lineStart"], r.get("cached", False)) for r in results] == [
            (0, 2, True), (1, 3, False), (2, 4, True), (3, 5, False),
        ]  # fmt: skip
        assert results[2]["output"] == [{"type": "stdout", "content": "1\n"}]
        assert results[2]["executionCount"] == 3
        running = [e["index"] for e in sink.events if e["type"] == "running"]
        assert running == [1, 3]  # a kept statement gets no running
        assert run.results[2]["cached"] is True  # the snapshot holds it too


async def test_after_a_failure_kept_statements_are_cancelled():
    kernel = FakeKernel({"b = 3": fails()})
    run = execution(SCRIPT.replace("b = 2", "b = 3"))
    run.kept = {0: kept_result(""), 2: kept_result("1\n")}
    status, sink = await run_with(kernel, run)
    assert status == "error"
    assert kernel.codes() == ["b = 3"]
    assert [r["index"] for r in sink.of("result")] == [0, 1]
    (cancelled,) = [e for e in sink.events if e["type"] == "cancelled"]
    assert [x["index"] for x in cancelled["expressions"]] == [2, 3]


async def test_everything_kept_sends_nothing_to_the_kernel():
    kernel = FakeKernel()
    run = execution("a = 1\nprint(a)\n")
    run.kept = {0: kept_result(""), 1: kept_result("1\n")}
    status, sink = await run_with(kernel, run)
    assert status == "ok" and kernel.codes() == []
    assert [r["cached"] for r in sink.of("result")] == [True, True]


async def test_names_to_unbind_are_deleted_before_the_first_statement():
    kernel = FakeKernel()
    run = execution("print(gone)\n")
    run.unbind = frozenset({"gone"})
    status, _ = await run_with(kernel, run)
    assert status == "ok"
    first, second = kernel.sent
    assert "user_ns.pop" in first.code and "'gone'" in first.code
    assert first.options["silent"] is True
    assert second.code == "print(gone)"
