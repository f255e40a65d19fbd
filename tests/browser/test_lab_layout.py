"""The pdit view's layout in Chromium: outputs level with their lines through edits,
stale and cleared outputs, wide outputs and the resizable split."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from .conftest import Lab
from .test_pdit_lab import open_pdit, statement

#: Pixels an output's top may differ from its statement's first line.
TOLERANCE = 2.0

VIEW = ".jp-pdit-View:visible"


def layout_script() -> str:
    """A script of 50 statements: silent ones, values, long streams, tables and plots."""
    statements = ["import matplotlib.pyplot as plt", "import pandas as pd"]
    k = 0
    while len(statements) < 50:
        kind = k % 6
        if kind == 0:
            statements.append(f"a{k} = {k} * 2")
        elif kind == 1:
            statements.append(f"a{k - 1} + 1")
        elif kind == 2:
            statements.append(f"for i in range(14):\n    print('stream {k}', i)")
        elif kind == 3:
            statements.append(f"pd.DataFrame({{'x': range(5), 'y': [{k}] * 5}})")
        elif kind == 4:
            statements += [
                # constrained: the tick labels inside the figure (a 1.6-inch figure with
                # matplotlib's default margins cuts them off, in a window as here)
                'fig, ax = plt.subplots(figsize=(3, 1.6), layout="constrained")',
                f"ax.plot([0, 1, 2], [{k}, 1, {k % 3}])",
                "plt.show()",
            ]
        else:
            statements.append(f"# a comment before {k}\nprint('one line {k}')")
        k += 1
    return "\n".join(statements[:50]) + "\n"


#: In the page: every output's top and its statement's first line's top, each one
#: scrolled into view first (CodeMirror draws only the lines near the viewport).
MEASURE = """async () => {
    const view = window.jupyterapp.shell.currentWidget.content;
    const cm = view.editor.editor;
    const frames = n => new Promise(resolve => {
        const step = () => (n-- <= 0 ? resolve() : requestAnimationFrame(step));
        step();
    });
    const nodes = [...view.node.querySelectorAll('.jp-pdit-outputs > .jp-pdit-statement')];
    const out = [];
    for (const node of nodes) {
        const line = Number(node.dataset.pditLineStart);
        node.scrollIntoView({block: 'center'});
        let previous = null;
        let delta = null;
        for (let tries = 0; tries < 30; tries++) {
            await frames(2);
            const dom = cm.domAtPos(cm.state.doc.line(line).from).node;
            const element = dom.nodeType === 1 ? dom : dom.parentElement;
            const lineTop = element.closest('.cm-line').getBoundingClientRect().top;
            delta = node.getBoundingClientRect().top - lineTop;
            if (previous !== null && Math.abs(previous - delta) < 0.01) {
                break;
            }
            previous = delta;
        }
        const column = node.parentElement.getBoundingClientRect().top;
        const box = node.getBoundingClientRect();
        out.push({line, delta, top: box.top - column, bottom: box.bottom - column});
    }
    return out;
}"""


def measure(page: Any) -> list[dict[str, float]]:
    result: list[dict[str, float]] = page.evaluate(MEASURE)
    return result


def assert_aligned(rows: list[dict[str, float]], count: int) -> float:
    """Every output level with its line, and none over the next one; the worst offset."""
    assert len(rows) == count
    worst = max(abs(row["delta"]) for row in rows)
    off = [row for row in rows if abs(row["delta"]) > TOLERANCE]
    assert not off, off
    ordered = sorted(rows, key=lambda row: row["top"])
    overlapping = [(a, b) for a, b in itertools.pairwise(ordered) if a["bottom"] > b["top"] + 0.5]
    assert not overlapping, overlapping
    return worst


#: In the page: each output image's size against its natural size, and every box around
#: it up to its statement that would clip it (content taller or wider than the box).
IMAGES = """() => [...document.querySelectorAll('.jp-pdit-View .jp-pdit-item img')].map(img => {
    const box = img.getBoundingClientRect();
    const clipping = [];
    for (let n = img.parentElement; n && !n.classList.contains('jp-pdit-outputs');
         n = n.parentElement) {
        const style = getComputedStyle(n);
        if ((style.overflowY !== 'visible' && n.scrollHeight > n.clientHeight + 1)
            || (style.overflowX !== 'visible' && n.scrollWidth > n.clientWidth + 1)
            || style.maxHeight !== 'none') {
            clipping.push(n.className);
        }
    }
    return {complete: img.complete, height: box.height, width: box.width,
            naturalHeight: img.naturalHeight, naturalWidth: img.naturalWidth, clipping};
})"""


def assert_images_whole(page: Any, count: int) -> None:
    """Every output image shows at its natural size, and nothing around it clips it."""
    page.wait_for_function(
        """n => [...document.querySelectorAll('.jp-pdit-View .jp-pdit-item img')]
            .filter(img => img.complete && img.naturalHeight > 0).length === n""",
        arg=count,
    )
    images = page.evaluate(IMAGES)
    assert len(images) == count
    for image in images:
        assert abs(image["height"] - image["naturalHeight"]) < 0.5, image
        assert abs(image["width"] - image["naturalWidth"]) < 0.5, image
        assert image["clipping"] == [], image


def run_all(page: Any, count: int) -> None:
    page.locator(f"{VIEW} .cm-content").click()
    page.keyboard.press("Control+Shift+Enter")
    page.wait_for_function(
        """n => document.querySelectorAll(
            '.jp-pdit-View .jp-pdit-statement[data-pdit-state="done"]').length === n""",
        arg=count,
        timeout=90_000,
    )


def go_to_line(page: Any, line: int, end: bool = False) -> None:
    """Put the cursor at the start (or the end) of ``line``, through the editor."""
    page.evaluate(
        """([line, end]) => {
            const cm = window.jupyterapp.shell.currentWidget.content.editor.editor;
            const l = cm.state.doc.line(line);
            cm.dispatch({selection: {anchor: end ? l.to : l.from}, scrollIntoView: true});
            cm.focus();
        }""",
        [line, end],
    )


def line_starts(page: Any) -> list[int]:
    return [
        int(n.get_attribute("data-pdit-line-start"))
        for n in page.locator(f"{VIEW} .jp-pdit-outputs > .jp-pdit-statement").all()
    ]


def test_outputs_level_with_their_lines_through_edits(
    lab: Lab, context: Any, tmp_path: Path
) -> None:
    count = 50
    lab.write("layout.py", layout_script())
    page = context.new_page()
    open_pdit(page, lab, "layout.py")
    run_all(page, count)
    page.locator(f"{VIEW} .jp-pdit-item img").first.wait_for()
    assert_images_whole(page, layout_script().count("plt.show()"))
    before = measure(page)
    worst_before = assert_aligned(before, count)
    starts = line_starts(page)
    page.locator(VIEW).evaluate("node => node.scrollTo(0, 0)")
    page.screenshot(path=str(tmp_path / "aligned.png"))
    # the outputs were taller than the code: the editor was padded, not the outputs pushed
    assert page.locator(f"{VIEW} .jp-pdit-spacer").count() > 0

    # Three lines inserted above everything: every output moves down with its statement.
    go_to_line(page, 1)
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowUp")
    page.keyboard.type("# one")
    page.keyboard.press("Enter")
    page.keyboard.type("# two")
    page.keyboard.press("Enter")
    page.keyboard.type("# three")
    page.wait_for_function(
        """first => document.querySelector(
            '.jp-pdit-View .jp-pdit-outputs > .jp-pdit-statement')
            .dataset.pditLineStart === String(first)""",
        arg=starts[0] + 3,
    )
    assert line_starts(page) == [n + 3 for n in starts]
    worst_inserted = assert_aligned(measure(page), count)
    assert page.locator(f'{VIEW} .jp-pdit-statement[data-pdit-stale="true"]').count() == 0

    # Two lines inserted in the middle, after the 20th statement, then the top three deleted.
    middle = starts[20] + 3 - 1
    go_to_line(page, middle, end=True)
    page.keyboard.press("Enter")
    page.keyboard.type("# middle")
    page.keyboard.press("Enter")
    go_to_line(page, 1)
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Delete")
    expected = [n if i < 20 else n + 2 for i, n in enumerate(starts)]
    page.wait_for_function(
        """first => document.querySelector(
            '.jp-pdit-View .jp-pdit-outputs > .jp-pdit-statement')
            .dataset.pditLineStart === String(first)""",
        arg=starts[0],
    )
    assert line_starts(page) == expected
    worst_deleted = assert_aligned(measure(page), count)
    assert page.locator(f'{VIEW} .jp-pdit-statement[data-pdit-stale="true"]').count() == 0
    page.screenshot(path=str(tmp_path / "after-edits.png"))
    print(
        f"alignment, worst |output top - line top| px: {worst_before:.2f} before, "
        f"{worst_inserted:.2f} after inserting 3 lines, {worst_deleted:.2f} after "
        "inserting 2 in the middle and deleting the 3"
    )


SMALL = """\
x = 1
x
y = 2
y
print("end")
"""


def test_an_edit_marks_stale_a_rerun_replaces_a_deletion_removes(
    lab: Lab, context: Any, tmp_path: Path
) -> None:
    lab.write("stale.py", SMALL)
    page = context.new_page()
    open_pdit(page, lab, "stale.py")
    run_all(page, 5)
    value = statement(page, 2)
    assert value.get_attribute("data-pdit-stale") == "false"
    assert float(value.evaluate("n => getComputedStyle(n).opacity")) == 1

    go_to_line(page, 2, end=True)
    page.keyboard.type(" + 10")
    page.locator(
        f'{VIEW} .jp-pdit-statement[data-pdit-line-start="2"].jp-pdit-mod-stale'
    ).wait_for()
    page.screenshot(path=str(tmp_path / "stale.png"))
    assert float(value.evaluate("n => getComputedStyle(n).opacity")) < 0.6
    assert "stale" in value.locator(".jp-pdit-status").evaluate(
        "n => getComputedStyle(n, '::before').content"
    )
    # only the edited statement
    stale = page.locator(f'{VIEW} .jp-pdit-statement[data-pdit-stale="true"]')
    assert [s.get_attribute("data-pdit-line-start") for s in stale.all()] == ["2"]

    page.keyboard.press("Shift+Enter")  # run it again: a fresh output replaces the stale one
    page.wait_for_function(
        """() => {
            const n = document.querySelector(
                '.jp-pdit-View .jp-pdit-statement[data-pdit-line-start="2"]');
            return n && n.dataset.pditState === 'done' && n.dataset.pditStale === 'false'
                && n.innerText.includes('11');
        }"""
    )
    assert page.locator(f'{VIEW} .jp-pdit-statement[data-pdit-line-start="2"]').count() == 1

    # Deleting the statement's line takes its output away; the ones below move up.
    go_to_line(page, 2)
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Delete")
    page.wait_for_function(
        """() => document.querySelectorAll(
            '.jp-pdit-View .jp-pdit-outputs > .jp-pdit-statement').length === 4"""
    )
    assert line_starts(page) == [1, 2, 3, 4]
    assert "11" not in page.locator(f"{VIEW} .jp-pdit-outputs").inner_text()
    assert statement(page, 3).inner_text().strip().endswith("2")
    assert_aligned(measure(page), 4)


def test_restart_marks_stale_and_the_clear_commands(lab: Lab, context: Any) -> None:
    lab.write("clear.py", SMALL)
    page = context.new_page()
    open_pdit(page, lab, "clear.py")
    run_all(page, 5)
    assert page.locator(f'{VIEW} .jp-pdit-statement[data-pdit-stale="true"]').count() == 0

    page.evaluate("() => { void window.jupyterapp.commands.execute('pdit:restart-kernel'); }")
    confirm_restart(page)
    page.wait_for_function(
        """() => document.querySelectorAll(
            '.jp-pdit-View .jp-pdit-statement[data-pdit-stale="true"]').length === 5"""
    )
    page.locator('.jp-pdit-toolbar-status:visible[data-pdit-kernel-state="idle"]').wait_for()

    page.evaluate("() => window.jupyterapp.commands.execute('pdit:clear-outputs')")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-pdit-View .jp-pdit-statement').length === 0"
    )

    run_all(page, 5)
    page.evaluate("() => { void window.jupyterapp.commands.execute('pdit:restart-clear'); }")
    confirm_restart(page)
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-pdit-View .jp-pdit-statement').length === 0"
    )
    status = '.jp-pdit-toolbar-status:visible[data-pdit-kernel-state="{}"]'
    page.locator(status.format("idle")).wait_for()
    # the namespace went with the restart
    go_to_line(page, 2)
    page.keyboard.press("Shift+Enter")
    statement(page, 2).locator("text=NameError").first.wait_for()
    # both are in the command palette
    labels = page.evaluate(
        """() => ['pdit:clear-outputs', 'pdit:restart-clear'].map(
            id => window.jupyterapp.commands.label(id))"""
    )
    assert labels == ["Clear Outputs (pdit)", "Restart Kernel and Clear (pdit)"]


def confirm_restart(page):
    """Accept the "Restart Kernel?" dialog a restart asks first, as the notebook's does."""
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "Restart Kernel?" in dialog.inner_text()
    dialog.get_by_role("button", name="Confirm Kernel Restart").click()
    dialog.wait_for(state="detached")


WIDE = """\
import pandas as pd
pd.DataFrame([[f"cell {r}-{c}" for c in range(40)] for r in range(3)],
             columns=[f"column_{c}" for c in range(40)])
print("x" * 400 + " end-of-long-line")
"""


def test_wide_outputs_scroll_sideways(lab: Lab, context: Any, tmp_path: Path) -> None:
    lab.write("wide.py", WIDE)
    page = context.new_page()
    open_pdit(page, lab, "wide.py")
    run_all(page, 3)
    table = statement(page, 2).locator(".jp-pdit-item").first
    table.locator("table").wait_for()
    sizes = table.evaluate(
        "n => ({scroll: n.scrollWidth, client: n.clientWidth, overflow: getComputedStyle(n).overflowX})"
    )
    assert sizes["overflow"] == "auto"
    assert sizes["scroll"] > sizes["client"] * 2, sizes
    page.screenshot(path=str(tmp_path / "wide-before.png"))
    # scrolled to its end, the last column is visible inside the output's box
    table.evaluate("n => { n.scrollLeft = n.scrollWidth; }")
    box = table.bounding_box()
    last = table.locator("th", has_text="column_39").bounding_box()
    assert box["x"] <= last["x"] and last["x"] + last["width"] <= box["x"] + box["width"] + 1
    page.screenshot(path=str(tmp_path / "wide-scrolled.png"))

    # a long stream line stays one line; its text scrolls sideways (the <pre> scrolls)
    pre = statement(page, 4).locator(".jp-pdit-item pre").first
    long = pre.evaluate(
        """n => ({scroll: n.scrollWidth, client: n.clientWidth,
                 overflow: getComputedStyle(n).overflowX,
                 height: n.getBoundingClientRect().height,
                 lineHeight: parseFloat(getComputedStyle(n).lineHeight)})"""
    )
    assert long["overflow"] in ("auto", "scroll"), long
    assert long["scroll"] > long["client"] * 3, long
    assert long["height"] < 2 * long["lineHeight"], long  # one line, not wrapped


def test_the_split_is_resizable_and_remembered(lab: Lab, context: Any, tmp_path: Path) -> None:
    lab.write("split.py", SMALL)
    page = context.new_page()
    workspace = "split-remembered"
    open_pdit(page, lab, "split.py", workspace)
    run_all(page, 5)
    editor = page.locator(f"{VIEW} > .jp-pdit-editor")
    handle = page.locator(f"{VIEW} > .jp-pdit-splitHandle")
    width = editor.bounding_box()["width"]
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 40
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 150, y, steps=5)
    page.mouse.move(x - 250, y, steps=5)
    page.mouse.up()
    narrower = editor.bounding_box()["width"]
    assert abs(narrower - (width - 250)) <= 3, (width, narrower)
    # the outputs column took the room, and the outputs still sit level with their lines
    assert_aligned(measure(page), 5)
    page.screenshot(path=str(tmp_path / "split.png"))

    page.reload()
    open_pdit(page, lab, "split.py", workspace)
    assert abs(editor.bounding_box()["width"] - narrower) <= 2
    assert page.evaluate("() => localStorage.getItem('pdit-gateway:split')") is not None
