"""pdit's own messages on /ws/session: an unmodified pdit client's conversation, on real kernels."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from pdit_gateway.pdit_compat import PditChannel, PditTranslator
from pdit_gateway.pytest_plugin import SOCKET_WAIT

Message = dict[str, Any]

RESULT_FIELDS = {"type", "lineStart", "lineEnd", "output", "isInvisible"}
ITEM_FIELDS = {"type", "content", "width", "height"}


class PditSocket:
    """A test client that speaks pdit's messages; every wait is bounded."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def send(self, **frame: Any) -> None:
        await self.connection.write_message(json.dumps(frame))

    async def recv(self, timeout: float = SOCKET_WAIT) -> Message:
        message = await asyncio.wait_for(self.connection.read_message(), timeout)
        if message is None:
            raise ConnectionError(f"the socket closed (code {self.connection.close_code})")
        return json.loads(message)

    async def until(self, predicate: Callable[[Message], bool], wait: float = SOCKET_WAIT):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        messages = []
        while True:
            message = await self.recv(max(0.0, deadline - loop.time()))
            messages.append(message)
            if predicate(message):
                return messages

    async def run(self, script: str, **options: Any) -> list[Message]:
        """Send pdit's execute and return its messages up to ``complete`` (or busy/error)."""
        await self.send(type="execute", script=script, **options)
        return await self.until(lambda m: m["type"] in ("complete", "busy", "error"))

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def pdit_ws(jp_ws_fetch):
    async def open_socket(session_id: str = "pdit-test", **kwargs: Any) -> PditSocket:
        params = {"sessionId": session_id, **kwargs.pop("params", {})}
        connection = await jp_ws_fetch("ws", "session", params=params, **kwargs)
        return PditSocket(connection)

    return open_socket


def results(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m["type"] == "result"]


def spans(items: list[Message]) -> list[tuple[int, int]]:
    return [(item["lineStart"], item["lineEnd"]) for item in items]


# -- execution ---------------------------------------------------------------------------


async def test_simple_expression(pdit_ws):
    ws = await pdit_ws("simple")
    messages = await ws.run("2 + 2")
    assert [m["type"] for m in messages] == ["expressions", "result", "complete"]
    assert messages[0] == {"type": "expressions", "expressions": [{"lineStart": 1, "lineEnd": 1}]}
    assert messages[1] == {
        "type": "result",
        "lineStart": 1,
        "lineEnd": 1,
        "output": [{"type": "text/plain", "content": "4"}],
        "isInvisible": False,
    }
    assert messages[2] == {"type": "complete"}


async def test_assignment_and_none_are_invisible(pdit_ws):
    ws = await pdit_ws("invisible")
    (assignment, none) = results(await ws.run("x = 1\nNone\n"))
    assert assignment["output"] == [] and assignment["isInvisible"] is True
    assert none["output"] == [] and none["isInvisible"] is True


async def test_print_goes_to_stdout_with_its_newline(pdit_ws):
    ws = await pdit_ws("print")
    (result,) = results(await ws.run("print('hello')"))
    assert result["output"] == [{"type": "stdout", "content": "hello\n"}]
    assert result["isInvisible"] is False


async def test_statements_have_line_spans_and_state_persists(pdit_ws):
    ws = await pdit_ws("spans")
    script = (
        "import math\n"
        "\n"
        "def area(r):\n"
        "    return math.pi * r ** 2\n"
        "\n"
        "@staticmethod\n"
        "def decorated():\n"
        "    pass\n"
        "radius = 2\n"
        "round(area(radius), 2)\n"
    )
    messages = await ws.run(script)
    expected = [(1, 1), (3, 4), (6, 8), (9, 9), (10, 10)]
    assert spans(messages[0]["expressions"]) == expected
    res = results(messages)
    assert spans(res) == expected
    assert res[-1]["output"] == [{"type": "text/plain", "content": "12.57"}]
    # the namespace is the session's: a later execution sees it
    (later,) = results(await ws.run("radius * 10"))
    assert later["output"] == [{"type": "text/plain", "content": "20"}]


async def test_error_result_and_cancelled_remaining(pdit_ws):
    ws = await pdit_ws("error")
    messages = await ws.run("a = 1\n1 / 0\nb = 2\nc = 3\n")
    assert [m["type"] for m in messages] == [
        "expressions",
        "result",
        "result",
        "cancelled",
        "complete",
    ]
    error = results(messages)[1]["output"][-1]
    assert set(error) == {"type", "content"}
    assert error["type"] == "error" and "ZeroDivisionError" in error["content"]
    assert "\x1b[" not in error["content"]
    cancelled = messages[3]
    assert cancelled == {
        "type": "cancelled",
        "expressions": [{"lineStart": 3, "lineEnd": 3}, {"lineStart": 4, "lineEnd": 4}],
    }
    (check,) = results(await ws.run("'b' in dir()"))
    assert check["output"][0]["content"] == "False"


async def test_syntax_error_is_one_expression_at_line_1(pdit_ws):
    ws = await pdit_ws("syntax")
    messages = await ws.run("1 +\nx = 2\n")
    assert messages[0] == {"type": "expressions", "expressions": [{"lineStart": 1, "lineEnd": 1}]}
    (result,) = results(messages)
    assert (result["lineStart"], result["lineEnd"]) == (1, 1)
    assert result["output"][0]["type"] == "error"
    assert "SyntaxError" in result["output"][0]["content"]
    assert messages[-1] == {"type": "complete"}


async def test_line_range_runs_the_overlapping_statements(pdit_ws):
    ws = await pdit_ws("range")
    script = "a = 1\nb = 2\nfor i in range(2):\n    b += i\nb * 10\n"
    messages = await ws.run(script, lineRange={"from": 2, "to": 3})
    assert spans(messages[0]["expressions"]) == [(2, 2), (3, 4)]
    (check,) = results(await ws.run("('a' in dir(), b)"))
    assert check["output"][0]["content"] == "(False, 3)"


async def test_markdown_and_fstring_markdown(pdit_ws):
    ws = await pdit_ws("markdown")
    script = '"""\n# Title\n\nSome *text*.\n"""\nn = 3\nf"n is **{n}**"\n'
    md, _, fmd = results(await ws.run(script))
    assert (md["lineStart"], md["lineEnd"]) == (1, 5)
    assert md["output"] == [{"type": "text/markdown", "content": "# Title\n\nSome *text*."}]
    assert fmd["output"] == [{"type": "text/markdown", "content": "n is **3**"}]


async def test_pdits_conveniences_semicolon_and_interactive_tables(pdit_ws):
    ws = await pdit_ws("conveniences")
    script = "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\ndf\n1 + 1;\n"
    _, _, table, hidden = results(await ws.run(script))
    # a DataFrame is an interactive table (itables' HTML, its code inline), as pdit shows it
    assert table["output"][0]["type"] == "text/html"
    assert "itables" in table["output"][0]["content"]
    assert hidden["isInvisible"] is True  # a trailing semicolon hides the value


async def test_v1_clients_keep_pandas_own_html(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("import pandas as pd\npd.DataFrame({'a': [1]})")
    html = [e for e in events if e["type"] == "result"][-1]["output"][0]
    assert html["type"] == "text/html"
    assert "<table" in html["content"]
    assert "itables" not in html["content"]


async def test_input_raises_at_once_on_pdits_socket(pdit_ws):
    ws = await pdit_ws("no-stdin")
    messages = await ws.run("name = input('who? ')\nafter = 1")
    error = results(messages)[0]["output"][-1]
    assert error["type"] == "error"
    assert "StdinNotImplementedError" in error["content"]
    assert messages[-1]["type"] == "complete"


async def test_a_figure_shows_once_at_plt_show(pdit_ws):
    ws = await pdit_ws("figure")
    script = (
        "import matplotlib.pyplot as plt\n"
        "plt.figure(figsize=(6, 3))\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.title('squares')\n"
        "plt.show()\n"
    )
    shown = [
        (r["lineStart"], item["type"])
        for r in results(await ws.run(script))
        for item in r["output"]
        if item["type"].startswith("image/")
    ]
    assert shown == [(5, "image/png")]


async def test_the_watched_files_path_is_the_scripts_file(pdit_ws, jp_root_dir):
    script = jp_root_dir / "where.py"
    script.write_text("__file__\n")
    ws = await pdit_ws("where")
    await ws.send(type="watch", path="where.py")
    await ws.until(lambda m: m["type"] == "initial")
    [result] = results(await ws.run("__file__\n", scriptName="where.py"))
    assert result["output"][0]["content"] == repr(str(script))


async def test_rich_output_keeps_only_pdits_fields(pdit_ws):
    ws = await pdit_ws("rich")
    script = (
        "from IPython.display import HTML, Image, display\n"
        "display(HTML('<b>bold</b>'), display_id='d')\n"
        "import base64\n"
        "png = base64.b64decode("
        "'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')\n"
        "Image(png, width=40, height=30)\n"
        "{'a': 1}\n"
    )
    res = results(await ws.run(script))
    html = res[1]["output"][0]
    assert html == {"type": "text/html", "content": "<b>bold</b>"}
    image = res[4]["output"][0]
    assert image["type"] == "image/png" and (image["width"], image["height"]) == (40, 30)
    for result in res:
        assert set(result) == RESULT_FIELDS
        for item in result["output"]:
            assert set(item) <= ITEM_FIELDS


async def test_stream_messages_carry_the_accumulated_output(pdit_ws):
    ws = await pdit_ws("stream")
    script = (
        "import sys, time\n"
        "for i in range(3):\n"
        "    print(i, flush=True)\n"
        "    time.sleep(0.3)\n"
        "print('done', file=sys.stderr)\n"
    )
    messages = await ws.run(script)
    streams = [m for m in messages if m["type"] == "stream"]
    loop = [s for s in streams if s["lineStart"] == 2]
    assert [s["output"] for s in loop] == [
        [{"type": "stdout", "content": "0\n"}],
        [{"type": "stdout", "content": "0\n1\n"}],
        [{"type": "stdout", "content": "0\n1\n2\n"}],
    ]
    assert all(set(s) == {"type", "lineStart", "lineEnd", "output"} for s in streams)
    assert loop[-1]["lineEnd"] == 4
    result = next(r for r in results(messages) if r["lineStart"] == 2)
    assert result["output"] == loop[-1]["output"]
    # each statement's stream messages come before its result
    order = [(m["type"], m.get("lineStart")) for m in messages]
    assert order.index(("stream", 2)) < order.index(("result", 2)) < order.index(("stream", 5))
    last_stderr = [s for s in streams if s["lineStart"] == 5][-1]
    assert last_stderr["output"] == [{"type": "stderr", "content": "done\n"}]


async def test_fast_output_is_throttled_and_its_final_state_sent(pdit_ws):
    ws = await pdit_ws("throttle")
    script = "for i in range(300):\n    print(i, flush=True)\n"
    messages = await ws.run(script)
    streams = [m for m in messages if m["type"] == "stream"]
    everything = "".join(f"{i}\n" for i in range(300))
    assert streams, "no stream message"
    assert len(streams) < 60, f"{len(streams)} stream messages for one fast loop"
    assert streams[-1]["output"] == [{"type": "stdout", "content": everything}]
    contents = [s["output"][0]["content"] for s in streams]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(contents))
    (result,) = results(messages)
    assert result["output"] == [{"type": "stdout", "content": everything}]


async def test_busy_while_an_execution_runs(pdit_ws):
    ws = await pdit_ws("busy")
    await ws.send(type="execute", script="import time\nprint('go', flush=True); time.sleep(30)\n")
    await ws.send(type="execute", script="1 + 1")
    first = await ws.until(lambda m: m["type"] == "busy")
    assert first[-1] == {"type": "busy"}
    # still busy once it runs
    await ws.until(lambda m: m["type"] == "stream")
    await ws.send(type="execute", script="2 + 2")
    assert (await ws.recv()) == {"type": "busy"}
    await ws.send(type="interrupt")
    rest = await ws.until(lambda m: m["type"] == "complete")
    assert "KeyboardInterrupt" in results(rest)[-1]["output"][-1]["content"]
    # free again: the next execute runs
    assert results(await ws.run("2 + 2"))[0]["output"][0]["content"] == "4"


async def test_interrupt_stops_the_statement_and_cancels_the_rest(pdit_ws):
    ws = await pdit_ws("interrupt")
    await ws.send(
        type="execute", script="import time\nprint('start', flush=True); time.sleep(60)\nx = 1\n"
    )
    await ws.until(lambda m: m["type"] == "stream")
    await ws.send(type="interrupt")
    messages = await ws.until(lambda m: m["type"] == "complete")
    interrupted = next(m for m in messages if m["type"] == "result" and m["lineStart"] == 2)
    assert interrupted["output"][0] == {"type": "stdout", "content": "start\n"}
    assert interrupted["output"][-1]["type"] == "error"
    assert "KeyboardInterrupt" in interrupted["output"][-1]["content"]
    cancelled = next(m for m in messages if m["type"] == "cancelled")
    assert cancelled["expressions"] == [{"lineStart": 3, "lineEnd": 3}]
    # the kernel is still there, with its namespace
    (check,) = results(await ws.run("time.__name__"))
    assert check["output"][0]["content"] == "'time'"


async def test_reset_clears_the_namespace(pdit_ws):
    ws = await pdit_ws("reset")
    await ws.run("secret = 42")
    await ws.send(type="reset")
    # frames are acted on in order: this execute runs on the restarted kernel
    (check,) = results(await ws.run("'secret' in dir()"))
    assert check["output"][0]["content"] == "False"
    await ws.run("secret = 42")
    (fresh,) = results(await ws.run("'secret' in dir()", reset=True))
    assert fresh["output"][0]["content"] == "False"


async def test_bad_frames_are_answered_with_error_and_the_socket_kept(pdit_ws):
    ws = await pdit_ws("bad")
    await ws.connection.write_message("{not json")
    assert (await ws.recv())["type"] == "error"
    await ws.send(type="execute")
    error = await ws.recv()
    assert error["type"] == "error" and "script" in error["message"]
    await ws.send(type="something-new", value=1)  # ignored, as pdit's own server does
    messages = await ws.run("3 * 3")
    assert messages[0]["type"] == "expressions"
    assert results(messages)[0]["output"][0]["content"] == "9"


# -- sessions ------------------------------------------------------------------------------


async def test_session_id_is_required_and_checked(pdit_ws):
    for session_id in ("", "no/slash", "a" * 200):
        with pytest.raises(HTTPClientError) as info:
            await pdit_ws(session_id)
        assert info.value.code == 400


async def test_token_in_the_query_as_pdit_sends_it(pdit_ws, jp_serverapp):
    with pytest.raises(HTTPClientError) as info:
        await pdit_ws("no-token", headers={"Authorization": ""})
    assert info.value.code == 403
    assert "no-token" not in jp_serverapp.web_app.settings["pdit_session_manager"].sessions
    token = jp_serverapp.identity_provider.token
    ws = await pdit_ws("query-token", headers={"Authorization": ""}, params={"token": token})
    assert results(await ws.run("1"))[0]["output"][0]["content"] == "1"


async def test_a_pdit_socket_and_a_v1_channel_share_a_session(pdit_ws, pdit_channel):
    ws = await pdit_ws("shared")
    await ws.run("shared = 41")
    channel = await pdit_channel("shared")
    welcome = await channel.welcome()
    assert welcome["executions"][0]["status"] == "ok"
    v1 = await channel.run("shared + 1")
    assert next(e for e in v1 if e["type"] == "result")["output"][0]["content"] == "42"
    # the v1 execution is not sent to the pdit socket: its next message is its own run's
    messages = await ws.run("shared")
    assert messages[0]["type"] == "expressions"
    assert results(messages)[0]["output"][0]["content"] == "41"


async def test_the_session_outlives_the_socket(pdit_ws):
    ws = await pdit_ws("outlives")
    await ws.run("kept = 'yes'")
    ws.close()
    again = await pdit_ws("outlives")
    (check,) = results(await again.run("kept"))
    assert check["output"][0]["content"] == "'yes'"


class _NullTransport:
    async def send(self, text: str) -> None:
        pass

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        pass


async def test_sessions_made_by_pdit_are_culled_when_idle(jp_serverapp):
    settings = jp_serverapp.web_app.settings
    manager = settings["pdit_session_manager"]
    v1_session = manager.get_or_create("v1-made")
    channel = PditChannel.connect(
        manager,
        "cull-me",
        _NullTransport(),
        settings["pdit_files"],
        1 << 20,
        manager.log,
        idle_timeout=settings["pdit_session_idle_timeout"],
    )
    joined = PditChannel.connect(
        manager,
        "v1-made",
        _NullTransport(),
        settings["pdit_files"],
        1 << 20,
        manager.log,
        idle_timeout=settings["pdit_session_idle_timeout"],
    )
    pdit_session = manager.sessions["cull-me"]
    assert pdit_session.idle_timeout == 600.0
    assert v1_session.idle_timeout is None  # not made by pdit: session_idle_timeout (0) applies
    for each in (channel, joined):
        each.close()
    for session in (pdit_session, v1_session):
        session.last_activity -= timedelta(seconds=601)
    await manager.maintain()
    assert "cull-me" not in manager.sessions
    assert "v1-made" in manager.sessions


# -- watch ---------------------------------------------------------------------------------


def _replace(path, text: str) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text)
    os.replace(temp, path)


async def test_watch_sends_initial_then_changes_and_deletion(pdit_ws, jp_root_dir):
    script = jp_root_dir / "sub" / "watched.py"
    script.parent.mkdir()
    script.write_text("x = 1\n")
    ws = await pdit_ws("watch")
    await ws.send(type="watch", path="sub/watched.py")
    initial = await ws.recv()
    assert initial["type"] == "initial"
    assert (initial["path"], initial["content"]) == ("sub/watched.py", "x = 1\n")
    assert isinstance(initial["timestamp"], int)
    script.write_text("x = 2\n")
    changed = await ws.until(lambda m: m["type"] == "fileChanged" and m["content"] == "x = 2\n")
    assert changed[-1]["path"] == "sub/watched.py"
    _replace(script, "x = 3\n")  # an editor's atomic save is one change
    await ws.until(lambda m: m["type"] == "fileChanged" and m["content"] == "x = 3\n")
    script.unlink()
    deleted = await ws.until(lambda m: m["type"] == "fileDeleted")
    assert deleted[-1]["path"] == "sub/watched.py" and "content" not in deleted[-1]


async def test_watch_refuses_paths_outside_the_root_and_missing_files(pdit_ws, jp_root_dir):
    outside = jp_root_dir.parent / "outside.py"
    outside.write_text("secret = 1\n")
    (jp_root_dir / "link.py").symlink_to(outside)
    ws = await pdit_ws("watch-refused")
    for path in (str(outside), "../outside.py", "link.py", "missing.py", ""):
        await ws.send(type="watch", path=path)
        message = await ws.recv()
        assert message["type"] == "error", (path, message)
        assert "secret" not in json.dumps(message)


async def test_one_watcher_per_file_shared_and_stopped_with_the_last(
    pdit_ws, jp_root_dir, jp_serverapp
):
    watchers = jp_serverapp.web_app.settings["pdit_files"].watchers
    script = jp_root_dir / "shared.py"
    script.write_text("a = 1\n")
    first, second = await pdit_ws("watch-a"), await pdit_ws("watch-b")
    for ws in (first, second):
        await ws.send(type="watch", path="shared.py")
        assert (await ws.recv())["type"] == "initial"
    real = script.resolve()
    assert watchers.watching() == {real: 2}
    assert watchers.running == 1
    script.write_text("a = 2\n")
    for ws in (first, second):
        await ws.until(lambda m: m["type"] == "fileChanged" and m["content"] == "a = 2\n")
    first.close()
    await asyncio.wait_for(watchers.wait_until(lambda w: w.watching() == {real: 1}), 10)
    assert watchers.running == 1
    # a second watch from the same socket replaces its first
    other = jp_root_dir / "other.py"
    other.write_text("b = 1\n")
    await second.send(type="watch", path="other.py")
    assert (await second.recv())["content"] == "b = 1\n"
    await asyncio.wait_for(watchers.wait_until(lambda w: w.watching() == {other.resolve(): 1}), 10)
    second.close()
    await asyncio.wait_for(watchers.wait_until(lambda w: not w.watching() and w.running == 0), 10)


# -- the translation, without a server --------------------------------------------------------


def _event(kind: str, index: int = 0, **fields: Any) -> Message:
    return {
        "type": kind,
        "executionId": "e",
        "index": index,
        "lineStart": index + 1,
        "lineEnd": index + 1,
        "seq": 1,
        **fields,
    }


def test_translator_throttles_streams_per_statement():
    translator = PditTranslator(interval=0.05)
    translator.follow("e")
    first = translator.feed(_event("stream", name="stdout", text="a"), now=10.0)
    assert first == [
        {
            "type": "stream",
            "lineStart": 1,
            "lineEnd": 1,
            "output": [{"type": "stdout", "content": "a"}],
        }
    ]
    assert translator.feed(_event("stream", name="stdout", text="b"), now=10.01) == []
    assert translator.feed(_event("stream", name="stderr", text="!"), now=10.02) == []
    assert translator.next_due() == pytest.approx(10.05)
    assert translator.due(10.04) == []
    (held,) = translator.due(10.05)
    assert held["output"] == [
        {"type": "stdout", "content": "ab"},
        {"type": "stderr", "content": "!"},
    ]
    assert translator.next_due() is None
    # another statement has its own interval
    assert translator.feed(_event("stream", 1, name="stdout", text="x"), now=10.06) != []
    # the final state goes out before the result, even inside the interval
    translator.feed(_event("stream", 1, name="stdout", text="y"), now=10.07)
    result = _event("result", 1, output=[{"type": "stdout", "content": "xy"}], isInvisible=False)
    stream, final = translator.feed(result, now=10.08)
    assert stream["output"] == [{"type": "stdout", "content": "xy"}]
    assert final["type"] == "result" and translator.next_due() is None


def test_translator_rebuilds_displays_and_clears():
    translator = PditTranslator(interval=0)
    translator.follow("e")
    html = {"type": "text/html", "content": "<b>1</b>", "displayId": "d", "data": {}}
    (shown,) = translator.feed(_event("display", output=html, update=False), now=0)
    assert shown["output"] == [{"type": "text/html", "content": "<b>1</b>"}]
    updated = {**html, "content": "<b>2</b>"}
    (update,) = translator.feed(
        _event("display", output=updated, update=True, displayId="d"), now=1
    )
    assert update["output"] == [{"type": "text/html", "content": "<b>2</b>"}]
    translator.feed(_event("clear", wait=True), now=2)
    (after,) = translator.feed(_event("stream", name="stdout", text="new"), now=3)
    assert after["output"] == [{"type": "stdout", "content": "new"}]


def test_translator_ignores_other_executions_and_unknown_events():
    translator = PditTranslator()
    translator.follow("mine")
    other = {"type": "expressions", "executionId": "theirs", "expressions": [], "seq": 3}
    assert translator.feed(other, now=0) == []
    assert translator.feed({"type": "kernel-status", "state": "idle", "seq": 4}, now=0) == []
    assert translator.feed({"type": "queued", "executionId": "mine", "seq": 5}, now=0) == []
    assert translator.feed({"type": "complete", "executionId": "mine", "seq": 6}, now=0) == [
        {"type": "complete"}
    ]
    assert translator.executions == set()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_a_refused_socket_url_does_not_put_the_token_in_the_log(jp_ws_fetch, jp_serverapp):
    token = jp_serverapp.identity_provider.token
    records = _Records()
    loggers = [logging.getLogger("tornado"), jp_serverapp.log]
    for logger in loggers:
        logger.addHandler(records)
    try:
        with pytest.raises(HTTPClientError) as refused:
            await jp_ws_fetch(
                "ws",
                "session",
                params={"sessionId": "not a valid id!", "token": token},
                headers={"Authorization": ""},
            )
        assert refused.value.code == 400
    finally:
        for logger in loggers:
            logger.removeHandler(records)
    logged = "\n".join(records.lines)
    assert "/ws/session" in logged  # the refusal is logged (Tornado's warning, the access log)
    assert token not in logged
    assert "token=[secret]" in logged
