"""The pdit view in JupyterLab, driven in Chromium: run, interrupt, reload, two tabs."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from .conftest import REPO, Lab

DEMO = """\
x = 40 + 2
x
print("hello from pdit")
from IPython.display import HTML
HTML("<table class='pdit-test-table'><tr><th>a</th></tr><tr><td>1</td></tr></table>")
1 / 0
"""

SLEEPER = """\
import time
for i in range(600):
    print("tick", i, flush=True)
    time.sleep(0.1)
"""

SLOW = """\
print("early")
import time
for i in range(25):
    print("tick", i, flush=True)
    time.sleep(0.2)
"finished"
"""


def statement(page: Any, line: int) -> Any:
    """The output element of the statement that starts at ``line``."""
    return page.locator(f'.jp-pdit-View:visible .jp-pdit-statement[data-pdit-line-start="{line}"]')


def open_lab(page: Any, lab: Lab, workspace: str | None = None) -> None:
    """Open JupyterLab in a workspace of its own (a test's tabs do not restore another's)."""
    name = workspace or f"w{uuid.uuid4().hex[:8]}"
    page.goto(f"{lab.url}lab/workspaces/{name}?token={lab.token}")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-DirListing')")


def open_pdit(page: Any, lab: Lab, path: str, workspace: str | None = None) -> None:
    """Open ``path`` with the pdit view through the document manager."""
    open_lab(page, lab, workspace)
    page.evaluate(
        """async path => {
            await window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'pdit'});
            return null;
        }""",
        path,
    )
    wait_open(page)


def wait_open(page: Any) -> None:
    page.locator(".jp-pdit-View:visible .cm-content").wait_for()
    page.locator('.jp-pdit-toolbar-status:visible[data-pdit-connection-state="open"]').wait_for()


def click_command(page: Any, command: str) -> None:
    page.locator(f'.jp-pdit-DocumentWidget:visible [data-command="{command}"]').click()


def test_open_with_run_all_outputs_in_place(lab: Lab, context: Any) -> None:
    lab.write("demo.py", DEMO)
    page = context.new_page()
    open_lab(page, lab)
    # Open With → pdit, from the file browser's context menu.
    page.locator(".jp-DirListing-item", has_text="demo.py").click(button="right")
    page.locator(".lm-Menu-item", has_text="Open With").hover()
    page.locator(".lm-Menu-item", has_text="pdit").click()
    wait_open(page)

    page.locator(".jp-pdit-View:visible .cm-content").click()
    page.keyboard.press("Control+Shift+Enter")  # pdit:run-all

    error = statement(page, 6)
    error.locator("text=ZeroDivisionError").first.wait_for()
    assert error.get_attribute("data-pdit-state") == "error"
    value = statement(page, 2)
    assert value.get_attribute("data-pdit-state") == "done"
    assert value.locator('.jp-pdit-item[data-mime-type="text/plain"]').inner_text().strip() == "42"
    stdout = statement(page, 3)
    assert (
        "hello from pdit"
        in stdout.locator(
            '.jp-pdit-item[data-mime-type="application/vnd.jupyter.stdout"]'
        ).inner_text()
    )
    table = statement(page, 5).locator("table.pdit-test-table")
    assert table.locator("td").inner_text() == "1"
    # Every output element carries its lines.
    for item in page.locator(".jp-pdit-View:visible .jp-pdit-item").all():
        assert item.get_attribute("data-pdit-line-start") is not None
        assert item.get_attribute("data-pdit-line-end") is not None

    # Beside its first line: the output's top is the line's top (stacked ones may sit lower).
    lines = page.locator(".jp-pdit-View:visible .cm-line")
    for line in (1, 2, 3, 6):
        out_box = statement(page, line).bounding_box()
        line_box = lines.nth(line - 1).bounding_box()
        assert out_box["x"] > line_box["x"] + line_box["width"] - 1
        assert abs(out_box["y"] - line_box["y"]) <= 3 or out_box["y"] > line_box["y"], line

    # Narrow: each output moves below its statement, inside the editor.
    page.set_viewport_size({"width": 560, "height": 900})
    page.locator('.cm-content .jp-pdit-statement[data-pdit-line-start="2"]').wait_for()
    below = page.locator('.cm-content .jp-pdit-statement[data-pdit-line-start="2"]').bounding_box()
    assert below["y"] > lines.nth(1).bounding_box()["y"]


def test_interrupt_a_sleep_loop(lab: Lab, context: Any) -> None:
    lab.write("sleeper.py", SLEEPER)
    page = context.new_page()
    open_pdit(page, lab, "sleeper.py")
    click_command(page, "pdit:run-all")
    loop = statement(page, 2)
    loop.locator("text=tick 5").first.wait_for()
    assert loop.get_attribute("data-pdit-state") == "running"
    click_command(page, "pdit:interrupt")
    loop.locator("text=KeyboardInterrupt").first.wait_for()
    assert loop.get_attribute("data-pdit-state") == "error"
    page.locator('.jp-pdit-toolbar-status[data-pdit-kernel-state="idle"]').wait_for()


def test_cancel_and_restart_shortcuts(lab: Lab, context: Any) -> None:
    lab.write("restart.py", "x = 1\nx\n" + SLEEPER)
    page = context.new_page()
    open_pdit(page, lab, "restart.py")
    page.locator(".jp-pdit-View:visible .cm-content").click()
    page.keyboard.press("Control+Shift+Enter")
    loop = statement(page, 4)
    loop.locator("text=tick 2").first.wait_for()
    assert statement(page, 2).inner_text().strip().endswith("1")
    page.keyboard.press("Control+Alt+x")  # pdit:cancel: the running execution stops
    loop.locator("text=KeyboardInterrupt").first.wait_for()
    page.keyboard.press("Control+Alt+r")  # pdit:restart-kernel: the namespace is cleared
    page.locator(".jp-Dialog button", has_text="Restart").click()  # it asks first
    status = '.jp-pdit-toolbar-status:visible[data-pdit-kernel-state="{}"]'
    page.locator(status.format("restarting")).wait_for()  # a restart takes a second or two
    page.locator(status.format("idle")).wait_for()
    page.locator(".jp-pdit-View:visible .cm-line").nth(1).click()
    page.keyboard.press("Shift+Enter")
    statement(page, 2).locator("text=NameError").first.wait_for()


def test_reload_mid_run_shows_earlier_outputs_and_the_rest(lab: Lab, context: Any) -> None:
    lab.write("slow.py", SLOW)
    page = context.new_page()
    open_pdit(page, lab, "slow.py")
    click_command(page, "pdit:run-all")
    statement(page, 3).locator("text=tick 3").first.wait_for()
    page.reload()
    # JupyterLab restores the tab from its workspace; opening the file again reveals it (or
    # opens it if the workspace was not saved yet): either way a new page, a new connection.
    open_pdit(page, lab, "slow.py", workspace=page.url.split("/workspaces/")[1].split("?")[0])
    # The outputs so far are back at once …
    assert "early" in statement(page, 1).inner_text()
    statement(page, 3).locator("text=tick 3").first.wait_for()
    # … and the rest streams in.
    statement(page, 6).locator("text=finished").first.wait_for(timeout=60_000)
    text = statement(page, 3).inner_text()
    assert all(f"tick {i}\n" in text + "\n" for i in range(25))
    assert statement(page, 3).get_attribute("data-pdit-state") == "done"


def test_open_command_from_the_file_editor(lab: Lab, context: Any) -> None:
    lab.write("plain.py", "'opened'\n")
    page = context.new_page()
    open_lab(page, lab)
    page.evaluate(
        """async () => {
            await window.jupyterapp.commands.execute('docmanager:open', {path: 'plain.py'});
            await window.jupyterapp.commands.execute('pdit:open');
            return null;
        }"""
    )
    wait_open(page)
    click_command(page, "pdit:run-all")
    statement(page, 1).locator("text=opened").first.wait_for()


def test_two_tabs_see_the_same_run(lab: Lab, context: Any) -> None:
    lab.write("shared.py", 'import time\nprint("one")\ntime.sleep(1)\nprint("two")\n6 * 7\n')
    first = context.new_page()
    open_pdit(first, lab, "shared.py")
    second = context.new_page()
    open_pdit(second, lab, "shared.py", workspace="second")
    click_command(first, "pdit:run-all")
    for page in (first, second):
        statement(page, 5).locator("text=42").first.wait_for()
        assert "one" in statement(page, 2).inner_text()
        assert "two" in statement(page, 4).inner_text()


def test_run_current_statement_and_save(lab: Lab, context: Any) -> None:
    path = lab.write("edit.py", "a = 1\na + 1\n")
    page = context.new_page()
    open_pdit(page, lab, path)
    page.locator(".jp-pdit-View:visible .cm-line").nth(1).click()
    page.keyboard.press("Shift+Enter")  # pdit:run-current: only line 2 runs
    statement(page, 2).wait_for()
    statement(page, 2).locator("text=NameError").first.wait_for()
    assert statement(page, 1).count() == 0
    # Edit and save through the document model.
    page.locator(".jp-pdit-View:visible .cm-line").nth(1).click()
    page.keyboard.press("End")
    page.keyboard.type(" + 1")
    dirty = page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty", has_text=path)
    dirty.wait_for()  # the document model knows it changed
    page.keyboard.press("Control+s")
    dirty.wait_for(state="detached")
    assert Path(lab.root / path).read_text() == "a = 1\na + 1 + 1\n"


def test_screenshot(lab: Lab, context: Any, tmp_path: Path) -> None:
    """The view after a run of showcase.txt renders every kind of output; with
    PDIT_SCREENSHOT=1 its picture replaces docs/img/jupyterlab-pdit.png."""
    lab.write("showcase.py", (Path(__file__).parent / "showcase.txt").read_text())
    page = context.new_page()
    page.set_viewport_size({"width": 1400, "height": 980})
    open_pdit(page, lab, "showcase.py")
    page.locator(".jp-pdit-View:visible .cm-content").click()
    page.keyboard.press("Control+Shift+Enter")
    statement(page, 25).locator("text=ZeroDivisionError").first.wait_for(timeout=60_000)
    # images and HTML tables rendered by the real rendermime, before the picture is taken
    page.locator(".jp-pdit-View:visible .jp-RenderedImage img").first.wait_for()
    page.locator(".jp-pdit-View:visible .jp-RenderedHTMLCommon table").first.wait_for()
    page.wait_for_timeout(500)  # let the layout settle for the picture (not synchronisation)
    picture = page.screenshot()
    assert picture[:8] == b"\x89PNG\r\n\x1a\n" and len(picture) > 20_000
    if os.environ.get("PDIT_SCREENSHOT"):
        path = REPO / "docs" / "img" / "jupyterlab-pdit.png"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(picture)


SCRIPT_IN_A_FOLDER = """\
import os
import sys
print(__file__, os.getcwd(), sys.argv == [__file__])
print(open("data.txt").read().strip())
for i in range(5):
    print(f"\\rprogress {25 * i}%", end="", flush=True)
print()
name = input("Your name: ")
print("hello", name)
sys.exit(3)
print("not reached")
"""


def test_a_script_runs_in_its_folder_reads_input_and_exits(lab: Lab, context: Any) -> None:
    (lab.root / "project").mkdir(exist_ok=True)
    lab.write("project/data.txt", "north,3\n")
    lab.write("project/analysis.py", SCRIPT_IN_A_FOLDER)
    page = context.new_page()
    open_pdit(page, lab, "project/analysis.py")
    page.locator(".jp-pdit-View:visible .cm-content").click()
    page.keyboard.press("Control+Shift+Enter")
    stdout = '.jp-pdit-item[data-mime-type="application/vnd.jupyter.stdout"]'
    # the kernel is in the document's folder and the script knows its own path
    identity = statement(page, 3).locator(stdout)
    identity.wait_for()
    folder = lab.root / "project"
    assert identity.inner_text().strip() == f"{folder / 'analysis.py'} {folder} True"
    assert statement(page, 4).locator(stdout).inner_text().strip() == "north,3"
    # a progress bar redraws in place, as in a terminal
    progress = statement(page, 5).locator(stdout)
    progress.wait_for()
    assert progress.inner_text().strip() == "progress 100%"
    # input(): a box under the line, answered with Enter
    box = statement(page, 8).locator(".jp-pdit-input-box")
    box.wait_for()
    assert "Your name:" in statement(page, 8).locator(".jp-pdit-input-prompt").inner_text()
    box.fill("Ada")
    box.press("Enter")
    greeting = statement(page, 9).locator(stdout)
    greeting.wait_for()
    assert greeting.inner_text().strip() == "hello Ada"
    assert statement(page, 8).locator(".jp-pdit-input-box").count() == 0
    # the prompt and the answer stay, as a terminal shows them
    answered = statement(page, 8).locator(".jp-pdit-input-answers")
    assert answered.inner_text() == "Your name: Ada"
    # sys.exit(3) ends the run there, as python would
    exited = statement(page, 10)
    exited.locator("text=exit 3").wait_for()
    statement(page, 11).and_(page.locator('[data-pdit-state="cancelled"]')).wait_for()
