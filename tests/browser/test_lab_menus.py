"""The pdit view with JupyterLab's completer, tooltip, main menus, keys, Running panel, export."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .conftest import REPO, Lab
from .test_pdit_lab import open_pdit, statement

SHOTS = Path(os.environ.get("PDIT_SHOTS", "/tmp/pdit-lab-menus"))


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def type_at_end(page: Any, text: str) -> None:
    page.locator(".jp-pdit-View:visible .cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)


def wait_idle(page: Any) -> None:
    page.locator('.jp-pdit-toolbar-status:visible[data-pdit-kernel-state="idle"]').wait_for()


def outputs_html(page: Any) -> str:
    """The output column of the visible view, for a failure's message."""
    return str(
        page.evaluate(
            "() => document.querySelector('.jp-pdit-View:not(.lm-mod-hidden) .jp-pdit-outputs')"
            "?.outerHTML ?? 'no output column'"
        )
    )


def wait_statement(page: Any, line: int, state: str, timeout: float = 30_000) -> None:
    """Wait for the statement at ``line`` to reach ``state``; on a timeout show the DOM."""
    selector = f'.jp-pdit-statement[data-pdit-line-start="{line}"][data-pdit-state="{state}"]'
    try:
        page.locator(selector).first.wait_for(timeout=timeout)
    except Exception as err:
        shot(page, f"timeout-line{line}-{state}")
        raise AssertionError(f"no {selector}: {err}\n{outputs_html(page)}") from None


def kernel_status_item(page: Any) -> Any:
    """JupyterLab's kernel status bar item ("<kernel name> | <state>")."""
    return page.locator("#jp-main-statusbar .jp-StatusBar-TextItem", has_text=" | ")


def record_kernel_states(page: Any) -> None:
    """Collect the view's ``kernel-status`` events in ``window.pditKernelStates``."""
    page.evaluate(
        """() => {
            const states = (window.pditKernelStates = []);
            const events = window.jupyterapp.shell.currentWidget.content.client.subscribe();
            (async () => {
                for await (const event of events) {
                    if (event.type === 'kernel-status') states.push(event.state);
                }
            })();
        }"""
    )


def enabled(page: Any, command: str) -> bool:
    return bool(page.evaluate("id => window.jupyterapp.commands.isEnabled(id)", command))


def run_command(page: Any, command: str) -> Any:
    return page.evaluate("id => window.jupyterapp.commands.execute(id)", command)


def test_tab_completes_from_the_kernel_and_shift_tab_shows_the_tooltip(
    lab: Lab, context: Any
) -> None:
    lab.write("complete.py", "import os\n")
    page = context.new_page()
    open_pdit(page, lab, "complete.py")
    wait_idle(page)
    type_at_end(page, "import o")
    page.keyboard.press("Tab")
    completer = page.locator(".jp-Completer")
    completer.wait_for()
    assert "os" in completer.locator(".jp-Completer-match").all_inner_texts()
    shot(page, "completion-import")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+a")
    page.keyboard.type("import os")
    page.keyboard.press("Control+Enter")  # runs `import os`, the statement at the cursor
    statement(page, 1).locator(".jp-pdit-status", has_text="ms").wait_for()
    page.keyboard.press("End")
    page.keyboard.type("\nos.pa")
    reply = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.client.complete('import os\\nos.pa')"
    )
    assert "os.path" in reply["matches"] or "path" in reply["matches"], reply
    page.keyboard.press("Tab")
    shot(page, "completion-os-pa")
    completer.wait_for()
    items = completer.locator(".jp-Completer-match").all_inner_texts()
    assert any(item.strip() in ("path", "pathsep", "os.path") for item in items), items
    page.keyboard.press("Escape")
    page.keyboard.press("Control+a")
    page.keyboard.type("print(")
    page.keyboard.press("Shift+Tab")
    tooltip = page.locator(".jp-Tooltip")
    tooltip.wait_for()
    assert "Prints the values" in tooltip.inner_text()
    shot(page, "tooltip-print")


def test_run_and_kernel_menus_and_keys_act_on_the_view(lab: Lab, context: Any) -> None:
    lab.write("menus.py", "a = 1\nb = a + 1\nb * 10\n")
    page = context.new_page()
    open_pdit(page, lab, "menus.py")
    wait_idle(page)
    page.locator(".jp-pdit-View:visible .cm-content").click()
    for command in (
        "runmenu:run",
        "runmenu:run-all",
        "runmenu:restart-and-run-all",
        "kernelmenu:interrupt",
        "kernelmenu:restart",
        "kernelmenu:restart-and-clear",
        "kernelmenu:change",
        "kernelmenu:shutdown",
    ):
        assert enabled(page, command), command
    # the Run menu, as a user opens it
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    shot(page, "run-menu")
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    statement(page, 3).locator(".jp-pdit-status", has_text="ms").wait_for()
    assert "20" in statement(page, 3).inner_text()
    # Ctrl+Enter runs the statement at the cursor, Shift+Enter runs it and moves on
    page.locator(".jp-pdit-View:visible .cm-content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+Enter")
    cursor_line = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.editor.getCursorPosition().line"
    )
    assert cursor_line == 1
    page.keyboard.press("Control+Enter")
    # Run Selected (the menu's run) on line 3
    page.keyboard.press("Control+End")
    page.keyboard.press("ArrowUp")
    run_command(page, "runmenu:run")
    # Restart asks first; Cancel keeps the namespace
    page.evaluate("() => { window.jupyterapp.commands.execute('kernelmenu:restart'); }")
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "Restart Kernel?" in dialog.inner_text()
    shot(page, "restart-dialog")
    dialog.locator("button", has_text="Cancel").click()
    page.evaluate("() => { window.jupyterapp.commands.execute('kernelmenu:restart'); }")
    page.locator(".jp-Dialog button", has_text="Restart").click()
    wait_idle(page)
    # Interrupt stops a run
    lab.write("menus.py", "import time\ntime.sleep(60)\n")
    page.evaluate("() => window.jupyterapp.shell.currentWidget.context.revert()")
    run_command(page, "runmenu:run-all")
    wait_statement(page, 2, "running")
    shot(page, "interrupt-running")
    run_command(page, "kernelmenu:interrupt")
    wait_statement(page, 2, "error")
    # Restart Kernel and Run All, confirmed: one restart, then one run (JupyterLab's command
    # runs the Run menu's `restart` and then its `runAll`), not cancelled by the restart
    record_kernel_states(page)
    page.evaluate("() => { window.jupyterapp.commands.execute('runmenu:restart-and-run-all'); }")
    page.locator(".jp-Dialog button", has_text="Restart").click()
    wait_statement(page, 2, "running")
    active = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.model.activeExecutions.length"
    )
    assert active == 1, f"{active} executions: Run All ran more than once"
    assert "restarting" in page.evaluate("() => window.pditKernelStates")
    run_command(page, "kernelmenu:interrupt")
    wait_statement(page, 2, "error")
    wait_idle(page)
    # Change Kernel: the kernel specs JupyterLab knows; the session restarts on the choice
    record_kernel_states(page)
    page.evaluate("() => { window.jupyterapp.commands.execute('kernelmenu:change'); }")
    dialog.wait_for()
    options = dialog.locator("select.jp-pdit-kernel-select option").all_inner_texts()
    assert any("Python 3" in option for option in options), options
    shot(page, "change-kernel")
    dialog.locator("button", has_text="Select").click()
    page.wait_for_function(
        "() => window.pditKernelStates.includes('restarting')"
        " && window.pditKernelStates.at(-1) === 'idle'"
    )
    wait_idle(page)
    # Shut Down ends the session's kernel
    before = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.client.getState()"
        ".then(s => s.kernel.id)"
    )
    run_command(page, "kernelmenu:shutdown")
    deadline = time.monotonic() + 30
    after = before
    while after == before and time.monotonic() < deadline:
        page.wait_for_timeout(200)  # the new session's kernel, polled with a bound
        after = page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.content.client.getState()"
            ".then(s => s.kernel.id).catch(() => null)"
        )
    assert after != before
    # the status bar item follows the new kernel: Busy while a statement runs on it
    wait_idle(page)
    lab.write("menus.py", "import time\ntime.sleep(2)\n")
    page.evaluate("() => window.jupyterapp.shell.currentWidget.context.revert()")
    run_command(page, "runmenu:run-all")
    kernel_status_item(page).filter(has_text="Busy").wait_for()
    kernel_status_item(page).filter(has_text="Idle").wait_for()


def test_the_kernel_status_item_shows_the_views_kernel(lab: Lab, context: Any) -> None:
    lab.write("status.py", "import time\ntime.sleep(2)\nx = 1\n")
    page = context.new_page()
    open_pdit(page, lab, "status.py")
    wait_idle(page)
    item = kernel_status_item(page)
    item.filter(has_text="Idle").wait_for()
    assert "Python 3" in item.inner_text(), item.inner_text()
    shot(page, "kernel-status-idle")
    page.locator(".jp-pdit-View:visible .cm-content").click()
    run_command(page, "runmenu:run-all")
    item.filter(has_text="Busy").wait_for()
    shot(page, "kernel-status-busy")
    wait_statement(page, 3, "done")
    item.filter(has_text="Idle").wait_for()
    assert "Python 3" in item.inner_text(), item.inner_text()


def test_contextual_help_is_jupyterlabs_inspector_on_the_kernel(lab: Lab, context: Any) -> None:
    lab.write("help.py", "print('hello')\n")
    page = context.new_page()
    open_pdit(page, lab, "help.py")
    wait_idle(page)
    page.locator(".jp-pdit-View:visible .cm-content").click()
    # Help → Show Contextual Help, as a user opens it
    page.locator(".lm-MenuBar-itemLabel", has_text="Help").click()
    page.locator('.lm-Menu-item[data-command="inspector:toggle"]').click()
    panel = page.locator(".jp-Inspector")
    panel.wait_for()
    # the cursor on `print`, in the view
    page.locator(".jp-pdit-View:visible .cm-content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    panel.locator(".jp-Inspector-content", has_text="Prints the values").wait_for()
    shot(page, "contextual-help-print")
    assert page.locator(".jp-pdit-help").count() == 0  # no panel of pdit's own
    # another name at the cursor: the panel follows it
    page.keyboard.press("End")
    page.keyboard.type("\nlen")
    panel.locator(".jp-Inspector-content", has_text="Return the number of items").wait_for()
    # closed, then opened from the command palette (Ctrl+I inside the editor is
    # CodeMirror's): it shows the view kernel's answer for the name at the cursor at once
    run_command(page, "inspector:close")
    panel.wait_for(state="detached")
    page.locator(".jp-pdit-View:visible .cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("ArrowLeft")  # after `len`
    run_command(page, "apputils:activate-command-palette")
    page.keyboard.type("Show Contextual Help")
    palette_item = page.locator(".lm-CommandPalette-item", has_text="Show Contextual Help")
    palette_item.first.wait_for()
    page.keyboard.press("Enter")
    panel.locator(".jp-Inspector-content", has_text="Return the number of items").wait_for()
    shot(page, "contextual-help-palette")


def test_running_panel_names_the_document_and_export_downloads(lab: Lab, context: Any) -> None:
    (lab.root / "sub").mkdir(exist_ok=True)
    lab.write("sub/report.py", "x = 6 * 7\nprint('exported', x)\n")
    page = context.new_page()
    open_pdit(page, lab, "sub/report.py")
    wait_idle(page)
    page.locator(".jp-pdit-View:visible .cm-content").click()
    run_command(page, "runmenu:run-all")
    statement(page, 2).locator(".jp-pdit-status", has_text="ms").wait_for()
    # the Running panel lists the kernel under the document's name
    page.evaluate("() => window.jupyterapp.shell.activateById('jp-running-sessions')")
    running = page.locator("#jp-running-sessions")
    running.locator(".jp-RunningSessions-itemLabel", has_text="report.py").first.wait_for()
    shot(page, "running-panel")
    assert "No sessions connected" not in running.inner_text()
    # the kernel status bar item shows the kernel
    page.evaluate(
        "() => window.jupyterapp.shell.activateById(window.jupyterapp.shell.currentWidget.id)"
    )
    page.locator(".jp-pdit-View:visible .cm-content").click()
    # File → Export downloads the last run
    for command, suffix, needle in (
        ("pdit:export-html", ".html", "exported 42"),
        ("pdit:export-ipynb", ".ipynb", "exported 42"),
    ):
        with page.expect_download() as download_info:
            run_command(page, command)
        download = download_info.value
        assert download.suggested_filename == "report" + suffix
        text = Path(download.path()).read_text(encoding="utf-8")
        assert needle in text


def test_run_cells_runs_each_percent_cell(lab: Lab, context: Any) -> None:
    lab.write("cells.py", "# %%\na = 2\n\n# %%\na * 21\n")
    page = context.new_page()
    open_pdit(page, lab, "cells.py")
    wait_idle(page)
    page.locator(".jp-pdit-View:visible .cm-content").click()
    assert run_command(page, "pdit:run-cells") == 2
    statement(page, 4).locator(".jp-pdit-status", has_text="ms").wait_for()
    assert "42" in statement(page, 4).inner_text()
    shot(page, "run-cells")


def test_the_extension_is_this_worktrees_build(lab: Lab) -> None:
    # the lab fixture links pdit_gateway/labextension of this checkout
    assert (REPO / "pdit_gateway" / "labextension" / "schemas" / "pdit-gateway").exists()
