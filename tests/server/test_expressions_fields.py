"""The ``expressions`` event's per-statement fields on a real kernel: each statement's
``source`` (its lines as sent) and, in a ``changed`` run, ``cached: true`` on the statements
that are kept — known before anything runs, and the same in snapshots and ``resync``."""

from __future__ import annotations

import json

from pdit_gateway.pytest_plugin import results

SCRIPT = (
    "data = [1, 2, 3]\n"  # 1
    "def total(xs):\n"  # 2
    "    return sum(xs)\n"  # 3
    "a = 1; b = 2\n"  # 4
    "print('total', total(data))\n"  # 5
)


def expressions_of(events):
    (event,) = [e for e in events if e["type"] == "expressions"]
    return event["expressions"]


async def test_every_entry_carries_its_source_as_sent(pdit_channel, jp_root_dir):
    channel = await pdit_channel("sources")
    await channel.welcome()
    # CR LF line ends are read as LF, and a statement's lines are joined without a final one
    events = await channel.run(SCRIPT.replace("\n", "\r\n"), scriptName="src.py")
    assert events[-1]["status"] == "ok"
    assert expressions_of(events) == [
        {"index": 0, "lineStart": 1, "lineEnd": 1, "source": "data = [1, 2, 3]"},
        {"index": 1, "lineStart": 2, "lineEnd": 3, "source": "def total(xs):\n    return sum(xs)"},
        {"index": 2, "lineStart": 4, "lineEnd": 4, "source": "a = 1; b = 2"},
        {"index": 3, "lineStart": 5, "lineEnd": 5, "source": "print('total', total(data))"},
    ]
    # a lineRange run lists its statements with the script's line numbers and their lines
    events = await channel.run(SCRIPT, lineRange={"from": 3, "to": 4})
    assert expressions_of(events) == [
        {"index": 0, "lineStart": 2, "lineEnd": 3, "source": "def total(xs):\n    return sum(xs)"},
        {"index": 1, "lineStart": 4, "lineEnd": 4, "source": "a = 1; b = 2"},
    ]
    # a statements-mode run keeps nothing: no entry is cached
    assert not any("cached" in x for x in expressions_of(events))


async def test_a_changed_run_says_up_front_which_statements_are_kept(
    pdit_channel, jp_root_dir, jp_fetch
):
    name = str(jp_root_dir / "kept.py")
    channel = await pdit_channel("kept")
    await channel.welcome()
    first = await channel.run(SCRIPT, scriptName=name, mode="changed")
    assert not any("cached" in x for x in expressions_of(first))  # no record: all run
    edited = SCRIPT.replace("print('total', total(data))", "print('sum', total(data))")
    events = await channel.run(edited, scriptName=name, mode="changed", executionId="second")
    entries = expressions_of(events)
    # the definition and `a = 1; b = 2` are not touched by the edit (what else is kept is
    # the planner's business: the test checks that the event says it before the run)
    assert entries[1]["cached"] is True and entries[2]["cached"] is True
    assert "cached" not in entries[3]  # a statement that runs has no such field
    assert entries[3]["source"] == "print('sum', total(data))"
    assert all(x.get("cached", True) is True for x in entries)  # true or absent, never false
    # the event comes before any statement event, and what it announced is what happened
    kinds = [e["type"] for e in events]
    assert kinds.index("expressions") < kinds.index("running") < kinds.index("result")
    announced = [x["index"] for x in entries if x.get("cached")]
    assert [r["index"] for r in results(events) if r.get("cached")] == announced
    to_run = [x["index"] for x in entries if not x.get("cached")]
    assert [e["index"] for e in events if e["type"] == "running"] == to_run
    assert [r["index"] for r in results(events)] == [0, 1, 2, 3]
    # the execution snapshot (REST, and so resync) lists the same entries
    response = await jp_fetch("pdit", "api", "sessions", "kept", "executions", "second")
    assert json.loads(response.body)["expressions"] == entries
    resync = await (await pdit_channel("kept")).resync()
    (again,) = [x for x in resync["executions"] if x["executionId"] == "second"]
    assert again["expressions"] == entries


async def test_cancelled_lists_only_the_places(pdit_channel):
    channel = await pdit_channel("places")
    await channel.welcome()
    events = await channel.run("x = 1\n1 / 0\nx\n", scriptName="places.py")
    (cancelled,) = [e for e in events if e["type"] == "cancelled"]
    assert cancelled["expressions"] == [{"index": 2, "lineStart": 3, "lineEnd": 3}]
