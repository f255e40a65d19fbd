"""Run Changed in the pdit view (Chromium): kept outputs stay, the edited statement's is
stale until its new one comes; run on save; stale marks after a page reload and after
Reload from Disk follow the text rule (an output is current while its statement's text
is the document's text at its lines)."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from .conftest import Lab
from .test_lab_layout import VIEW, go_to_line, run_all
from .test_pdit_lab import open_pdit, statement

SHOTS = Path(os.environ.get("PDIT_SHOTS", "/tmp/pdit-lab-changed"))

SCRIPT = """\
import random
r = random.random()
r
y = 2
print("slow", y)
"""


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def flags(page: Any) -> dict[int, tuple[str, str, str]]:
    """Per first line: (state, stale, kept) of every statement shown."""
    rows = page.evaluate(
        """() => [...document.querySelectorAll(
            '.jp-pdit-View:not(.lm-mod-hidden) .jp-pdit-outputs > .jp-pdit-statement')]
            .map(n => [Number(n.dataset.pditLineStart), n.dataset.pditState,
                       n.dataset.pditStale, n.dataset.pditKept])"""
    )
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def wait_for_outputs(page: Any, count: int) -> None:
    """Wait (bounded by Playwright's timeout) until the view shows ``count`` statements' outputs."""
    page.wait_for_function(
        """count => document.querySelectorAll(
            '.jp-pdit-View .jp-pdit-outputs > .jp-pdit-statement').length === count""",
        arg=count,
    )


def mark_outputs(page: Any) -> None:
    """Tag every output element now shown, to tell later which ones were replaced."""
    page.evaluate(
        """() => document.querySelectorAll('.jp-pdit-View .jp-pdit-item')
            .forEach(n => { n.pditMark = n.closest('.jp-pdit-statement').dataset.pditLineStart; })"""
    )


def marked_lines(page: Any) -> list[int]:
    """First lines of the statements whose output elements are still the tagged ones."""
    lines = page.evaluate(
        """() => [...document.querySelectorAll('.jp-pdit-View .jp-pdit-item')]
            .filter(n => n.pditMark !== undefined).map(n => Number(n.pditMark))"""
    )
    return sorted(set(lines))


def test_run_changed_keeps_untouched_outputs_and_reruns_the_edited_one(
    lab: Lab, context: Any
) -> None:
    lab.write("changed.py", SCRIPT)
    page = context.new_page()
    open_pdit(page, lab, "changed.py")
    run_all(page, 5)
    value = statement(page, 3).inner_text()
    mark_outputs(page)
    assert marked_lines(page) == [3, 5]

    # the statement at line 5 now sleeps first: it is held while the test looks
    go_to_line(page, 5, end=True)
    page.keyboard.press("ArrowLeft")
    page.keyboard.type(" * 10")
    go_to_line(page, 5)
    page.keyboard.type("import time; time.sleep(3); ")
    statement(page, 5).and_(page.locator('[data-pdit-stale="true"]')).wait_for()
    page.keyboard.press("Control+Alt+Enter")  # pdit:run-changed
    # as soon as the run starts: the statement that runs shows its old output, stale;
    # the kept ones are current and marked kept
    page.wait_for_function(
        """() => {
            const n = document.querySelector(
                '.jp-pdit-View .jp-pdit-outputs > .jp-pdit-statement[data-pdit-line-start="5"]');
            return n && n.dataset.pditExecutionId !== undefined
                && ['queued', 'running'].includes(n.dataset.pditState)
                && n.dataset.pditStale === 'true' && n.innerText.includes('slow 2');
        }""",
        timeout=10_000,
    )
    during = flags(page)
    shot(page, "run-changed-during")
    assert during[5][0] in ("queued", "running") and during[5][1] == "true", during
    for line in (1, 2, 3, 4):
        assert during[line] == ("done", "false", "true"), (line, during)
    assert float(statement(page, 3).evaluate("n => getComputedStyle(n).opacity")) == 1
    assert "kept" in statement(page, 3).locator(".jp-pdit-status").evaluate(
        "n => getComputedStyle(n, '::after').content"
    )
    # its new output replaces the old one when it comes
    statement(page, 5).locator("text=slow 20").wait_for(timeout=20_000)
    page.wait_for_function(
        """() => document.querySelector(
            '.jp-pdit-View .jp-pdit-statement[data-pdit-line-start="5"]')
            .dataset.pditState === 'done'"""
    )
    after = flags(page)
    shot(page, "run-changed-after")
    assert after == {
        1: ("done", "false", "true"),
        2: ("done", "false", "true"),
        3: ("done", "false", "true"),
        4: ("done", "false", "true"),
        5: ("done", "false", "false"),
    }, after
    # the kept value is the same one (not run again: random would differ), and its
    # element was not even rendered again; the edited statement's was replaced
    assert statement(page, 3).inner_text() == value
    assert marked_lines(page) == [3]
    assert "slow 2\n" not in statement(page, 5).inner_text() + "\n"

    # the command is in the Run menu beside Run All, with its shortcut
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    items = page.locator(".lm-Menu-content > .lm-Menu-item").all()
    commands = [item.get_attribute("data-command") for item in items]
    shot(page, "run-menu")
    assert "pdit:run-changed" in commands
    # right under JupyterLab's Run All group (Run All, Restart Kernel and Run All)
    start = commands.index("runmenu:run-all")
    assert commands[start : start + 4] == [
        "runmenu:run-all",
        "runmenu:restart-and-run-all",
        None,
        "pdit:run-changed",
    ], commands
    item = page.locator('.lm-Menu-item[data-command="pdit:run-changed"]')
    assert "Run Changed" in item.inner_text()
    assert "Ctrl+Alt+Enter" in item.inner_text()
    page.keyboard.press("Escape")
    # and in the view's toolbar
    button = '.jp-pdit-DocumentWidget:visible [data-command="pdit:run-changed"]'
    assert page.locator(button).count() == 1


def reopen(page: Any, lab: Lab, path: str, workspace: str) -> None:
    """Reload the page and open ``path`` again, its text loaded."""
    page.reload()
    open_pdit(page, lab, path, workspace)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.context?.isReady === true")


def put_settings(lab: Lab, values: dict[str, Any]) -> None:
    """Write the extension's user settings through JupyterLab's settings API."""
    request = urllib.request.Request(
        f"{lab.url}lab/api/settings/pdit-gateway:plugin?token={lab.token}",
        data=json.dumps({"raw": json.dumps(values)}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


def test_run_on_save_and_stale_marks_after_a_page_reload(lab: Lab, context: Any) -> None:
    lab.write("onsave.py", "a = 1\na\nb = 2\nb\n")
    put_settings(lab, {"runChangedOnSave": True})
    try:
        page = context.new_page()
        workspace = "run-on-save"
        open_pdit(page, lab, "onsave.py", workspace)
        run_all(page, 4)
        assert statement(page, 4).inner_text().strip().endswith("2")
        # an edit, then Ctrl+S: the save runs what changed
        go_to_line(page, 3, end=True)
        page.keyboard.type("0")  # b = 20
        page.keyboard.press("Control+s")
        statement(page, 4).locator("text=20").wait_for(timeout=20_000)
        page.wait_for_function(
            """() => document.querySelector(
                '.jp-pdit-View .jp-pdit-statement[data-pdit-line-start="1"]')
                ?.dataset.pditKept === 'true'"""
        )
        assert flags(page)[1] == ("done", "false", "true")
        assert (lab.root / "onsave.py").read_text() == "a = 1\na\nb = 20\nb\n"
    finally:
        put_settings(lab, {})

    # edited and saved, not run (the setting is off now): after a reload the replayed
    # output of the edited statement is stale, the others are not
    reopen(page, lab, "onsave.py", workspace)
    go_to_line(page, 2, end=True)
    page.keyboard.type(" + 5")
    page.keyboard.press("Control+s")
    statement(page, 2).and_(page.locator('[data-pdit-stale="true"]')).wait_for()
    reopen(page, lab, "onsave.py", workspace)
    page.locator(f"{VIEW} .jp-pdit-outputs > .jp-pdit-statement").nth(3).wait_for()
    wait_for_outputs(page, 4)
    shot(page, "reload-after-edit")
    states = flags(page)
    assert {line: stale for line, (_, stale, _) in states.items()} == {
        1: "false",
        2: "true",
        3: "false",
        4: "false",
    }, states

    # a line inserted above everything, saved, and a reload: each replayed output finds
    # its statement's text one line down (the edited one moves as the one before it)
    go_to_line(page, 1)
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowUp")
    page.keyboard.type("# a note")
    page.keyboard.press("Control+s")
    page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").wait_for(state="detached")
    reopen(page, lab, "onsave.py", workspace)
    page.wait_for_function(
        """() => [...document.querySelectorAll(
            '.jp-pdit-View .jp-pdit-outputs > .jp-pdit-statement')]
            .map(n => n.dataset.pditLineStart).join() === '2,3,4,5'"""
    )
    shot(page, "reload-after-insert")
    states = flags(page)
    assert {line: stale for line, (_, stale, _) in states.items()} == {
        2: "false",
        3: "true",
        4: "false",
        5: "false",
    }, states


def test_reload_from_disk_follows_the_text(lab: Lab, context: Any) -> None:
    original = "x = 1\nx\ny = 2\ny\nz = 3\nz\n"
    lab.write("disk.py", original)
    page = context.new_page()
    open_pdit(page, lab, "disk.py")
    run_all(page, 6)
    # an edit in the view (not saved): line 2's output is stale
    go_to_line(page, 2, end=True)
    page.keyboard.type(" * 7")
    statement(page, 2).and_(page.locator('[data-pdit-stale="true"]')).wait_for()
    # meanwhile the file changes on disk: line 4 edited, the last two lines gone
    lab.write("disk.py", "x = 1\nx\ny = 2\ny + 100\n")
    page.evaluate("() => { void window.jupyterapp.commands.execute('docmanager:reload'); }")
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="Reload").click()
    dialog.wait_for(state="detached")
    wait_for_outputs(page, 4)
    shot(page, "reload-from-disk")
    states = flags(page)
    # line 2 has its text again (current), line 4 changed (stale), lines 5-6 went
    assert {line: stale for line, (_, stale, _) in states.items()} == {
        1: "false",
        2: "false",
        3: "false",
        4: "true",
    }, states
    assert statement(page, 2).inner_text().strip().endswith("1")
