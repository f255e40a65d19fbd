"""Unit tests for pdit_gateway.events: iopub messages in, events and output items out."""

from __future__ import annotations

import json

import pytest
from kernel_messages import msg, stream

from pdit_gateway.events import (
    JSONDict,
    StatementOutput,
    error_item,
    output_item,
    strip_ansi,
    terminal_text,
)

RED = "\x1b[0;31m"
RESET = "\x1b[0m"


def display(data: JSONDict, display_id: str | None = None, *, update: bool = False) -> JSONDict:
    transient = {"display_id": display_id} if display_id is not None else {}
    msg_type = "update_display_data" if update else "display_data"
    return msg(msg_type, data=data, metadata={}, transient=transient)


def feed_all(out: StatementOutput, messages: list[JSONDict]) -> list[JSONDict]:
    events: list[JSONDict] = []
    for message in messages:
        events.extend(out.feed(message))
    return events


def stream_text(events: list[JSONDict]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "stream")


# -- strip_ansi ---------------------------------------------------------------------


def test_strip_ansi_removes_colours_and_osc() -> None:
    text = f"{RED}ValueError{RESET}: \x1b[1;32mbad\x1b[K \x1b]8;;http://x\x07link\x1b]8;;\x07"
    assert strip_ansi(text) == "ValueError: bad link"


def test_strip_ansi_leaves_plain_text() -> None:
    assert strip_ansi("plain [text] 1;2m\n") == "plain [text] 1;2m\n"


# -- output_item: MIME preference ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"text/plain": "p", "image/png": "PNG"}, "image/png"),
        ({"text/plain": "p", "image/svg+xml": "<svg/>", "image/png": "PNG"}, "image/png"),
        ({"image/svg+xml": "<svg/>", "image/jpeg": "J"}, "image/jpeg"),
        ({"image/webp": "W", "image/gif": "G"}, "image/gif"),
        ({"image/svg+xml": "<svg/>", "image/webp": "W"}, "image/webp"),
        ({"text/html": "<b/>", "image/svg+xml": "<svg/>"}, "image/svg+xml"),
        ({"image/bmp": "B", "image/tiff": "T", "text/html": "h"}, "image/bmp"),
        ({"image/bmp": "B", "image/png": "PNG"}, "image/png"),
        ({"text/plain": "p", "text/markdown": "m", "text/html": "h"}, "text/html"),
        ({"text/plain": "p", "application/json": {}, "text/markdown": "m"}, "text/markdown"),
        ({"text/plain": "p", "application/json": {"a": 1}}, "application/json"),
        ({"application/x-custom": "c", "text/plain": "p"}, "text/plain"),
        ({"application/x-b": "b", "application/x-a": "a"}, "application/x-b"),
    ],
)
def test_output_item_mime_preference(data: JSONDict, expected: str) -> None:
    assert output_item(data)["type"] == expected


def test_output_item_single_plain() -> None:
    assert output_item({"text/plain": "42"}) == {
        "type": "text/plain",
        "content": "42",
        "outputType": "display_data",
    }


def test_output_item_empty_bundle() -> None:
    assert output_item({}) == {"type": "text/plain", "content": "", "outputType": "display_data"}


def test_output_item_json_is_serialized() -> None:
    value = {"a": [1, 2], "b": None}
    item = output_item({"application/json": value})
    assert item["type"] == "application/json"
    assert json.loads(item["content"]) == value


def test_output_item_json_list_is_not_joined() -> None:
    item = output_item({"application/json": ["a", "b"]})
    assert json.loads(item["content"]) == ["a", "b"]


def test_output_item_non_str_value_is_serialized() -> None:
    assert output_item({"application/x-thing": {"k": 1}})["content"] == '{"k": 1}'


def test_output_item_list_of_str_is_joined() -> None:
    item = output_item({"text/html": ["<p>", "a</p>\n", "<p>b</p>"]})
    assert item["content"] == "<p>a</p>\n<p>b</p>"


def test_output_item_width_height_from_mime_metadata() -> None:
    item = output_item({"image/png": "PNG"}, {"image/png": {"width": 640, "height": 480}})
    assert item == {
        "type": "image/png",
        "content": "PNG",
        "width": 640,
        "height": 480,
        "outputType": "display_data",
    }


def test_output_item_width_height_from_top_level_metadata() -> None:
    item = output_item({"image/jpeg": "J"}, {"width": 100.0, "height": 50})
    assert (item["width"], item["height"]) == (100, 50)
    assert isinstance(item["width"], int)


def test_output_item_mime_metadata_wins_over_top_level() -> None:
    item = output_item({"image/png": "P"}, {"width": 1, "image/png": {"width": 2}})
    assert item["width"] == 2
    assert "height" not in item


def test_output_item_dimensions_absent_or_not_image() -> None:
    assert "width" not in output_item({"image/png": "P"}, {"image/png": {}})
    item = output_item({"text/html": "h"}, {"width": 10, "height": 10})
    assert "width" not in item
    assert "height" not in item


def test_output_item_width_only_for_chosen_type() -> None:
    data = {"image/png": "P", "image/svg+xml": "<svg/>"}
    item = output_item(data, {"image/svg+xml": {"width": 9}})
    assert "width" not in item


def test_output_item_bundle_only_when_several_types() -> None:
    single = output_item({"text/plain": "p"}, {"x": 1})
    assert "data" not in single
    assert "metadata" not in single
    data = {"text/plain": "p", "text/html": "h"}
    multi = output_item(data)
    assert multi["data"] == data
    assert multi["metadata"] == {}
    assert output_item(data, {"x": 1})["metadata"] == {"x": 1}


def test_output_item_display_id() -> None:
    assert output_item({"text/plain": "p"}, display_id="d1")["displayId"] == "d1"
    assert "displayId" not in output_item({"text/plain": "p"})


# -- error_item ---------------------------------------------------------------------


def test_error_item_keeps_ansi_in_traceback_only() -> None:
    traceback = [f"{RED}ZeroDivisionError{RESET}", f"{RED}1/0{RESET}"]
    item = error_item("ZeroDivisionError", "division by zero", traceback)
    assert item == {
        "type": "error",
        "content": "ZeroDivisionError\n1/0",
        "ename": "ZeroDivisionError",
        "evalue": "division by zero",
        "traceback": traceback,
        "outputType": "error",
    }


def test_error_item_empty_traceback() -> None:
    item = error_item("KeyError", "'x'", [])
    assert item["content"] == "KeyError: 'x'"
    assert item["traceback"] == []


# -- streams ------------------------------------------------------------------------


def test_stream_events_carry_only_new_text_and_merge() -> None:
    out = StatementOutput()
    events = feed_all(out, [stream("a\n"), stream("b\n")])
    assert events == [
        {"type": "stream", "name": "stdout", "text": "a\n"},
        {"type": "stream", "name": "stdout", "text": "b\n"},
    ]
    assert out.output == [{"type": "stdout", "content": "a\nb\n", "outputType": "stream"}]


def test_streams_of_different_names_stay_apart() -> None:
    out = StatementOutput()
    feed_all(out, [stream("1"), stream("2", "stderr"), stream("3")])
    assert out.output == [
        {"type": "stdout", "content": "1", "outputType": "stream"},
        {"type": "stderr", "content": "2", "outputType": "stream"},
        {"type": "stdout", "content": "3", "outputType": "stream"},
    ]


def test_streams_do_not_merge_across_a_display() -> None:
    out = StatementOutput()
    feed_all(out, [stream("1"), display({"text/plain": "d"}), stream("2")])
    assert [item["type"] for item in out.output] == ["stdout", "text/plain", "stdout"]


def test_output_is_a_snapshot() -> None:
    out = StatementOutput()
    out.feed(stream("a"))
    first = out.output
    out.feed(stream("b"))
    assert first == [{"type": "stdout", "content": "a", "outputType": "stream"}]
    assert out.output == [{"type": "stdout", "content": "ab", "outputType": "stream"}]


def test_msg_type_from_header_only() -> None:
    out = StatementOutput()
    message = stream("x")
    del message["msg_type"]
    assert out.feed(message) == [{"type": "stream", "name": "stdout", "text": "x"}]


# -- displays -----------------------------------------------------------------------


def test_display_data_event_and_item() -> None:
    out = StatementOutput()
    events = out.feed(display({"text/plain": "p", "text/html": "<b>p</b>"}))
    item = {
        "type": "text/html",
        "content": "<b>p</b>",
        "data": {"text/plain": "p", "text/html": "<b>p</b>"},
        "metadata": {},
        "outputType": "display_data",
    }
    assert events == [{"type": "display", "output": item, "update": False}]
    assert out.output == [item]


def test_display_data_with_display_id() -> None:
    out = StatementOutput()
    events = out.feed(display({"text/plain": "v1"}, "d1"))
    item = {"type": "text/plain", "content": "v1", "displayId": "d1", "outputType": "display_data"}
    assert events == [{"type": "display", "output": item, "update": False, "displayId": "d1"}]
    assert out.output == [item]


def test_update_display_data_replaces_in_place() -> None:
    out = StatementOutput()
    feed_all(
        out,
        [
            display({"text/plain": "v1"}, "d1"),
            stream("between\n"),
            display({"text/plain": "other"}, "d2"),
            display({"text/plain": "v1"}, "d1"),
        ],
    )
    events = out.feed(display({"text/plain": "v2"}, "d1", update=True))
    updated = {
        "type": "text/plain",
        "content": "v2",
        "displayId": "d1",
        "outputType": "display_data",
    }
    assert events == [{"type": "display", "output": updated, "update": True, "displayId": "d1"}]
    assert out.output == [
        updated,
        {"type": "stdout", "content": "between\n", "outputType": "stream"},
        {"type": "text/plain", "content": "other", "displayId": "d2", "outputType": "display_data"},
        updated,
    ]


def test_update_display_data_unknown_id_appends_nothing() -> None:
    out = StatementOutput()
    out.feed(stream("x"))
    events = out.feed(display({"text/plain": "v2"}, "elsewhere", update=True))
    assert events == [
        {
            "type": "display",
            "output": {
                "type": "text/plain",
                "content": "v2",
                "displayId": "elsewhere",
                "outputType": "display_data",
            },
            "update": True,
            "displayId": "elsewhere",
        }
    ]
    assert out.output == [{"type": "stdout", "content": "x", "outputType": "stream"}]


def test_update_display_data_without_id_is_ignored() -> None:
    out = StatementOutput()
    assert out.feed(display({"text/plain": "v"}, update=True)) == []
    assert out.output == []


# -- clear_output -------------------------------------------------------------------


def test_clear_output_now() -> None:
    out = StatementOutput()
    out.feed(stream("old"))
    assert out.feed(msg("clear_output", wait=False)) == [{"type": "clear", "wait": False}]
    assert out.output == []
    out.feed(stream("new"))
    assert out.output == [{"type": "stdout", "content": "new", "outputType": "stream"}]


def test_clear_output_wait_applies_on_next_output() -> None:
    out = StatementOutput()
    out.feed(stream("old"))
    assert out.feed(msg("clear_output", wait=True)) == [{"type": "clear", "wait": True}]
    assert out.output == [{"type": "stdout", "content": "old", "outputType": "stream"}]
    out.feed(stream("new"))
    assert out.output == [{"type": "stdout", "content": "new", "outputType": "stream"}]


@pytest.mark.parametrize(
    "next_msg",
    [
        display({"text/plain": "d"}),
        msg("execute_result", data={"text/plain": "r"}, metadata={}, execution_count=1),
        msg("error", ename="E", evalue="v", traceback=[]),
    ],
)
def test_clear_output_wait_applies_on_any_output(next_msg: JSONDict) -> None:
    out = StatementOutput()
    feed_all(out, [stream("old"), msg("clear_output", wait=True), next_msg])
    assert len(out.output) == 1
    assert out.output[0]["type"] != "stdout"


def test_clear_output_wait_not_applied_by_update_or_status() -> None:
    out = StatementOutput()
    feed_all(
        out,
        [
            display({"text/plain": "v1"}, "d1"),
            msg("clear_output", wait=True),
            display({"text/plain": "v2"}, "d1", update=True),
            msg("status", execution_state="busy"),
        ],
    )
    assert out.output == [
        {"type": "text/plain", "content": "v2", "displayId": "d1", "outputType": "display_data"}
    ]
    out.feed(stream("after"))
    assert out.output == [{"type": "stdout", "content": "after", "outputType": "stream"}]


def test_clear_output_wait_without_following_output_keeps_output() -> None:
    out = StatementOutput()
    feed_all(out, [stream("kept"), msg("clear_output", wait=True)])
    assert out.finish() == []
    assert out.output == [{"type": "stdout", "content": "kept", "outputType": "stream"}]


# -- execute_result, execute_input, error, ignored ----------------------------------


def test_execute_result_item_and_count() -> None:
    out = StatementOutput()
    message = msg("execute_result", data={"text/plain": "42"}, metadata={}, execution_count=7)
    assert out.feed(message) == []
    assert out.execution_count == 7
    assert out.output == [{"type": "text/plain", "content": "42", "outputType": "execute_result"}]


def test_execute_input_records_count() -> None:
    out = StatementOutput()
    assert out.execution_count is None
    assert out.feed(msg("execute_input", code="1", execution_count=3)) == []
    assert out.execution_count == 3
    assert out.output == []


def test_error_message() -> None:
    out = StatementOutput()
    traceback = [f"{RED}NameError{RESET}", "name 'x' is not defined"]
    message = msg("error", ename="NameError", evalue="name 'x' is not defined", traceback=traceback)
    assert out.feed(message) == []
    expected = error_item("NameError", "name 'x' is not defined", traceback)
    assert out.error == expected
    assert out.output == [expected]
    assert out.error is not None
    assert out.error["traceback"][0] == f"{RED}NameError{RESET}"
    assert out.error["content"] == "NameError\nname 'x' is not defined"


def test_no_error_by_default() -> None:
    assert StatementOutput().error is None


@pytest.mark.parametrize(
    "message",
    [
        msg("status", execution_state="idle"),
        msg("comm_open", comm_id="c", target_name="t", data={}),
        msg("comm_msg", comm_id="c", data={}),
        msg("comm_close", comm_id="c", data={}),
        msg("something_new", x=1),
        stream(""),
    ],
)
def test_ignored_messages(message: JSONDict) -> None:
    out = StatementOutput()
    assert out.feed(message) == []
    assert out.output == []
    assert out.execution_count is None


# -- output limits ------------------------------------------------------------------


def test_under_limit_unchanged() -> None:
    out = StatementOutput(max_output_bytes=100)
    events = feed_all(out, [stream("a" * 50), stream("b" * 50, "stderr")])
    assert stream_text(events) == "a" * 50 + "b" * 50
    assert out.finish() == []
    assert out.elided_bytes == 0
    assert out.output == [
        {"type": "stdout", "content": "a" * 50, "outputType": "stream"},
        {"type": "stderr", "content": "b" * 50, "outputType": "stream"},
    ]


def test_no_limit_by_default() -> None:
    out = StatementOutput()
    events = feed_all(out, [stream("x" * 100_000)])
    assert stream_text(events) == "x" * 100_000
    assert out.finish() == []


def lines(start: int, stop: int) -> str:
    return "".join(f"line {i:04d}\n" for i in range(start, stop))  # 10 bytes each


def test_over_limit_head_marker_tail() -> None:
    out = StatementOutput(max_output_bytes=1000, tail_bytes=105)
    text = lines(0, 1000)  # 10,000 bytes
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
    events = feed_all(out, [stream(chunk) for chunk in chunks])

    assert stream_text(events) == text[:1000]
    # One event per chunk up to the one that crosses the limit, none after it.
    assert len(events) == -(-1000 // 7)

    closing = out.finish()
    # The 105-byte tail starts mid-line: trimmed to the last ten whole lines.
    tail = lines(990, 1000)
    elided = 10_000 - 1000 - len(tail)
    marker = f"\n… [pdit-gateway: {elided} bytes of output elided] …\n"
    assert closing == [
        {"type": "stream", "name": "stderr", "text": marker},
        {"type": "stream", "name": "stdout", "text": tail},
    ]
    assert out.elided_bytes == elided
    assert out.output == [
        {"type": "stdout", "content": text[:1000], "outputType": "stream"},
        {"type": "stderr", "content": marker, "outputType": "stream"},
        {"type": "stdout", "content": tail, "outputType": "stream"},
    ]


def test_head_is_exactly_the_limit_when_a_chunk_crosses_it() -> None:
    out = StatementOutput(max_output_bytes=15, tail_bytes=1000)
    events = feed_all(out, [stream("0123456789"), stream("abcdefghij\nrest\n")])
    assert events[-1] == {"type": "stream", "name": "stdout", "text": "abcde"}
    assert len(stream_text(events).encode()) == 15
    assert out.feed(stream("more\n")) == []
    closing = out.finish()
    # Nothing was dropped, so the tail continues the head without a gap.
    assert out.elided_bytes == 0
    assert closing[0]["text"] == "\n… [pdit-gateway: 0 bytes of output elided] …\n"
    assert closing[1:] == [{"type": "stream", "name": "stdout", "text": "fghij\nrest\nmore\n"}]


def test_limit_does_not_split_multibyte_characters() -> None:
    out = StatementOutput(max_output_bytes=5, tail_bytes=3)
    # "é" is 2 bytes, "€" is 3: the limit falls inside the third "é".
    events = out.feed(stream("éééab"))
    assert events == [{"type": "stream", "name": "stdout", "text": "éé"}]
    # The tail holds at most 3 bytes and never half a character.
    out.feed(stream("€€"))
    closing = out.finish()
    assert closing[-1] == {"type": "stream", "name": "stdout", "text": "€"}
    assert out.elided_bytes == len("éab€".encode())
    marker = f"\n… [pdit-gateway: {out.elided_bytes} bytes of output elided] …\n"
    assert closing[0]["text"] == marker


def test_tail_keeps_stdout_and_stderr_apart() -> None:
    out = StatementOutput(max_output_bytes=4, tail_bytes=1000)
    events = feed_all(
        out,
        [stream("head"), stream("o1\n"), stream("e1\n", "stderr"), stream("o2\n"), stream("o3\n")],
    )
    assert stream_text(events) == "head"
    closing = out.finish()
    assert closing[1:] == [
        {"type": "stream", "name": "stdout", "text": "o1\n"},
        {"type": "stream", "name": "stderr", "text": "e1\n"},
        {"type": "stream", "name": "stdout", "text": "o2\no3\n"},
    ]
    assert out.output[0] == {"type": "stdout", "content": "head", "outputType": "stream"}
    # Head, marker, then the tail pieces: stdout sits between the two stderr items.
    assert [item["type"] for item in out.output] == [
        "stdout",
        "stderr",
        "stdout",
        "stderr",
        "stdout",
    ]


def test_tail_trim_only_touches_the_first_pieces_stream() -> None:
    out = StatementOutput(max_output_bytes=2, tail_bytes=12)
    feed_all(
        out,
        [stream("hh"), stream("x" * 20), stream("partial"), stream("E\n", "stderr"), stream("o\n")],
    )
    closing = out.finish()
    # Tail before trimming: stdout "xpartial", stderr "E\n", stdout "o\n" (12 bytes);
    # the stdout partial line up to its newline is dropped, stderr is kept.
    assert closing[1:] == [{"type": "stream", "name": "stderr", "text": "E\n"}]
    assert out.elided_bytes == 20 + len("partial") + len("o\n")


def test_tail_with_no_newline_is_not_trimmed() -> None:
    out = StatementOutput(max_output_bytes=2, tail_bytes=5)
    feed_all(out, [stream("hh"), stream("abcdefghij")])
    closing = out.finish()
    assert closing[1:] == [{"type": "stream", "name": "stdout", "text": "fghij"}]
    assert out.elided_bytes == 5


def test_tail_whose_only_newline_ends_it_is_not_trimmed() -> None:
    out = StatementOutput(max_output_bytes=2, tail_bytes=5)
    feed_all(out, [stream("hh"), stream("abcdefgh\n")])
    closing = out.finish()
    assert closing[1:] == [{"type": "stream", "name": "stdout", "text": "efgh\n"}]
    assert out.elided_bytes == 4


def test_tail_already_at_line_start_is_not_trimmed() -> None:
    out = StatementOutput(max_output_bytes=2, tail_bytes=6)
    feed_all(out, [stream("hh"), stream("aaa\n"), stream("bb\ncc\n")])
    closing = out.finish()
    assert closing[1:] == [{"type": "stream", "name": "stdout", "text": "bb\ncc\n"}]
    assert out.elided_bytes == 4


def test_zero_tail_bytes_elides_everything_past_limit() -> None:
    out = StatementOutput(max_output_bytes=3, tail_bytes=0)
    feed_all(out, [stream("abcdef\n")])
    closing = out.finish()
    assert closing == [
        {
            "type": "stream",
            "name": "stderr",
            "text": "\n… [pdit-gateway: 4 bytes of output elided] …\n",
        }
    ]


def test_displays_and_results_past_the_limit_are_elided_and_counted() -> None:
    """Displays were forwarded and kept past max_output_bytes: 200 displays of 1 MB made one
    200 MB result (issue 13, point 4)."""
    out = StatementOutput(max_output_bytes=3, tail_bytes=100)
    feed_all(out, [stream("abc"), stream("def\n")])
    assert out.feed(display({"text/plain": "shown"})) == []
    out.feed(msg("execute_result", data={"text/plain": "r"}, metadata={}, execution_count=2))
    closing = out.finish()
    assert [e["name"] for e in closing] == ["stderr", "stdout"]
    assert "2 of them in displays or results" in closing[0]["text"]
    assert [item["type"] for item in out.output] == ["stdout", "stderr", "stdout"]
    assert out.output[-1]["content"] == "def\n"
    assert out.elided_items == 2 and out.elided_bytes == len("shown") + len("r")
    assert out.execution_count == 2


def test_displays_count_against_the_limit_and_keep_memory_bounded() -> None:
    out = StatementOutput(max_output_bytes=2_500_000, tail_bytes=1000)
    forwarded = 0
    for i in range(200):
        forwarded += len(out.feed(display({"text/plain": str(i % 10) * 1_000_000})))
    assert forwarded == 2
    out.feed(stream("after\n"))
    closing = out.finish()
    kept = sum(len(str(item["content"])) for item in out.output)
    assert kept < 2_500_000 + 2000
    assert "198 of them in displays or results" in closing[0]["text"]
    assert out.output[-1] == {"type": "stdout", "content": "after\n", "outputType": "stream"}


def test_a_display_update_counts_what_it_adds() -> None:
    out = StatementOutput(max_output_bytes=100, tail_bytes=0)
    shown = msg(
        "display_data", data={"text/plain": "x" * 60}, metadata={}, transient={"display_id": "d"}
    )
    assert len(out.feed(shown)) == 1
    same_size = msg(
        "update_display_data",
        data={"text/plain": "y" * 60},
        metadata={},
        transient={"display_id": "d"},
    )
    for _ in range(50):  # replacing costs nothing more
        assert len(out.feed(same_size)) == 1
    grown = msg(
        "update_display_data",
        data={"text/plain": "z" * 200},
        metadata={},
        transient={"display_id": "d"},
    )
    assert out.feed(grown) == []
    assert out.output[0]["content"] == "y" * 60
    assert out.elided_items == 1


def test_restrict_to_nothing_keeps_only_the_marker() -> None:
    out = StatementOutput(max_output_bytes=1000, tail_bytes=100)
    out.restrict(0, 0)
    assert out.feed(stream("hello\n")) == []
    assert out.feed(display({"text/plain": "d"})) == []
    closing = out.finish()
    assert [e["text"] for e in closing] == [
        "\n… [pdit-gateway: 7 bytes of output elided, 1 of them in displays or results] …\n"
    ]


def test_clear_while_eliding_drops_tail_and_counts_it() -> None:
    out = StatementOutput(max_output_bytes=3, tail_bytes=100)
    feed_all(out, [stream("abc"), stream("old\n"), msg("clear_output", wait=False)])
    assert out.output == []
    assert out.elided_bytes == 4
    out.feed(stream("new\n"))
    closing = out.finish()
    assert closing[1:] == [{"type": "stream", "name": "stdout", "text": "new\n"}]
    assert out.output == [
        {"type": "stderr", "content": closing[0]["text"], "outputType": "stream"},
        {"type": "stdout", "content": "new\n", "outputType": "stream"},
    ]


def test_finish_is_idempotent() -> None:
    out = StatementOutput(max_output_bytes=1, tail_bytes=10)
    out.feed(stream("abc\n"))
    first = out.finish()
    assert len(first) == 2
    snapshot = out.output
    assert out.finish() == []
    assert out.output == snapshot


def test_finish_without_output() -> None:
    out = StatementOutput(max_output_bytes=10)
    assert out.finish() == []
    assert out.finish() == []


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("10%\r50%\r100%\n", "100%\n"),
        ("abcdef\rXY", "XYcdef"),  # a shorter text leaves the end of the longer one
        ("one\r\ntwo\r\n", "one\ntwo\n"),  # Windows line ends are line ends
        ("done\r", "done"),
        ("ab\bc", "ac"),
        ("\bx", "x"),
        ("plain text\n", "plain text\n"),
    ],
)
def test_terminal_text_redraws_lines_as_a_terminal(raw, shown):
    assert terminal_text(raw) == shown
