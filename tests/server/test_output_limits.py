"""The per-statement output limit: head, elision marker, tail, and what it leaves alone."""

from __future__ import annotations

import re

import pytest

from pdit_gateway.jsontypes import JSONDict
from pdit_gateway.pytest_plugin import results, texts

LIMIT = 2000
TAIL = 300
MARKER = re.compile(r"^\n?… \[pdit-gateway: (\d+) bytes of output elided\] …\n?$")


@pytest.fixture
def pdit_config():
    return {
        "interrupt_grace": 3.0,
        "kernel_poll_interval": 0.5,
        "ping_interval": 0,
        "max_output_bytes": LIMIT,
        "output_tail_bytes": TAIL,
    }


def statement(events: list[JSONDict], index: int) -> list[JSONDict]:
    return [e for e in events if e.get("index") == index]


def split_at_marker(events: list[JSONDict]) -> tuple[list[JSONDict], JSONDict, list[JSONDict]]:
    """Split one statement's stream events into those before the marker, it, and those after."""
    streams = [e for e in events if e["type"] == "stream"]
    (at,) = [i for i, e in enumerate(streams) if MARKER.match(e["text"])]
    return streams[:at], streams[at], streams[at + 1 :]


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


async def test_a_long_output_is_cut_to_head_marker_and_tail(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    lines = 2000
    script = (
        f"for i in range({lines}):\n"
        "    print(f'line {i:04d}')\n"
        # the next statement counts from zero: 1501 bytes, under the limit on its own
        "print('y' * 1500)\n"
    )
    events = await channel.run(script)
    assert events[-1]["status"] == "ok"
    printed = "".join(f"line {i:04d}\n" for i in range(lines))
    long = statement(events, 0)
    head_events, marker, tail_events = split_at_marker(long)
    head = "".join(e["text"] for e in head_events)
    tail = "".join(e["text"] for e in tail_events)
    assert all(e["name"] == "stdout" for e in head_events + tail_events)
    assert marker["name"] == "stderr"
    assert 0 < nbytes(head) <= LIMIT
    assert printed.startswith(head)
    # nothing is forwarded past the limit until the statement ends: marker, tail, result
    kinds = [e["type"] for e in long]
    assert kinds == ["running"] + ["stream"] * (len(head_events) + 1 + len(tail_events)) + [
        "result"
    ]
    elided = int(MARKER.match(marker["text"]).group(1))
    assert 0 < nbytes(tail) <= TAIL
    assert printed.endswith(tail)
    assert tail.endswith(f"line {lines - 1:04d}\n")
    assert elided + nbytes(head) + nbytes(tail) == nbytes(printed)
    (result,) = results(long)
    assert result["output"] == [
        {"type": "stdout", "content": head, "outputType": "stream"},
        {"type": "stderr", "content": marker["text"], "outputType": "stream"},
        {"type": "stdout", "content": tail, "outputType": "stream"},
    ]
    # the next statement is not limited by the count of the one before
    after = statement(events, 1)
    assert [(e["name"], e["text"]) for e in after if e["type"] == "stream"] == [
        ("stdout", "y" * 1500 + "\n")
    ]
    assert results(after)[0]["output"] == [
        {"type": "stdout", "content": "y" * 1500 + "\n", "outputType": "stream"}
    ]


async def test_a_display_past_the_limit_is_elided_and_counted(pdit_channel):
    """Displays count against max_output_bytes (issue 13, point 4): one past the limit is
    not forwarded or kept, and the marker says so."""
    channel = await pdit_channel()
    await channel.welcome()
    script = (
        "from IPython.display import HTML, display\n"
        "display(HTML('<i>before</i>'))\n"
        "for i in range(500):\n"
        "    print(f'row {i:03d}')\n"
        "    if i == 499:\n"
        "        display(HTML('<b>x</b>'))\n"
        "        print('last line')\n"
    )
    events = await channel.run(script)
    assert events[-1]["status"] == "ok"
    # a display within its statement's limit is delivered
    (before,) = [e for e in statement(events, 1) if e["type"] == "display"]
    assert before["output"]["content"] == "<i>before</i>"
    printed = "".join(f"row {i:03d}\n" for i in range(500)) + "last line\n"
    loop = statement(events, 2)
    streams = [e for e in loop if e["type"] == "stream"]
    (at,) = [i for i, e in enumerate(streams) if "bytes of output elided" in e["text"]]
    head_events, marker, tail_events = streams[:at], streams[at], streams[at + 1 :]
    head = "".join(e["text"] for e in head_events)
    tail = "".join(e["text"] for e in tail_events)
    assert nbytes(head) <= LIMIT < nbytes(printed)
    assert [e for e in loop if e["type"] == "display"] == []
    assert tail.endswith("last line\n")
    found = re.search(r"(\d+) bytes of output elided, 1 of them in displays", marker["text"])
    assert found is not None
    # the display counts with its whole bundle: text/html and IPython's text/plain
    bundle = len("<b>x</b>") + len("<IPython.core.display.HTML object>")
    assert int(found.group(1)) + nbytes(head) + nbytes(tail) == nbytes(printed) + bundle
    (result,) = results(loop)
    assert [item["type"] for item in result["output"]] == ["stdout", "stderr", "stdout"]


async def test_an_output_under_the_limit_is_untouched(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run(
        "import sys\nfor i in range(100):\n    print(f'{i:02d}')\nprint('err', file=sys.stderr)\n"
    )
    printed = "".join(f"{i:02d}\n" for i in range(100))  # 300 bytes
    streams = [e for e in events if e["type"] == "stream"]
    assert not [e for e in streams if MARKER.match(e["text"]) or "pdit-gateway" in e["text"]]
    assert "".join(e["text"] for e in streams if e["index"] == 1) == printed
    res = results(events)
    assert res[1]["output"] == [{"type": "stdout", "content": printed, "outputType": "stream"}]
    assert res[2]["output"] == [{"type": "stderr", "content": "err\n", "outputType": "stream"}]
    assert texts(res[1]) == printed
