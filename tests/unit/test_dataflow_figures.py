"""Unit tests for the planner on scripts with several figures: ``plt.show()`` ends the restore of
pyplot's figures, the configuration (rcParams, styles) is a state of its own."""

from __future__ import annotations

import pytest

from pdit_gateway.dataflow import CONFIG, FIGURES, analyze_source, pyplot_call_kind
from pdit_gateway.incremental import Flow, RunRecord, plan_rerun, record_run, resolve_flows
from pdit_gateway.splitter import split_script

HEAD = """import matplotlib.pyplot as plt
def load():
    return [1, 2, 3]
data = load()
"""
FIRST = ["plt.figure()", "plt.plot(data)", 'plt.title("one")', "plt.show()"]
SECOND = ["plt.figure()", "plt.hist(data)", 'plt.title("two")', "plt.show()"]
THIRD = ["plt.figure()", "plt.plot(data[::-1])", 'plt.title("three")', "plt.show()"]
HEAD_LINES = ["import matplotlib.pyplot as plt", "def load():", "data = load()"]


def three_figures(*blocks: list[str]) -> str:
    return HEAD + "".join(line + "\n" for block in blocks for line in block)


SCRIPT = three_figures(FIRST, SECOND, THIRD)


def record_of(script: str) -> RunRecord:
    statements = split_script(script)
    return record_run(plan_rerun(statements, None), ["ok"] * len(statements), None)


def flows_of(script: str) -> list[Flow]:
    return resolve_flows([analyze_source(s.code) for s in split_script(script)])


def plan_after(before: str, after: str) -> tuple[list[str], list[str]]:
    """Return the first lines of the statements that run and of those kept after an edit."""
    plan = plan_rerun(split_script(after), record_of(before))
    first = [s.code.splitlines()[0] for s in plan.statements]
    runs = [line for line, r in zip(first, plan.run, strict=True) if r]
    kept = [line for line, r in zip(first, plan.run, strict=True) if not r]
    return runs, kept


def test_editing_the_last_title_runs_only_the_last_figure() -> None:
    runs, kept = plan_after(SCRIPT, SCRIPT.replace('"three"', '"3"'))
    assert runs == ["plt.figure()", "plt.plot(data[::-1])", 'plt.title("3")', "plt.show()"]
    assert kept == HEAD_LINES + FIRST + SECOND


def test_editing_the_first_title_keeps_the_later_figures() -> None:
    runs, kept = plan_after(SCRIPT, SCRIPT.replace('"one"', '"1"'))
    assert runs == ["plt.figure()", "plt.plot(data)", 'plt.title("1")', "plt.show()"]
    assert kept == HEAD_LINES + SECOND + THIRD


def test_editing_a_middle_title_runs_only_its_figure() -> None:
    runs, kept = plan_after(SCRIPT, SCRIPT.replace('"two"', '"2"'))
    assert runs == ["plt.figure()", "plt.hist(data)", 'plt.title("2")', "plt.show()"]
    assert kept == HEAD_LINES + FIRST + THIRD


def test_close_all_ends_the_figures_as_show_does() -> None:
    script = SCRIPT.replace("plt.show()", 'plt.close("all")')
    runs, _ = plan_after(script, script.replace('"three"', '"3"'))
    assert runs == ["plt.figure()", "plt.plot(data[::-1])", 'plt.title("3")', 'plt.close("all")']


@pytest.mark.parametrize(
    "finish",
    ["plt.show(block=False)", "plt.close()", "plt.close(fig)", "plt.gcf().show()", "finish()"],
)
def test_calls_that_may_leave_figures_open_are_no_end(finish: str) -> None:
    script = "def finish():\n    plt.show()\n" + SCRIPT.replace("plt.show()", finish)
    runs, _ = plan_after(script, script.replace('"three"', '"3"'))
    assert runs[:4] == ["plt.figure()", "plt.plot(data)", 'plt.title("one")', finish]


def test_a_script_choosing_its_backend_has_no_end_of_figures() -> None:
    # with ``agg``, ``plt.show()`` leaves the figures open
    script = SCRIPT.replace("data = load()\n", "data = load()\nplt.switch_backend('agg')\n")
    runs, _ = plan_after(script, script.replace('"three"', '"3"'))
    assert runs[-12:] == [*FIRST, *SECOND, *THIRD[:2], 'plt.title("3")', "plt.show()"]


def test_a_show_of_a_name_that_is_not_pyplot_is_no_end() -> None:
    script = "import helpers as viewer\n" + SCRIPT.replace("plt.show()", "viewer.show()")
    assert not any(flow.resets for flow in flows_of(script))
    assert [f.resets for f in flows_of(SCRIPT)].count(frozenset({FIGURES})) == 3


@pytest.mark.parametrize(
    "setting",
    [
        'plt.style.use("ggplot")',
        'plt.rcParams["lines.linewidth"] = 3',
        'plt.rc("lines", linewidth=3)',
        'mpl.rcParams["axes.grid"] = True',
        "sns.set_theme()",
        "plt.xkcd()",
    ],
)
def test_a_configuration_edited_at_the_top_runs_every_drawing_statement(setting: str) -> None:
    head = "import matplotlib as mpl\nimport seaborn as sns\n"
    before = head + SCRIPT.replace("data = load()\n", "data = load()\nplt.rcdefaults()\n")
    after = head + SCRIPT.replace("data = load()\n", f"data = load()\n{setting}\n")
    runs, kept = plan_after(before, after)
    assert runs == [setting, *FIRST, *SECOND, *THIRD]
    assert "data = load()" in kept


def test_a_configuration_edited_between_figures_runs_the_figures_after_it() -> None:
    script = three_figures(FIRST, ['plt.style.use("ggplot")'], SECOND, THIRD)
    runs, kept = plan_after(script, script.replace("ggplot", "bmh"))
    assert runs == ['plt.style.use("bmh")', *SECOND, *THIRD]
    assert kept == HEAD_LINES + FIRST


def test_editing_a_figure_after_a_configuration_keeps_the_configuration() -> None:
    script = three_figures(['plt.rcParams["lines.linewidth"] = 3'], FIRST, SECOND, THIRD)
    runs, _ = plan_after(script, script.replace('"three"', '"3"'))
    assert runs == [*THIRD[:2], 'plt.title("3")', "plt.show()"]


def test_reading_the_configuration_without_a_call_reads_it() -> None:
    printed = 'print(plt.rcParams["axes.facecolor"])'
    script = three_figures(FIRST, ['plt.style.use("ggplot")'], [printed])
    runs, _ = plan_after(script, script.replace("ggplot", "bmh"))
    assert runs == ['plt.style.use("bmh")', printed]


def test_a_figure_kept_in_a_name_across_a_show_restores_its_creator() -> None:
    script = HEAD + (
        "fig, ax = plt.subplots()\nax.plot(data)\nplt.show()\n"
        + "".join(line + "\n" for line in SECOND)
        + 'ax.set_title("x")\nfig\n'
    )
    runs, kept = plan_after(script, script.replace('"x"', '"y"'))
    assert runs[:3] == ["fig, ax = plt.subplots()", "ax.plot(data)", "plt.show()"]
    assert runs[-2:] == ['ax.set_title("y")', "fig"]
    assert "data = load()" in kept


def test_drawing_on_a_closed_figure_does_not_change_the_open_ones() -> None:
    script = HEAD + 'fig, ax = plt.subplots()\nax.plot(data)\nplt.show()\nax.set_title("late")\n'
    flows = flows_of(script)
    assert {"ax", "fig"} <= flows[-1].writes
    assert FIGURES not in flows[-1].writes
    assert flows[-2].resets == {FIGURES}
    assert {"ax", "fig"} <= flows[-2].writes  # the show closed them


@pytest.mark.parametrize("reopen", ["plt.figure(fig)", "plt.sca(ax)"])
def test_a_closed_figure_handed_to_pyplot_again_is_an_open_one(reopen: str) -> None:
    script = HEAD + f'fig, ax = plt.subplots()\nplt.show()\n{reopen}\nplt.title("x")\nfig\n'
    flows = flows_of(script)
    assert "fig" in flows[-2].writes  # ``plt.title`` draws on fig again
    runs, _ = plan_after(script, script.replace('"x"', '"y"'))
    assert runs[-2:] == ['plt.title("y")', "fig"]


def test_the_states_of_pyplot_calls() -> None:
    def flow(code: str) -> tuple[frozenset[str], frozenset[str]]:
        statements = split_script("import matplotlib.pyplot as plt\n" + code + "\n")
        last = resolve_flows([analyze_source(s.code) for s in statements])[-1]
        return last.reads, last.writes

    reads, writes = flow("plt.plot([1])")
    assert {FIGURES, CONFIG} <= reads
    assert FIGURES in writes
    assert CONFIG not in writes
    reads, writes = flow('plt.style.use("ggplot")')
    assert CONFIG in reads
    assert CONFIG in writes
    assert FIGURES not in writes
    reads, writes = flow("plt.frobnicate()")  # unknown: both
    assert {FIGURES, CONFIG} <= writes


@pytest.mark.parametrize(
    ("what", "kind"),
    [
        ("matplotlib.pyplot.plot", "drawing"),
        ("matplotlib.pyplot.show", "drawing"),
        ("seaborn.histplot", "drawing"),
        ("matplotlib.patches.Circle", "drawing"),
        ("matplotlib.pyplot.style.use", "configuring"),
        ("matplotlib.rcParams.update", "configuring"),
        ("seaborn.set_theme", "configuring"),
        ("matplotlib.pyplot.set_cmap", "other"),
        ("matplotlib.use", "other"),
        ("matplotlib.dates.set_epoch", "configuring"),
    ],
)
def test_pyplot_call_kind(what: str, kind: str) -> None:
    assert pyplot_call_kind(what) == kind
