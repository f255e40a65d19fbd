"""Scripts as notebooks and pages, reading notebooks, and the run command's new options."""

from __future__ import annotations

import base64
import json
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from pdit_gateway import run
from pdit_gateway.export import notebook_blocks, render_html, render_output
from pdit_gateway.notebook import (
    ScriptRecorder,
    is_percent_script,
    read_notebook,
    read_percent_script,
)
from pdit_gateway.splitter import split_script

SCRIPT = '''"""# Title"""
# about x
x = 1

x
f"x is {x}"
# before a string
"""more text"""
%%bash
echo hi
'''


def recorder_for(source: str) -> ScriptRecorder:
    return ScriptRecorder(source, split_script(source))


def test_statements_become_cells():
    recorder = recorder_for("# header comment\n" + SCRIPT.replace("%%bash\necho hi\n", "y = 2\n"))
    cells = recorder.nb.cells
    assert [c.cell_type for c in cells] == ["markdown", "code", "code", "code", "markdown", "code"]
    assert cells[0].source == "# Title"
    assert cells[1].source == "# header comment\n# about x\nx = 1"  # comments ride along
    assert cells[2].source == "x"
    # a lone f-string is the code the kernel ran for it (it displays as markdown)
    assert cells[3].source.endswith('.Markdown((f"x is {x}").strip())\n# before a string')
    assert cells[4].source == "more text"
    nbformat.validate(recorder.nb)
    kinds = [(b.kind, b.first_line, len(b.lines)) for b in recorder.blocks]
    assert kinds == [
        ("text", 1, 1),
        ("markdown", 2, 1),
        ("text", 3, 1),
        ("code", 4, 1),
        ("text", 5, 1),
        ("code", 6, 1),
        ("code", 7, 1),
        ("text", 8, 1),
        ("markdown", 9, 1),
        ("code", 10, 1),
    ]


def test_a_line_range_keeps_out_the_code_it_leaves_out():
    source = "a = 1\n# about b\nb = 2\n# about c\nc = 3\n"
    recorder = ScriptRecorder(source, split_script(source, (3, 3)))
    [cell] = recorder.nb.cells
    assert cell.source == "# about b\nb = 2"


def test_a_cell_magic_is_one_cell():
    recorder = recorder_for("\n%%bash\necho hi\n# in the body\n\n")
    [cell] = recorder.nb.cells
    assert cell.source == "%%bash\necho hi\n# in the body"


def test_a_syntax_error_is_one_cell_of_the_whole_script():
    source = "x = 1\ny = (\n"
    recorder = recorder_for(source)
    [cell] = recorder.nb.cells
    assert cell.source == source.rstrip("\n")


def _events(index: int, line: int, output: list[dict[str, Any]], count: int | None) -> list[Any]:
    fields = {"executionId": "e", "index": index, "lineStart": line, "lineEnd": line}
    return [
        {"type": "running", "ts": "2024-01-01T00:00:00.000Z", **fields},
        {"type": "result", "output": output, "executionCount": count, "status": "ok", **fields},
    ]


def test_events_fill_the_cells_and_counts():
    source = '"""md"""\nprint(1)\n2\n'
    recorder = recorder_for(source)
    recorder.feed(
        {"type": "expressions", "expressions": [s.to_wire() for s in split_script(source)]}
    )
    recorder.feed({"type": "stream", "index": 1, "name": "stdout", "text": "1\n"})  # not running
    for event in [
        *_events(0, 1, [{"type": "text/markdown", "content": "md"}], None),
        *_events(1, 2, [{"type": "stdout", "content": "1\n", "outputType": "stream"}], 7),
        *_events(2, 3, [{"type": "text/plain", "content": "2", "outputType": "execute_result"}], 8),
    ]:
        if event["type"] == "result" and event["index"] == 1:
            recorder.feed({**event, "type": "stream", "name": "stdout", "text": "1\n"})
        recorder.feed(event)
    md, printed, value = recorder.nb.cells
    assert md.cell_type == "markdown"
    assert [dict(o) for o in printed.outputs] == [
        {"output_type": "stream", "name": "stdout", "text": "1\n"}
    ]
    assert printed.execution_count == 1
    assert value.execution_count == 2
    assert value.outputs[0].output_type == "execute_result"
    assert value.outputs[0].execution_count == 8  # the kernel's count, as nbclient keeps it


def test_different_statements_on_the_server_rebuild_the_cells():
    recorder = recorder_for("a = 1\nb = 2\n")
    recorder.feed(
        {"type": "expressions", "expressions": [{"index": 0, "lineStart": 1, "lineEnd": 2}]}
    )
    [cell] = recorder.nb.cells
    assert cell.source == "a = 1\nb = 2"


def test_read_notebook_errors():
    with pytest.raises(ValueError, match="not JSON"):
        read_notebook("{")
    with pytest.raises(ValueError, match="not a valid notebook"):
        read_notebook('{"nbformat": 4}')
    nb = read_notebook(nbformat.writes(new_notebook(cells=[new_code_cell("1")])))
    assert nb.cells[0].source == "1"


def test_percent_scripts():
    text = "# %% [markdown]\n# Title\n\n# %%\nx = 1\nx\n"
    assert is_percent_script(text)
    assert not is_percent_script("x = 1\n# not a cell marker\n")
    nb = read_percent_script(text)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code"]
    assert nb.cells[1].source == "x = 1\nx"
    nbformat.validate(nb)


# -- the page ---------------------------------------------------------------------------------


def test_render_output_kinds():
    png = base64.b64encode(b"\x89PNG....").decode()
    image = new_output(
        "display_data",
        data={"image/png": png, "text/plain": "<Image>"},
        metadata={"image/png": {"width": 40}},
    )
    assert render_output(image) == (
        f'<img src="data:image/png;base64,{png}" width="40" alt="image/png output">'
    )
    svg = new_output("display_data", data={"image/svg+xml": "<svg/>", "text/plain": "s"})
    encoded = base64.b64encode(b"<svg/>").decode()
    assert f'src="data:image/svg+xml;base64,{encoded}"' in render_output(svg)
    html = new_output("execute_result", data={"text/html": "<b>b</b>", "text/plain": "b"})
    assert render_output(html) == '<div class="html-output"><b>b</b></div>'
    md = new_output("display_data", data={"text/markdown": "*m*", "text/plain": "m"})
    assert render_output(md) == '<div class="markdown"><p><em>m</em></p>\n</div>'
    data = new_output("display_data", data={"application/json": {"a": 1}})
    assert render_output(data) == "<pre>{\n  &quot;a&quot;: 1\n}</pre>"
    err = new_output("error", ename="E", evalue="v", traceback=["\x1b[31mE\x1b[0m: <v>"])
    assert render_output(err) == '<pre class="error">E: &lt;v&gt;</pre>'
    out = new_output("stream", name="stderr", text="a < b")
    assert render_output(out) == '<pre class="stderr">a &lt; b</pre>'


def test_page_of_a_notebook():
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Heading"),
            new_code_cell(
                "print('hi')\n1",
                execution_count=1,
                outputs=[
                    new_output("stream", name="stdout", text="h"),
                    new_output("stream", name="stdout", text="i\n"),
                    new_output("execute_result", data={"text/plain": "1"}, execution_count=1),
                ],
            ),
            new_code_cell("never", execution_count=None),
        ]
    )
    page = render_html("nb.ipynb", nb, notebook_blocks(nb), summary="ok", wide_markdown=True)
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in page
    assert "<script" not in page
    assert '<section class="row wide"><div class="markdown"><h1>Heading</h1>' in page
    assert '<pre class="stdout">hi\n</pre><pre>1</pre>' in page  # streams joined
    assert '<span class="ln">2</span>' in page
    assert "not run" in page


# -- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({"s.py": "1\n"}, ["s.py", "--output", "out.txt"], "expected a .ipynb or .html file"),
        ({"n.ipynb": "{"}, ["n.ipynb"], "not a notebook"),
        ({"n.ipynb": None}, ["n.ipynb", "--lines", "1:2"], "a notebook runs whole cells"),
        ({"s.py": "1\n"}, ["s.py", "--interrupt-on-timeout"], "applies to notebook cells"),
        ({"p.py": "# %%\n1\n"}, ["p.py", "--interrupt-on-timeout"], "applies to notebook cells"),
    ],
)
def test_usage_errors(tmp_path, monkeypatch, capsys, files, args, message):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        content = text if text is not None else json.dumps(nbformat.v4.new_notebook())
        (tmp_path / name).write_text(content, encoding="utf-8")
    assert run.main(args) == run.EXIT_USAGE
    assert message in capsys.readouterr().err


def test_the_html_page_shows_progress_bars_as_a_terminal_does():
    output = new_output(
        "stream", name="stdout", text="loading 10%\rloading 50%\rloading 100%\ndone\n"
    )
    assert render_output(output) == '<pre class="stdout">loading 100%\ndone\n</pre>'
