"""The incremental-rerun corpus: after every edit, what each statement shows equals a full run.

Each file of ``tests/data/incremental/`` is a sequence of scripts, one per step, each after a
line ``# === step`` (optionally ``# === step: runs 3 7``: the first lines of the statements
the incremental run is expected to run; ``runs -`` for none). Every step is run twice: in full,
in a fresh namespace (in a copy of the working directory as the incremental run found it), and
incrementally in the namespace the previous steps left, running only what
:func:`pdit_gateway.incremental.plan_rerun` plans and keeping the other results. Both must
show, for every statement, the same lines, status and output (stdout, the displayed value, the
error with the script lines of its traceback); the names holding plain data must end equal.

The comparison is written against two callables (:class:`Runner`), so the gateway version can
run the same corpus: give ``check_sequence`` a runner doing a full run on a fresh kernel and
one doing the gateway's incremental execute in one session (results marked ``cached`` are the
kept ones).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import random
import re
import shutil
import sys
import traceback
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from pdit_gateway.incremental import RunRecord, plan_rerun, record_run
from pdit_gateway.splitter import Statement, split_script

if TYPE_CHECKING:
    from collections.abc import Callable

CORPUS = Path(__file__).resolve().parents[1] / "data" / "incremental"
SCRIPT_NAME = "script.py"
_MARKER = re.compile(r"^# === step(?::\s*runs\s+(?P<runs>[-\d ]+))?\s*$")


@dataclass(frozen=True)
class Step:
    script: str
    runs: tuple[int, ...] | None  # first lines of the statements expected to run


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[Step, ...]


def load_case(path: Path) -> Case:
    steps: list[Step] = []
    lines: list[str] | None = None
    runs: tuple[int, ...] | None = None
    for line in path.read_text(encoding="utf-8").split("\n"):
        match = _MARKER.match(line)
        if match:
            if lines is not None:
                steps.append(Step("\n".join(lines), runs))
            lines = []
            spec = match.group("runs")
            runs = None if spec is None else tuple(int(n) for n in spec.split() if n != "-")
        elif lines is not None:
            lines.append(line)
    if lines is not None:
        steps.append(Step("\n".join(lines), runs))
    return Case(path.stem, tuple(steps))


def load_corpus() -> list[Case]:
    return [load_case(path) for path in sorted(CORPUS.glob("*.py"))]


@dataclass(frozen=True)
class Shown:
    """What a client shows for one statement."""

    line_start: int
    line_end: int
    status: str
    output: str
    cached: bool = False

    def comparable(self) -> tuple[int, int, str, str]:
        return (self.line_start, self.line_end, self.status, self.output)


class Runner(Protocol):
    """Runs one step's script and returns what every statement shows."""

    def __call__(self, script: str) -> list[Shown]: ...


# --- the reference: plain exec in a dict ------------------------------------------------------

BACKEND = "_pdit_corpus_backend"


def describe_figure(figure: Any) -> str:
    """What a figure shows, in words: per axes its title, labels and what is drawn."""
    parts = []
    for ax in figure.axes:
        lines = [(line.get_ydata().tolist(), line.get_linewidth()) for line in ax.lines]
        parts.append(
            f"axes {ax.get_title()!r} x={ax.get_xlabel()!r} y={ax.get_ylabel()!r} "
            f"lines={lines} patches={len(ax.patches)} facecolor={ax.get_facecolor()}"
        )
    return "; ".join(parts) or "empty"


def corpus_backend() -> types.ModuleType:
    """A matplotlib backend whose ``show`` prints every open figure, then closes them all,
    as the gateway's backend shows them and closes them (``pdit_gateway.kernel_setup``)."""
    from matplotlib._pylab_helpers import Gcf
    from matplotlib.backend_bases import FigureManagerBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def show(*args: Any, block: Any = None, **kwargs: Any) -> None:
        for manager in Gcf.get_all_fig_managers():
            print("figure", manager.num, describe_figure(manager.canvas.figure))
        Gcf.destroy_all()

    module = types.ModuleType(BACKEND)
    module.FigureCanvas = FigureCanvasAgg  # type: ignore[attr-defined]
    module.FigureManager = FigureManagerBase  # type: ignore[attr-defined]
    module.show = show  # type: ignore[attr-defined]
    return module


@pytest.fixture
def pyplot_backend() -> Any:
    """Draw with :func:`corpus_backend` during a test, then put the process's backend back."""
    import matplotlib
    import matplotlib.pyplot as plt

    previous = matplotlib.get_backend()
    saved = dict(matplotlib.rcParams.copy())
    sys.modules[BACKEND] = corpus_backend()
    plt.switch_backend("module://" + BACKEND)
    yield
    plt.close("all")
    plt.switch_backend(previous)
    dict.update(matplotlib.rcParams, saved)
    sys.modules.pop(BACKEND, None)


def pyplot_state() -> tuple[dict[str, Any], dict[Any, Any]] | None:
    """pyplot's state (the configuration, the open figures), if pyplot is imported."""
    if "matplotlib.pyplot" not in sys.modules:
        return None
    import matplotlib
    from matplotlib._pylab_helpers import Gcf

    return dict(matplotlib.rcParams.copy()), dict(Gcf.figs)


def set_pyplot_state(state: tuple[dict[str, Any], dict[Any, Any]] | None) -> None:
    """Put back pyplot's state (``None``: as a new process has it, no figure, the defaults)."""
    if "matplotlib.pyplot" not in sys.modules:
        return
    import matplotlib
    from matplotlib._pylab_helpers import Gcf

    if state is None:
        backend = matplotlib.rcParams["backend"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matplotlib.rcdefaults()
        dict.__setitem__(matplotlib.rcParams, "backend", backend)
        Gcf.figs.clear()
        return
    dict.update(matplotlib.rcParams, state[0])
    Gcf.figs.clear()
    Gcf.figs.update(state[1])


def fresh_namespace() -> dict[str, Any]:
    return {"__name__": "__main__", "__builtins__": builtins}


def execute(statement: Statement, namespace: dict[str, Any], workdir: Path) -> tuple[str, str]:
    """Run one statement as the kernel would; return its status and what it shows."""
    if statement.kind == "markdown":
        return "ok", "markdown: " + statement.markdown
    if statement.kind == "syntax-error":
        assert statement.error is not None
        return "error", f"{statement.error.ename}: {statement.error.evalue}"
    filename = str(workdir / SCRIPT_NAME)
    tree = ast.parse("\n" * (statement.line_start - 1) + statement.code, filename)
    tail = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    out = io.StringIO()
    try:
        # warnings are printed, as python prints them, not raised (pytest's filterwarnings)
        with (
            warnings.catch_warnings(),
            contextlib.chdir(workdir),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("default")
            warnings.showwarning = _print_warning
            exec(compile(tree, filename, "exec"), namespace)
            if tail is not None:
                value = eval(compile(ast.Expression(tail.value), filename, "eval"), namespace)
                if value is not None:
                    shown = getattr(value, "data", value) if statement.fstring else value
                    print(repr(shown))
    except Exception as err:
        frames = [
            f.lineno for f in traceback.extract_tb(err.__traceback__) if f.filename == filename
        ]
        return "error", f"{out.getvalue()}{type(err).__name__}: {err} (lines {frames})"
    return "ok", out.getvalue()


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def plain(value: Any) -> bool:
    """Whether a value's repr is its content (no addresses)."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return True
    if isinstance(value, list | tuple | set | frozenset):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(plain(k) and plain(v) for k, v in value.items())
    return False


def plain_names(namespace: dict[str, Any]) -> dict[str, str]:
    return {
        name: repr(value)
        for name, value in namespace.items()
        if not name.startswith("__") and plain(value)
    }


@dataclass
class ReferenceFull:
    """A full run in a fresh namespace, in a copy of a working directory."""

    source: Path
    scratch: Path
    runs: int = 0
    namespace: dict[str, Any] = field(default_factory=fresh_namespace)

    def __call__(self, script: str) -> list[Shown]:
        self.runs += 1
        workdir = self.scratch / f"full-{self.runs}"
        shutil.copytree(self.source, workdir)
        self.namespace = fresh_namespace()
        set_pyplot_state(None)  # a fresh process: no figure open, the default configuration
        shown: list[Shown] = []
        stopped = False
        for statement in split_script(script, filename=str(workdir / SCRIPT_NAME)):
            if stopped:
                status, output = "cancelled", ""
            else:
                status, output = execute(statement, self.namespace, workdir)
                stopped = status == "error"
            shown.append(Shown(statement.line_start, statement.line_end, status, output))
        return shown


@dataclass
class ReferenceIncremental:
    """Incremental runs in one namespace and one working directory.

    The random generators of ``random`` and ``numpy.random``, and pyplot's configuration and
    open figures, are the process's, which the full runs between two incremental ones use too:
    their states are put back as the last incremental run left them, as one kernel process
    would hold them.
    """

    workdir: Path
    namespace: dict[str, Any] = field(default_factory=fresh_namespace)
    record: RunRecord | None = None
    shown: list[Shown] = field(default_factory=list)
    generators: tuple[Any, Any] | None = None
    pyplot: tuple[dict[str, Any], dict[Any, Any]] | None = None

    def __call__(self, script: str) -> list[Shown]:
        import numpy

        if self.generators is not None:
            random.setstate(self.generators[0])
            numpy.random.set_state(self.generators[1])
        set_pyplot_state(self.pyplot)
        try:
            return self._run(script)
        finally:
            self.generators = (random.getstate(), numpy.random.get_state())
            self.pyplot = pyplot_state()

    def _run(self, script: str) -> list[Shown]:
        statements = split_script(script, filename=str(self.workdir / SCRIPT_NAME))
        plan = plan_rerun(statements, self.record)
        for name in plan.unbind:
            self.namespace.pop(name, None)
        shown: list[Shown] = []
        outcomes: list[str] = []
        stopped = False
        for i, statement in enumerate(statements):
            lines = (statement.line_start, statement.line_end)
            if stopped:
                shown.append(Shown(*lines, "cancelled", ""))
                outcomes.append("cancelled")
            elif plan.run[i]:
                status, output = execute(statement, self.namespace, self.workdir)
                stopped = status == "error"
                shown.append(Shown(*lines, status, output))
                outcomes.append(status)
            else:
                old = plan.previous[i]
                assert old is not None
                kept = self.shown[old]
                shown.append(Shown(*lines, kept.status, kept.output, cached=True))
                outcomes.append("kept")
        self.record = record_run(plan, outcomes, self.record)
        self.shown = shown
        return shown


# --- the comparison ---------------------------------------------------------------------------


def check_sequence(
    case: Case,
    full: Runner,
    incremental: Runner,
    namespaces: Callable[[], tuple[dict[str, str], dict[str, str]]] | None = None,
) -> None:
    """Run every step both ways and assert that they show the same."""
    for number, step in enumerate(case.steps, 1):
        expected = full(step.script)
        got = incremental(step.script)
        where = f"{case.name}, step {number}"
        assert [s.comparable() for s in got] == [s.comparable() for s in expected], where
        if step.runs is not None:
            ran = tuple(s.line_start for s in got if not s.cached)
            assert ran == step.runs, f"{where}: ran the statements at lines {ran}"
        if namespaces is not None and all(s.status == "ok" for s in expected):
            # After an error the names the stopped statements would have bound differ from
            # a fresh run's by design (the gateway does not clear the namespace).
            want, have = namespaces()
            assert have == want, f"{where}: the namespaces differ"


CASES = load_corpus()


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert all(len(case.steps) >= 2 for case in CASES), [c.name for c in CASES if len(c.steps) < 2]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
@pytest.mark.usefixtures("pyplot_backend")
def test_incremental_matches_full_run(case: Case, tmp_path: Path) -> None:
    workdir = tmp_path / "incremental"
    workdir.mkdir()
    full = ReferenceFull(source=workdir, scratch=tmp_path)
    incremental = ReferenceIncremental(workdir)

    def namespaces() -> tuple[dict[str, str], dict[str, str]]:
        return plain_names(full.namespace), plain_names(incremental.namespace)

    check_sequence(case, full, incremental, namespaces)


def test_a_wrong_plan_is_caught(tmp_path: Path) -> None:
    """The harness fails when kept results are stale (the planner under test is not trusted)."""
    case = Case(
        "stale",
        (Step("x = 1\nprint(x)\n", None), Step("x = 2\nprint(x)\n", None)),
    )
    workdir = tmp_path / "incremental"
    workdir.mkdir()
    full = ReferenceFull(source=workdir, scratch=tmp_path)
    incremental = ReferenceIncremental(workdir)
    keep_everything: Runner

    def keep_everything(script: str) -> list[Shown]:
        if incremental.record is None:
            return incremental(script)
        return [dataclass_replace_cached(s) for s in incremental.shown]

    with pytest.raises(AssertionError, match="stale, step 2"):
        check_sequence(case, full, keep_everything)


def dataclass_replace_cached(shown: Shown) -> Shown:
    return Shown(shown.line_start, shown.line_end, shown.status, shown.output, cached=True)
