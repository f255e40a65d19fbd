"""Script semantics over the v1 channel beyond what the differential suite compares:
``input()`` as events, ``sys.exit``, top-level await, figures as results, the script's identity
and folder, reruns after a sibling module changed, and notebooks keeping Jupyter's rules."""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import struct
import sys

import pytest
from tornado.httpclient import HTTPClientError

from pdit_gateway.pytest_plugin import results, texts


def images(result):
    return [item for item in result["output"] if item["type"] == "image/png"]


def png_size(item):
    return struct.unpack(">II", base64.b64decode(item["content"])[16:24])


async def next_of(channel, kind, execution_id):
    events = await channel.until(
        lambda e: e["type"] == kind and e.get("executionId") == execution_id
    )
    return events[-1]


# -- input() ---------------------------------------------------------------------------------


async def test_input_becomes_a_request_answered_by_the_client(pdit_channel, jp_root_dir):
    channel = await pdit_channel()
    await channel.welcome()
    script = "name = input('Name: ')\nsecret = __import__('getpass').getpass('Pin: ')\nname, secret"
    eid = await channel.execute(script, scriptName=str(jp_root_dir / "ask.py"))
    request = await next_of(channel, "input-request", eid)
    assert (request["prompt"], request["password"], request["index"]) == ("Name: ", False, 0)
    assert request["lineStart"] == 1
    await channel.send(type="input-reply", executionId=eid, value="Ada")
    request = await next_of(channel, "input-request", eid)
    assert (request["prompt"], request["password"], request["index"]) == ("Pin: ", True, 1)
    await channel.send(type="input-reply", value="1234")  # the execution id is optional
    complete = await next_of(channel, "complete", eid)
    assert complete["status"] == "ok"
    last = results(channel.received)[-1]
    assert texts(last) == "('Ada', '1234')"


async def test_the_first_input_of_a_new_kernel_reaches_the_client(pdit_channel):
    # ipykernel's stdin socket dropped an input_request for a client it did not know yet:
    # about one brand-new session in ten waited forever in its first input()
    async def ask(index):
        channel = await pdit_channel(f"fresh-{index}")
        await channel.welcome()
        eid = await channel.execute("answer = input('ready? ')\nanswer")
        await next_of(channel, "input-request", eid)
        await channel.send(type="input-reply", executionId=eid, value=str(index))
        await next_of(channel, "complete", eid)
        value = texts(results(channel.received)[-1])
        channel.close()
        return value

    answers = await asyncio.gather(*(ask(i) for i in range(10)))
    assert answers == [repr(str(i)) for i in range(10)]


async def test_an_input_reply_with_nothing_waiting_is_an_error(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.send(type="input-reply", value="stray")
    error = await channel.until(lambda e: e["type"] == "error")
    assert error[-1]["code"] == "no-input-pending"
    events = await channel.run("1 + 1")  # the connection and the session go on
    assert texts(results(events)[-1]) == "2"


async def test_cancel_while_waiting_for_input_keeps_the_kernel(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    await channel.run("kept = 'namespace'")
    eid = await channel.execute("answer = input('? ')\nafter = 1")
    await next_of(channel, "input-request", eid)
    await channel.send(type="cancel", executionId=eid)
    complete = await next_of(channel, "complete", eid)
    assert complete["status"] == "cancelled"
    received = [e for e in channel.received if e.get("executionId") == eid]
    assert not [e for e in channel.received if e.get("state") == "restarting"]
    assert [e["index"] for e in received if e["type"] == "result"] == [0]
    events = await channel.run("kept")
    assert texts(results(events)[-1]) == "'namespace'"


async def test_the_timeout_counts_while_waiting_for_input(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("input('never answered: ')", timeout=1)
    assert [e["type"] for e in events if e["type"] == "input-request"] == ["input-request"]
    assert events[-1]["status"] == "timeout"


async def test_cell_mode_reads_no_input_as_nbclient(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("input('x')", mode="cell")
    assert not [e for e in events if e["type"] == "input-request"]
    error = results(events)[-1]["output"][-1]
    assert error["ename"] == "StdinNotImplementedError"


# -- sys.exit --------------------------------------------------------------------------------


async def test_sys_exit_ends_the_run_with_its_status_and_keeps_the_namespace(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("import sys\nbefore = 41\nsys.exit(3)\nafter = 1")
    complete = events[-1]
    assert (complete["status"], complete["exitCode"]) == ("exited", 3)
    exit_result = results(events)[-1]
    assert (exit_result["status"], exit_result["exitCode"], exit_result["output"]) == (
        "exited",
        3,
        [],
    )
    cancelled = [e for e in events if e["type"] == "cancelled"]
    assert cancelled[0]["reason"] == "exit"
    assert [x["lineStart"] for x in cancelled[0]["expressions"]] == [4]
    state = await channel.run("before + 1, 'after' in dir()")
    assert texts(results(state)[-1]) == "(42, False)"


async def test_exit_zero_counts_as_success(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("exit()")
    assert (events[-1]["status"], events[-1]["exitCode"]) == ("exited", 0)


async def test_the_execution_snapshot_keeps_the_exit_code(pdit_channel, jp_fetch):
    channel = await pdit_channel("exits")
    await channel.welcome()
    eid = await channel.execute("raise SystemExit(9)")
    await next_of(channel, "complete", eid)
    response = await jp_fetch("pdit", "api", "sessions", "exits", "executions", eid)
    snapshot = json.loads(response.body)
    assert (snapshot["status"], snapshot["exitCode"]) == ("exited", 9)


# -- top-level await, figures, streams ------------------------------------------------------


async def test_top_level_await_works(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run(
        "import asyncio\nawait asyncio.sleep(0.01)\nawait asyncio.sleep(0, 'value')"
    )
    assert events[-1]["status"] == "ok"
    assert texts(results(events)[-1]) == "'value'"


async def test_a_figure_as_a_bare_expression_or_displayed_shows_once(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    script = (
        "import matplotlib.pyplot as plt\n"
        "from IPython.display import display\n"
        "fig, ax = plt.subplots(figsize=(3, 2))\n"
        "ax.plot([1, 2])\n"
        "fig\n"
        "display(fig)\n"
        "plt.show()\n"
    )
    events = await channel.run(script)
    shown = [(r["index"], png_size(i)) for r in results(events) for i in images(r)]
    # the bare expression and display() show it; plt.show() does not show it a third time
    assert shown == [(4, (300, 200)), (5, (300, 200))]


async def test_notebook_cells_keep_jupyters_inline_figures(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.title('t')", mode="cell"
    )
    assert len(images(results(events)[-1])) == 1  # drawn at the end of the cell, as Jupyter


async def test_stream_events_keep_carriage_returns(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("import sys\nsys.stdout.write('a\\rb\\n'); sys.stdout.flush()")
    text = "".join(e["text"] for e in events if e["type"] == "stream")
    assert text == "a\rb\n"


# -- identity and folders --------------------------------------------------------------------


async def test_a_relative_script_name_is_a_path_under_the_root(pdit_channel, jp_root_dir):
    (jp_root_dir / "project").mkdir()
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run(
        "import os, sys\n__file__, sys.argv, sys.path[0], os.getcwd()",
        scriptName="project/analysis.py",
    )
    path = str(jp_root_dir / "project" / "analysis.py")
    assert ast.literal_eval(texts(results(events)[-1])) == (
        path,
        [path],
        str(jp_root_dir / "project"),
        str(jp_root_dir),
    )


async def test_a_session_with_a_path_runs_in_its_folder(jp_fetch, pdit_channel, jp_root_dir):
    (jp_root_dir / "reports").mkdir()
    (jp_root_dir / "reports" / "sales.csv").write_text("north,3\n")
    await jp_fetch(
        "pdit",
        "api",
        "sessions",
        method="POST",
        body=json.dumps({"sessionId": "doc", "path": "reports/monthly.py"}),
    )
    channel = await pdit_channel("doc")
    await channel.welcome()
    events = await channel.run(
        "import os\nopen('sales.csv').read(), os.getcwd()", scriptName="reports/monthly.py"
    )
    value = ast.literal_eval(texts(results(events)[-1]))
    assert value == ("north,3\n", str(jp_root_dir / "reports"))


async def test_a_sibling_module_edited_on_disk_is_imported_afresh(pdit_channel, jp_root_dir):
    helper = jp_root_dir / "helper_mod.py"
    helper.write_text("VALUE = 1\n")
    script = (
        "import helper_mod\n"
        "helper_mod.STATE = 'kept'\n"
        "import helper_mod\n"
        "helper_mod.VALUE, getattr(helper_mod, 'STATE', 'fresh')\n"
    )
    name = str(jp_root_dir / "main.py")
    channel = await pdit_channel()
    await channel.welcome()

    async def last(**options):
        events = await channel.run(script, scriptName=name, **options)
        return texts(results(events)[-1])

    assert await last() == "(1, 'kept')"
    # a run of selected lines keeps a module that did not change, with its state
    assert await last(lineRange={"from": 3, "to": 4}) == "(1, 'kept')"
    helper.write_text("VALUE = 2\n")
    assert await last(lineRange={"from": 3, "to": 4}) == "(2, 'fresh')"
    # a run from the top imports every module of the folder afresh, as a new python does
    assert await last() == "(2, 'kept')"
    assert await last(lineRange={"from": 4, "to": 4}) == "(2, 'kept')"


async def test_a_function_of_an_earlier_run_is_traced_to_its_line(pdit_channel, jp_root_dir):
    channel = await pdit_channel()
    await channel.welcome()
    name = str(jp_root_dir / "lib.py")
    await channel.run("x = 1\n\n\ndef f():\n    return 1 / 0\n", scriptName=name)
    events = await channel.run("f()", scriptName=str(jp_root_dir / "use.py"))
    error = results(events)[-1]["output"][-1]
    assert error["traceback"][-4:] == [
        f'  File "{name}", line 5, in f',
        "    return 1 / 0",
        "           ~~^~~",
        "ZeroDivisionError: division by zero",
    ]


async def test_a_script_without_a_name_is_traced_as_script(pdit_channel):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("a = 1\nb = a / 0")
    error = results(events)[-1]["output"][-1]
    assert error["content"] == (
        "Traceback (most recent call last):\n"
        '  File "<script>", line 2, in <module>\n'
        "    b = a / 0\n"
        "        ~~^~~\n"
        "ZeroDivisionError: division by zero"
    )


@pytest.mark.parametrize("mode", ["cell"])
async def test_notebook_tracebacks_stay_ipythons(pdit_channel, mode):
    channel = await pdit_channel()
    await channel.welcome()
    events = await channel.run("1 / 0", mode=mode)
    error = results(events)[-1]["output"][-1]
    assert "Cell In[" in error["content"]


def test_the_kernel_setup_defines_no_user_names():
    from pdit_gateway.scripting import setup_code

    namespace: dict[str, object] = {"get_ipython": lambda: None}
    code = setup_code().replace("    module.install(get_ipython())\n", "")
    try:
        exec(compile(code, "<setup>", "exec"), namespace)
        assert set(namespace) == {"get_ipython", "__builtins__"}
        assert "_pdit_gateway_kernel" in sys.modules
    finally:
        sys.modules.pop("_pdit_gateway_kernel", None)


async def test_a_kernel_restarted_by_another_client_gets_the_setup_again(
    pdit_channel, jp_fetch, jp_root_dir
):
    channel = await pdit_channel("restarted")
    await channel.welcome()
    events = await channel.run("import os\nos.getpid()")
    kernel_id = json.loads((await jp_fetch("pdit", "api", "sessions", "restarted")).body)["kernel"][
        "id"
    ]
    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="{}")
    # the gateway's iopub subscription reconnects to the new process on its own: output sent
    # before that is lost (a restart behind the gateway's back), so wait until it flows again
    for _ in range(20):
        probe = await channel.run("6 * 7")
        if texts(results(probe)[-1]) == "42":
            break
    else:
        raise AssertionError("no output from the restarted kernel")
    name = str(jp_root_dir / "after.py")
    events = await channel.run("x = 1\nx / 0", scriptName=name)
    error = results(events)[-1]["output"][-1]
    assert f'File "{name}", line 2, in <module>' in error["content"]


async def test_a_session_path_outside_the_root_is_refused(jp_fetch, pdit_channel):
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(
            "pdit",
            "api",
            "sessions",
            method="POST",
            body=json.dumps({"sessionId": "outside", "path": "../elsewhere/x.py"}),
        )
    assert refused.value.code == 400
    channel = await pdit_channel("outside", params={"path": "../../etc/x.py"})
    with pytest.raises(ConnectionError, match="1008"):
        await channel.recv()
