"""What the JupyterLab view asks beside runs: completion, inspection, the jupyter_server
session of a document, Change Kernel, a `# %%` cell, the export of the last run."""

from __future__ import annotations

import asyncio
import json
import time

import ipykernel
import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from pdit_gateway.pytest_plugin import results, texts

WAIT = 30.0


def reply_to(request_id):
    return lambda e: (
        e.get("id") == request_id
        and e["type"]
        in (
            "complete-reply",
            "inspect-reply",
            "error",
        )
    )


async def ask(channel, **frame):
    await channel.send(**frame)
    events = await channel.until(reply_to(frame["id"]), WAIT)
    return events[-1]


async def test_complete_and_inspect_answer_from_the_kernel(pdit_channel):
    channel = await pdit_channel("intro-1")
    await channel.welcome()
    await channel.run("import os\nvalue_one = 1\n")
    reply = await ask(channel, type="complete", id=1, code="import o", cursorPos=8)
    assert reply["type"] == "complete-reply" and reply["status"] == "ok"
    assert "os" in reply["matches"]
    assert (reply["cursorStart"], reply["cursorEnd"]) == (7, 8)
    reply = await ask(channel, type="complete", id="b", code="os.pa")  # cursor: the end
    assert "os.path" in reply["matches"] or "path" in reply["matches"]
    reply = await ask(channel, type="complete", id=3, code="value_o")
    assert "value_one" in reply["matches"], reply
    reply = await ask(channel, type="inspect", id=4, code="print(", cursorPos=6)
    assert reply["type"] == "inspect-reply" and reply["found"] is True
    assert "Prints the values" in reply["data"]["text/plain"]
    reply = await ask(channel, type="inspect", id=5, code="no_such_name", detailLevel=1)
    assert reply["found"] is False


async def test_complete_while_a_run_executes_keeps_the_run_in_order(pdit_channel):
    channel = await pdit_channel("intro-2")
    await channel.welcome()
    await channel.run("import time\n")
    execution_id = await channel.execute("time.sleep(3)\nx = 41\nx + 1\n")
    await channel.until(lambda e: e["type"] == "running" and e.get("index") == 0, WAIT)
    started = time.monotonic()
    await channel.send(type="complete", id="during", code="import o", cursorPos=8)
    events = await channel.until(reply_to("during"), WAIT)
    waited = time.monotonic() - started
    reply = events[-1]
    assert reply["type"] == "complete-reply" and "os" in reply["matches"]
    answered_before = [e["index"] for e in events if e["type"] == "result"]
    if ipykernel.version_info >= (7,):
        # the test kernels are this environment's ipykernel; 7 has subshells (JEP 91): the
        # answer does not wait for the sleeping statement
        assert not answered_before, "the reply waited for the run"
        assert waited < 2.5
    else:
        # no subshells: the shell channel answers once the sleeping statement has ended
        assert 0 in answered_before, "the reply came before the statement it waits behind"
        assert waited >= 2.5
    events += await channel.until(
        lambda e: e["type"] == "complete" and e.get("executionId") == execution_id, WAIT
    )
    mine = [e for e in events if e.get("executionId") == execution_id]
    assert [r["index"] for r in results(mine)] == [0, 1, 2]
    assert texts(results(mine)[2]) == "42"
    assert mine[-1]["status"] == "ok"
    # inspection during a run too
    await channel.execute("time.sleep(2)\n")
    await channel.until(lambda e: e["type"] == "running", WAIT)
    reply = await ask(channel, type="inspect", id="i", code="time.sleep")
    assert reply["found"] is True


async def test_introspection_errors_carry_the_request_id(pdit_channel):
    channel = await pdit_channel("intro-3")
    await channel.welcome()
    await channel.send(type="complete", id=7)
    error = await channel.until(lambda e: e["type"] == "error", WAIT)
    assert error[-1]["code"] == "missing-field"
    await channel.send(type="complete", id=8, code="abc", cursorPos=4)
    error = await channel.until(lambda e: e["type"] == "error", WAIT)
    assert error[-1]["code"] == "invalid-field"
    await channel.send(type="inspect", id=9, code="abc", detailLevel=2)
    error = await channel.until(lambda e: e["type"] == "error", WAIT)
    assert error[-1]["code"] == "invalid-field"


async def test_no_kernel_is_answered_with_kernel_unavailable(pdit_channel, jp_fetch):
    await jp_fetch(
        "pdit",
        "api",
        "sessions",
        method="POST",
        body=json.dumps({"sessionId": "intro-dead", "kernelName": "no-such-kernel"}),
    )
    channel = await pdit_channel("intro-dead")
    await channel.welcome()
    await channel.send(type="resume", lastSeq=0)
    await channel.until(lambda e: e.get("type") == "kernel-status" and e["state"] == "dead", WAIT)
    reply = await ask(channel, type="complete", id="x", code="import o")
    assert reply["type"] == "error" and reply["code"] == "kernel-unavailable"


async def test_a_kernel_without_subshells_answers_when_free_or_times_out(
    pdit_channel, jp_serverapp
):
    channel = await pdit_channel("intro-4")
    await channel.welcome()
    await channel.run("import time\n")
    session = jp_serverapp.web_app.settings["pdit_session_manager"].get("intro-4")
    # as a kernel without subshells: the request goes to the shell channel
    session.connection.kernel_info["supported_features"] = []
    jp_serverapp.web_app.settings["pdit_introspector"].introspect_timeout = 1.0
    execution_id = await channel.execute("time.sleep(3)\n")
    await channel.until(lambda e: e["type"] == "running", WAIT)
    reply = await ask(channel, type="complete", id="late", code="import o")
    assert reply["type"] == "error" and reply["code"] == "introspection-timeout"
    await channel.until(
        lambda e: e["type"] == "complete" and e.get("executionId") == execution_id, WAIT
    )
    jp_serverapp.web_app.settings["pdit_introspector"].introspect_timeout = 10.0
    reply = await ask(channel, type="complete", id="free", code="import o")
    assert "os" in reply["matches"]


async def test_a_document_session_is_a_jupyter_server_session(pdit_channel, jp_fetch, jp_root_dir):
    (jp_root_dir / "proj").mkdir()
    (jp_root_dir / "proj" / "doc.py").write_text("1\n")
    channel = await pdit_channel("lab-doc", params={"path": "proj/doc.py"})
    await channel.welcome()
    await channel.send(type="resume", lastSeq=0)
    await channel.until(lambda e: e.get("type") == "kernel-status" and e["state"] == "idle")
    session = json.loads((await jp_fetch("pdit", "api", "sessions", "lab-doc")).body)
    kernel_id = session["kernel"]["id"]

    async def registered():
        for _ in range(200):
            models = json.loads((await jp_fetch("api", "sessions")).body)
            mine = [m for m in models if m["path"] == "proj/doc.py"]
            if mine and mine[0]["kernel"]["id"] == kernel_id:
                return mine[0]
            await asyncio.sleep(0.05)  # polling the REST API, bounded (10 s)
        raise AssertionError(f"no jupyter_server session for proj/doc.py: {models}")

    model = await registered()
    assert model["name"] == "doc.py" and model["type"] == "file"
    # the kernel runs in the document's folder
    events = await channel.run("import os\nos.getcwd()\n")
    assert texts(results(events)[1]).strip("'").endswith("proj")
    # a second connection does not register a second session
    other = await pdit_channel("lab-doc", params={"path": "proj/doc.py"})
    await other.welcome()
    models = json.loads((await jp_fetch("api", "sessions")).body)
    assert len([m for m in models if m["path"] == "proj/doc.py"]) == 1

    # Change Kernel: an unknown spec is refused, a known one restarts the session on it
    await channel.send(type="change-kernel", kernelName="no-such-spec")
    error = await channel.until(lambda e: e["type"] == "error", WAIT)
    assert error[-1]["code"] == "unknown-kernel-spec"
    await channel.run("marker = 1\n")
    await channel.send(type="change-kernel", kernelName="python3")
    await channel.until(lambda e: e.get("type") == "kernel-status" and e["state"] == "restarting")
    await channel.until(lambda e: e.get("type") == "kernel-status" and e["state"] == "idle")
    events = await channel.run("'marker' in dir()\n")
    assert texts(results(events)[0]) == "False"
    session = json.loads((await jp_fetch("pdit", "api", "sessions", "lab-doc")).body)
    assert session["kernel"]["name"] == "python3"
    kernel_id = session["kernel"]["id"]
    model = await registered()  # the jupyter_server session follows the new kernel
    assert model["kernel"]["id"] == kernel_id


async def test_a_cell_with_a_line_range_keeps_its_lines(pdit_channel):
    channel = await pdit_channel("cells")
    await channel.welcome()
    script = "# %%\na = 1\n\n# %%\nb = a + 1\nb * 10\n\n# %%\nc = 3\n"
    events = await channel.run(script, mode="cell", lineRange={"from": 4, "to": 7})
    (expression,) = next(e for e in events if e["type"] == "expressions")["expressions"]
    assert (expression["lineStart"], expression["lineEnd"]) == (4, 6)
    (result,) = results(events)
    assert result["status"] == "error"  # `a` was never defined: only that cell ran
    await channel.run(script, mode="cell", lineRange={"from": 1, "to": 3})
    events = await channel.run(script, mode="cell", lineRange={"from": 4, "to": 7})
    assert texts(results(events)[0]) == "20"


async def test_export_the_last_run_as_html_and_ipynb(pdit_channel, jp_fetch):
    channel = await pdit_channel("export-1")
    await channel.welcome()
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("pdit", "api", "sessions", "export-1", "export")
    assert refused.value.code == 404
    assert json.loads(refused.value.response.body)["code"] == "no-execution"
    await channel.run("print('zzold')\n", scriptName="other.py")
    await channel.run("x = 6 * 7\nprint('hello')\nx\n", scriptName="dir/ex.py")
    response = await jp_fetch("pdit", "api", "sessions", "export-1", "export")
    page = response.body.decode()
    assert response.headers["Content-Type"].startswith("text/html")
    assert "ex.html" in response.headers["Content-Disposition"]
    assert "hello" in page and "42" in page and "zzold" not in page
    response = await jp_fetch(
        "pdit",
        "api",
        "sessions",
        "export-1",
        "export",
        params={"format": "ipynb", "path": "other.py"},
    )
    nb = nbformat.reads(response.body.decode(), as_version=4)
    nbformat.validate(nb)
    assert [c.source for c in nb.cells] == ["print('zzold')"]
    assert nb.cells[0].outputs[0]["text"] == "zzold\n"
    response = await jp_fetch(
        "pdit", "api", "sessions", "export-1", "export", params={"format": "ipynb"}
    )
    nb = nbformat.reads(response.body.decode(), as_version=4)
    assert [c.source for c in nb.cells] == ["x = 6 * 7", "print('hello')", "x"]
    assert nb.cells[2].outputs[0]["data"]["text/plain"] == "42"
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("pdit", "api", "sessions", "export-1", "export", params={"format": "pdf"})
    assert refused.value.code == 400
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("pdit", "api", "sessions", "nobody", "export")
    assert refused.value.code == 404
