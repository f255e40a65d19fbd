"""Running scripts over the channel: events, order, outputs."""

from __future__ import annotations

import re

from pdit_gateway.pytest_plugin import results, texts

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_welcome_then_simple_expression(pdit_channel):
    channel = await pdit_channel("s1")
    welcome = await channel.welcome()
    assert welcome["sessionId"] == "s1"
    assert welcome["protocol"] == 1
    assert welcome["kernel"]["state"] in ("starting", "idle")
    events = await channel.run("2 + 2")
    kinds = [e["type"] for e in events]
    assert kinds == ["queued", "expressions", "running", "result", "complete"]
    (result,) = results(events)
    assert result["output"][0]["type"] == "text/plain"
    assert result["output"][0]["content"] == "4"
    assert result["isInvisible"] is False
    assert result["status"] == "ok"
    assert result["executionCount"] >= 1
    assert (result["lineStart"], result["lineEnd"], result["index"]) == (1, 1, 0)
    assert events[-1]["status"] == "ok"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(TS.match(e["ts"]) for e in events)


async def test_statements_streams_and_invisible_results(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    script = "x = 1\nprint('a')\nprint('b')\ny = x + 1\ndef f(a):\n    return a * 2\n\nf(y)\nNone\n"
    events = await channel.run(script)
    expressions = next(e for e in events if e["type"] == "expressions")["expressions"]
    assert [(e["lineStart"], e["lineEnd"]) for e in expressions] == [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (5, 6),
        (8, 8),
        (9, 9),
    ]
    res = results(events)
    assert [r["isInvisible"] for r in res] == [True, False, False, True, True, False, True]
    assert res[1]["output"] == [{"type": "stdout", "content": "a\n", "outputType": "stream"}]
    assert texts(res[5]) == "4"
    streams = [e for e in events if e["type"] == "stream"]
    assert [(s["index"], s["name"], s["text"]) for s in streams] == [
        (1, "stdout", "a\n"),
        (2, "stdout", "b\n"),
    ]
    # every statement's events come in order: running, its outputs, result
    order = [(e["type"], e.get("index")) for e in events if "index" in e]
    for index in range(7):
        mine = [t for t, i in order if i == index]
        assert mine[0] == "running" and mine[-1] == "result"
    assert [i for _, i in order] == sorted(i for _, i in order)


async def test_streamed_output_is_delta_and_result_merges(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    script = "import sys\nfor i in range(5):\n    print(i)\n    sys.stdout.flush()\n"
    events = await channel.run(script)
    deltas = "".join(e["text"] for e in events if e["type"] == "stream")
    assert deltas == "0\n1\n2\n3\n4\n"
    (_, loop_result) = results(events)
    assert loop_result["output"] == [
        {"type": "stdout", "content": "0\n1\n2\n3\n4\n", "outputType": "stream"}
    ]


async def test_error_stops_and_cancels_the_rest(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("a = 1\n1 / 0\nb = 2\nc = 3\n")
    res = results(events)
    assert len(res) == 2
    error = res[1]["output"][-1]
    assert res[1]["status"] == "error"
    assert error["type"] == "error" and error["ename"] == "ZeroDivisionError"
    assert "\x1b[" not in error["content"] and "ZeroDivisionError" in error["content"]
    cancelled = next(e for e in events if e["type"] == "cancelled")
    assert cancelled["reason"] == "error"
    assert [(e["lineStart"], e["index"]) for e in cancelled["expressions"]] == [(3, 2), (4, 3)]
    assert events[-1]["type"] == "complete" and events[-1]["status"] == "error"
    # the kernel did not run what followed the error
    check = await channel.run("'b' in dir()")
    assert texts(results(check)[0]) == "False"


async def test_syntax_error_is_one_expression_at_its_line(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("x = 1\ny = (\nz = 3\n")
    expressions = next(e for e in events if e["type"] == "expressions")["expressions"]
    assert len(expressions) == 1
    (result,) = results(events)
    assert result["lineStart"] == expressions[0]["lineStart"]
    assert result["output"][0]["ename"] == "SyntaxError"
    assert events[-1]["status"] == "error"


async def test_markdown_and_fstring_and_line_range(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run('"""# Title\n\ntext"""\nn = 3\nf"n is **{n}**"\n')
    md, _, fmd = results(events)
    assert md["output"] == [
        {"type": "text/markdown", "content": "# Title\n\ntext", "outputType": "display_data"}
    ]
    assert fmd["output"][0]["type"] == "text/markdown"
    assert fmd["output"][0]["content"] == "n is **3**"
    # only line 3 runs: ``n`` comes from the earlier execution, ``b`` was never defined
    ranged = await channel.run("a = 1\nb = 2\nn * 10\nc = b\n", lineRange={"from": 3, "to": 3})
    (only,) = results(ranged)
    assert (only["lineStart"], texts(only)) == (3, "30")
    check = await channel.run("'a' in dir()")
    assert texts(results(check)[0]) == "False"


async def test_rich_display_events(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    script = (
        "from IPython.display import display, HTML, clear_output\n"
        "h = display(HTML('<b>one</b>'), display_id='d1')\n"
        "h.update(HTML('<i>two</i>'))\n"
        "print('gone'); clear_output()\n"
    )
    events = await channel.run(script)
    displays = [e for e in events if e["type"] == "display"]
    assert displays[0]["output"]["type"] == "text/html"
    assert displays[0]["displayId"] == "d1" and displays[0]["update"] is False
    assert displays[1]["update"] is True and displays[1]["output"]["content"] == "<i>two</i>"
    res = results(events)
    assert res[1]["output"][0]["content"] == "<b>one</b>"  # as it was when statement 1 ended
    assert "data" in res[1]["output"][0]  # html + plain: the whole bundle is kept
    assert any(e["type"] == "clear" for e in events)
    assert res[3]["output"] == []
    # the retained result follows the later update, so a snapshot shows what a viewer shows
    await channel.send(type="get-state", executionId=events[0]["executionId"])
    state = (await channel.until(lambda e: e["type"] == "state"))[-1]
    assert state["execution"]["results"]["1"]["output"][0]["content"] == "<i>two</i>"
