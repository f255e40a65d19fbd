"""Incremental runs (``mode: "changed"``) on real kernels: what runs, what is kept and sent again,
and what invalidates what was kept (a restart, another execution, a sibling module's edit)."""

from __future__ import annotations

import json
import os

import pytest

from pdit_gateway.pytest_plugin import results, texts

#: A loader that leaves a trace in a file each time it runs, and statements that use its data.
LOADER = (
    "import pathlib\n"  # 1
    "pathlib.Path('loads.txt').open('a').write('load\\n')\n"  # 2
    "data = [1, 2, 3]\n"  # 3
    "total = sum(data)\n"  # 4
    "print('total', total)\n"  # 5
)


def ran(events):
    """First lines of the statements that ran (a ``running`` event), in order."""
    return [e["lineStart"] for e in events if e["type"] == "running"]


def kept(events):
    return [r["lineStart"] for r in results(events) if r.get("cached")]


def shown(events):
    """(first line, status, text) of every result, in order."""
    return [(r["lineStart"], r["status"], texts(r)) for r in results(events)]


async def changed(channel, script, name, **options):
    return await channel.run(script, scriptName=name, mode="changed", **options)


async def test_an_edit_runs_only_what_changed_and_sends_the_rest_again(pdit_channel, jp_root_dir):
    name = str(jp_root_dir / "inc.py")
    channel = await pdit_channel("inc")
    await channel.welcome()
    first = await channel.run(LOADER, scriptName=name)  # a full run records too
    assert ran(first) == [1, 2, 3, 4, 5] and kept(first) == []

    edited = LOADER.replace("print('total', total)", "print('sum', total)")
    events = await changed(channel, edited, name)
    assert ran(events) == [5]
    assert kept(events) == [1, 2, 3, 4]
    assert shown(events)[-1] == (5, "ok", "sum 6\n")
    assert (jp_root_dir / "loads.txt").read_text() == "load\n"  # the loader ran once
    expressions = next(e for e in events if e["type"] == "expressions")["expressions"]
    assert [x["lineStart"] for x in expressions] == [1, 2, 3, 4, 5]  # every statement
    # results come in script order, a kept one with its last run's fields, marked cached
    assert [r["index"] for r in results(events)] == [0, 1, 2, 3, 4]
    loader = results(events)[1]
    assert loader["cached"] is True and loader["status"] == "ok"
    assert loader["executionCount"] == results(first)[1]["executionCount"]
    assert "cached" not in results(events)[4]
    assert events[-1]["type"] == "complete" and events[-1]["status"] == "ok"

    # two lines on top: nothing changed, every result is kept and re-anchored to its lines
    moved = "# a comment\n\n" + edited
    events = await changed(channel, moved, name)
    assert ran(events) == []
    assert [(r["lineStart"], r["lineEnd"]) for r in results(events)] == [
        (3, 3), (4, 4), (5, 5), (6, 6), (7, 7),
    ]  # fmt: skip
    assert shown(events)[-1] == (7, "ok", "sum 6\n")
    assert all(r["cached"] for r in results(events))
    assert events[-1]["status"] == "ok"
    assert (jp_root_dir / "loads.txt").read_text() == "load\n"


async def test_a_first_changed_run_runs_everything(pdit_channel, jp_root_dir):
    channel = await pdit_channel("first")
    await channel.welcome()
    events = await changed(channel, "x = 1\nprint(x)\n", str(jp_root_dir / "first.py"))
    assert ran(events) == [1, 2] and kept(events) == []
    assert shown(events) == [(1, "ok", ""), (2, "ok", "1\n")]


async def test_line_range_and_changed_do_not_combine(pdit_channel):
    channel = await pdit_channel("range")
    await channel.welcome()
    await channel.execute("x = 1", mode="changed", lineRange={"from": 1, "to": 1})
    error = (await channel.until(lambda e: e["type"] == "error"))[-1]
    assert error["code"] == "invalid-field" and "lineRange" in error["message"]


async def test_a_reset_invalidates_everything(pdit_channel, jp_root_dir):
    name = str(jp_root_dir / "reset.py")
    channel = await pdit_channel("reset")
    await channel.welcome()
    await changed(channel, LOADER, name)
    await channel.send(type="reset")
    await channel.until(lambda e: e["type"] == "kernel-status" and e["state"] == "idle")
    events = await changed(channel, LOADER, name)
    assert ran(events) == [1, 2, 3, 4, 5] and kept(events) == []
    assert shown(events)[-1] == (5, "ok", "total 6\n")
    assert (jp_root_dir / "loads.txt").read_text() == "load\n" * 2


async def test_a_restart_behind_the_gateways_back_invalidates_everything(
    pdit_channel, jp_root_dir, jp_fetch
):
    name = str(jp_root_dir / "restart.py")
    channel = await pdit_channel("restart")
    await channel.welcome()
    await changed(channel, LOADER, name)
    session = json.loads((await jp_fetch("pdit", "api", "sessions", "restart")).body)
    await jp_fetch("api", "kernels", session["kernel"]["id"], "restart", method="POST", body="{}")
    # the iopub subscription reconnects to the new process on its own: wait until output flows
    for _ in range(20):
        probe = await channel.run("6 * 7", mode="cell")
        if texts(results(probe)[-1]) == "42":
            break
    else:
        raise AssertionError("no output from the restarted kernel")
    events = await changed(channel, LOADER, name)  # the pid changed: nothing is kept
    assert ran(events) == [1, 2, 3, 4, 5] and kept(events) == []
    assert shown(events)[-1] == (5, "ok", "total 6\n")
    assert (jp_root_dir / "loads.txt").read_text() == "load\n" * 2


async def test_another_execution_invalidates_the_names_it_writes(pdit_channel, jp_root_dir):
    name = str(jp_root_dir / "other.py")
    channel = await pdit_channel("other")
    await channel.welcome()
    await changed(channel, LOADER, name)
    # a cell rebinds data: its writer runs again to restore it (its readers then see the
    # value they saw, and keep their results)
    await channel.run("data = [10, 20]", mode="cell")
    events = await changed(channel, LOADER, name)
    assert ran(events) == [3]
    assert shown(events)[-1] == (5, "ok", "total 6\n")
    check = await channel.run("total, data", mode="cell")
    assert texts(results(check)[0]) == "(6, [1, 2, 3])"
    # a cell mutates data in place: the same
    await channel.run("data.append(4)", mode="cell")
    events = await changed(channel, LOADER, name)
    assert ran(events) == [3]
    # a statement the analysis cannot see through: everything runs
    await channel.run("exec('total = 0')", mode="cell")
    events = await changed(channel, LOADER, name)
    assert ran(events) == [1, 2, 3, 4, 5]
    # another script of the same session writes a name
    await channel.run("total = -1\n", scriptName=str(jp_root_dir / "elsewhere.py"))
    events = await changed(channel, LOADER, name)
    assert ran(events) == [4]
    check = await channel.run("total", mode="cell")
    assert texts(results(check)[0]) == "6"
    # a full run of the same script is the new record: the next changed run keeps it all
    await channel.run(LOADER, scriptName=name)
    events = await changed(channel, LOADER, name)
    assert ran(events) == []
    assert (jp_root_dir / "loads.txt").read_text() == "load\n" * 3


async def test_a_sibling_module_edit_reruns_its_importers(pdit_channel, jp_root_dir):
    folder = jp_root_dir / "project"
    folder.mkdir()
    helper = folder / "helper.py"
    helper.write_text("def value():\n    return 1\n")
    script = (
        "import helper\n"  # 1
        "v = helper.value()\n"  # 2
        "print('v', v)\n"  # 3
        "w = 5\n"  # 4
        "print('w', w)\n"  # 5
    )
    name = str(folder / "main.py")
    channel = await pdit_channel("sibling")
    await channel.welcome()
    events = await changed(channel, script, name)
    assert shown(events)[2] == (3, "ok", "v 1\n")
    events = await changed(channel, script, name)
    assert ran(events) == []
    helper.write_text("def value():\n    return 2\n")
    stat = helper.stat()
    os.utime(helper, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    events = await changed(channel, script, name)
    assert ran(events) == [1, 2, 3] and kept(events) == [4, 5]
    assert shown(events)[2] == (3, "ok", "v 2\n")


async def test_an_error_stops_the_run_and_its_fix_runs_what_follows(pdit_channel, jp_root_dir):
    name = str(jp_root_dir / "error.py")
    script = "a = 1\nprint('a', a)\nb = a / 0\nprint('after')\nc = 3\n"
    channel = await pdit_channel("error")
    await channel.welcome()
    events = await changed(channel, script, name)
    assert events[-1]["status"] == "error"
    cancelled = next(e for e in events if e["type"] == "cancelled")
    assert [x["lineStart"] for x in cancelled["expressions"]] == [4, 5]
    # an edit before the error: the kept statement after it is cancelled too
    edited = script.replace("print('a', a)", "print('A', a)")
    events = await changed(channel, edited, name)
    assert ran(events) == [2, 3] and kept(events) == [1]
    cancelled = next(e for e in events if e["type"] == "cancelled")
    assert [x["lineStart"] for x in cancelled["expressions"]] == [4, 5]
    fixed = edited.replace("a / 0", "a / 1")
    events = await changed(channel, fixed, name)
    assert ran(events) == [3, 4, 5] and kept(events) == [1, 2]
    assert shown(events)[3] == (4, "ok", "after\n")
    assert events[-1]["status"] == "ok"


async def test_cancel_during_a_changed_run(pdit_channel, jp_root_dir):
    name = str(jp_root_dir / "cancel.py")
    script = "from time import sleep\nx = 1\nsleep(0)\nprint('x', x)\n"
    channel = await pdit_channel("cancel")
    await channel.welcome()
    await changed(channel, script, name)
    slow = script.replace("sleep(0)", "sleep(30)")
    eid = await channel.execute(slow, scriptName=name, mode="changed")
    events = await channel.until(lambda e: e["type"] == "running" and e.get("lineStart") == 3)
    await channel.send(type="cancel", executionId=eid)
    events += await channel.until(lambda e: e["type"] == "complete" and e["executionId"] == eid)
    events = [e for e in events if e.get("executionId") == eid]
    assert events[-1]["status"] == "cancelled"
    assert kept(events) == [1, 2]
    cancelled = next(e for e in events if e["type"] == "cancelled")
    assert [x["lineStart"] for x in cancelled["expressions"]] == [4]  # kept, yet not shown
    events = await changed(channel, script, name)
    assert ran(events) == [3, 4] and kept(events) == [1, 2]
    assert shown(events)[-1] == (4, "ok", "x 1\n")


async def test_snapshots_and_resync_hold_every_statement(pdit_channel, jp_root_dir, jp_fetch):
    name = str(jp_root_dir / "snap.py")
    channel = await pdit_channel("snap")
    await channel.welcome()
    await changed(channel, LOADER, name)
    edited = LOADER.replace("print('total', total)", "print('sum', total)")
    events = await changed(channel, edited, name, executionId="second")
    assert ran(events) == [5]
    response = await jp_fetch("pdit", "api", "sessions", "snap", "executions", "second")
    snapshot = json.loads(response.body)
    assert sorted(snapshot["results"], key=int) == ["0", "1", "2", "3", "4"]
    assert [snapshot["results"][str(i)].get("cached", False) for i in range(5)] == [
        True, True, True, True, False,
    ]  # fmt: skip
    assert texts(snapshot["results"]["4"]) == "sum 6\n"
    resync = await (await pdit_channel("snap")).resync()
    (again,) = [x for x in resync["executions"] if x["executionId"] == "second"]
    assert again["results"] == snapshot["results"]


@pytest.mark.parametrize("pdit_config", [{"pipeline_depth": 0}], ids=["pipeline_depth=0"])
async def test_kept_statements_between_pipelined_ones(pdit_channel, jp_root_dir):
    # every planned statement is in the kernel at once; kept ones are sent at their place
    name = str(jp_root_dir / "pipe.py")
    script = "".join(f"v{i} = {i}\nprint(v{i})\n" for i in range(6))
    channel = await pdit_channel("pipe")
    await channel.welcome()
    await changed(channel, script, name)
    edited = script.replace("v2 = 2", "v2 = 20").replace("v4 = 4", "v4 = 40")
    events = await changed(channel, edited, name)
    assert ran(events) == [5, 6, 9, 10]
    assert [r["index"] for r in results(events)] == list(range(12))
    assert [t for _, _, t in shown(events) if t] == ["0\n", "1\n", "20\n", "3\n", "40\n", "5\n"]
