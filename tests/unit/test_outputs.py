"""The output area (pdit_gateway.outputs) over scripted sequences of outputs and events."""

from __future__ import annotations

from typing import Any

import pytest

from pdit_gateway.events import StatementOutput, error_item, output_item
from pdit_gateway.outputs import ItemForm, NbformatForm, OutputArea, item_area, output_type

Event = dict[str, Any]


def stream(text: str, name: str = "stdout") -> Event:
    return {"type": "stream", "name": name, "text": text}


def display(content: str, display_id: str | None = None, *, update: bool = False) -> Event:
    item = output_item({"text/plain": content}, None, display_id)
    event: Event = {"type": "display", "output": item, "update": update}
    if display_id is not None:
        event["displayId"] = display_id
    return event


def clear(wait: bool = False) -> Event:
    return {"type": "clear", "wait": wait}


def shown(area: OutputArea[Event]) -> list[tuple[str, str]]:
    return [(str(item["type"]), str(item["content"])) for item in area.entries]


def test_adjacent_streams_of_one_name_merge():
    area = item_area()
    for event in [stream("a"), stream("b"), stream("e", "stderr"), stream("c"), stream("d")]:
        area.apply(event)
    assert shown(area) == [("stdout", "ab"), ("stderr", "e"), ("stdout", "cd")]
    assert {item["outputType"] for item in area.entries} == {"stream"}


def test_without_merging_each_stream_message_is_an_entry():
    area = OutputArea(ItemForm(), merge_streams=False)
    area.apply(stream("a"))
    area.apply(stream("b"))
    assert shown(area) == [("stdout", "a"), ("stdout", "b")]


def test_carriage_returns_are_kept_as_sent():
    # a progress bar's \r is applied where it is shown (terminal_text), not in the area:
    # a later frame may still need the raw text
    area = item_area()
    area.apply(stream("10%\r"))
    area.apply(stream("100%\n"))
    assert shown(area) == [("stdout", "10%\r100%\n")]


def test_empty_stream_text_adds_nothing_and_keeps_a_pending_clear():
    area = item_area([{"type": "stdout", "content": "old"}])
    area.apply(clear(wait=True))
    assert area.apply(stream("")) is False
    assert area.clear_pending
    assert shown(area) == [("stdout", "old")]


def test_clear_now_empties_the_area():
    area = item_area()
    area.apply(stream("gone"))
    assert area.apply(clear()) is True
    area.apply(stream("kept"))
    assert shown(area) == [("stdout", "kept")]


@pytest.mark.parametrize("next_event", [stream("new"), display("new")])
def test_clear_wait_clears_when_the_next_output_arrives(next_event):
    area = item_area()
    area.apply(stream("old"))
    assert area.apply(clear(wait=True)) is False  # nothing changes yet
    assert shown(area) == [("stdout", "old")]
    area.apply(next_event)
    assert [content for _, content in shown(area)] == ["new"]
    assert not area.clear_pending


def test_clear_wait_twice_clears_once_and_an_update_does_not_apply_it():
    area = item_area()
    area.apply(display("v1", "d"))
    area.apply(clear(wait=True))
    area.apply(clear(wait=True))
    area.apply(display("v2", "d", update=True))
    assert shown(area) == [("text/plain", "v2")]
    assert area.clear_pending
    area.apply(stream("after"))
    assert shown(area) == [("stdout", "after")]


def test_stream_can_skip_a_pending_clear():
    area = item_area([{"type": "stdout", "content": "before "}])
    area.clear(wait=True)
    area.stream("stdout", "held", clears=False)
    assert shown(area) == [("stdout", "before held")]
    assert area.clear_pending


def test_an_update_replaces_every_entry_with_its_display_id():
    area = item_area()
    for event in [display("v1", "d"), stream("between"), display("other", "e"), display("v1", "d")]:
        area.apply(event)
    area.apply(display("v2", "d", update=True))
    assert shown(area) == [
        ("text/plain", "v2"),
        ("stdout", "between"),
        ("text/plain", "other"),
        ("text/plain", "v2"),
    ]
    assert area.update("nobody", output_item({"text/plain": "x"})) == 0


def test_an_update_keeps_the_execute_result_type():
    area = item_area()
    area.add(output_item({"text/plain": "1"}, None, "r", "execute_result"))
    area.apply(display("2", "r", update=True))
    assert area.entries == [
        {"type": "text/plain", "content": "2", "displayId": "r", "outputType": "execute_result"}
    ]


def test_the_nbformat_form_merges_stream_text():
    area = OutputArea(NbformatForm())
    area.stream("stdout", "a")
    area.add({"output_type": "display_data", "data": {}, "metadata": {}})
    area.stream("stdout", "b")
    area.stream("stdout", "c")
    assert area.entries[-1] == {"output_type": "stream", "name": "stdout", "text": "bc"}
    assert len(area.entries) == 3


def test_entries_are_kept_in_the_given_list():
    outputs: list[Event] = []
    area = OutputArea(NbformatForm(), outputs)
    area.stream("stdout", "x")
    area.clear()
    area.stream("stderr", "y")
    assert outputs is area.entries
    assert outputs == [{"output_type": "stream", "name": "stderr", "text": "y"}]


def test_output_type_of_every_kind_of_item():
    assert output_type({"type": "stdout", "content": "", "outputType": "stream"}) == "stream"
    assert output_type(output_item({"text/plain": "d"})) == "display_data"
    assert output_type(output_item({"text/plain": "r"}, None, None, "execute_result")) == (
        "execute_result"
    )
    assert output_type(error_item("E", "v", [])) == "error"
    # items stored before the field existed
    assert output_type({"type": "stderr", "content": "x"}) == "stream"
    assert output_type({"type": "error", "content": "x"}) == "error"
    assert output_type({"type": "image/png", "content": ""}) == "display_data"
    assert output_type({"type": "text/plain", "content": "", "outputType": "bogus"}) == (
        "display_data"
    )


def test_the_server_and_a_client_accumulate_the_same_output():
    """The gateway's result.output and a client rebuilding it from the events agree."""
    messages = [
        {"msg_type": "stream", "content": {"name": "stdout", "text": "a"}},
        {"msg_type": "display_data", "content": {"data": {"text/plain": "d"}, "metadata": {}}},
        {"msg_type": "clear_output", "content": {"wait": True}},
        {"msg_type": "stream", "content": {"name": "stdout", "text": "b"}},
        {
            "msg_type": "display_data",
            "content": {
                "data": {"text/plain": "v1"},
                "metadata": {},
                "transient": {"display_id": "p"},
            },
        },
        {"msg_type": "stream", "content": {"name": "stdout", "text": "c"}},
        {
            "msg_type": "update_display_data",
            "content": {
                "data": {"text/plain": "v2"},
                "metadata": {},
                "transient": {"display_id": "p"},
            },
        },
        {"msg_type": "stream", "content": {"name": "stderr", "text": "e"}},
    ]
    server = StatementOutput()
    client = item_area()
    for message in messages:
        for event in server.feed(message):
            client.apply(event)
    assert client.entries == server.output
    assert shown(client) == [
        ("stdout", "b"),
        ("text/plain", "v2"),
        ("stdout", "c"),
        ("stderr", "e"),
    ]
