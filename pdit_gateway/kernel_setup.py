"""Script semantics inside a Python kernel: scripts run as python runs them.

This module's source is sent to each Python kernel when the gateway connects to it and runs
there as a module of its own (``_pdit_gateway_kernel``), so it also works on remote kernels
that do not have pdit_gateway installed: it imports only the standard library, and IPython
and matplotlib from inside functions. Nothing here runs in the gateway's process.

What it changes is scoped to the requests the gateway marks as script statements (their
``execute_request`` metadata holds ``pdit_gateway: {"line": N}``); notebook cells and other
clients of the kernel keep IPython's behaviour:

- each statement is compiled under the script's path with its true line numbers, and the
  script's text is in ``linecache``, so tracebacks, warnings and ``inspect`` name the file;
- an exception is reported as python reports it (``File "...", line N, in <module>``);
- ``SystemExit`` (``sys.exit``, ``exit()``) ends the run with python's exit status;
- ``begin()``, sent before each run, sets ``__file__``, ``sys.argv``, ``sys.path[0]`` and, for a
  run from the top, the working directory; it forgets sibling modules edited on disk;
- matplotlib draws with a backend of this module's: figures appear when the script shows
  them (``plt.show()``, ``fig.show()``, a figure as a bare expression, ``display(fig)``).
"""

from __future__ import annotations

import ast
import base64
import contextlib
import importlib
import importlib.abc
import importlib.util
import io
import linecache
import os
import sys
import time
import traceback
import warnings
import weakref
from typing import Any

#: The name this module has in the kernel's ``sys.modules``.
MODULE_NAME = "_pdit_gateway_kernel"
#: The matplotlib backend module this module defines (``module://`` + this name).
BACKEND_NAME = "_pdit_gateway_mpl"
#: The key of an ``execute_request``'s metadata that marks a script statement.
METADATA_KEY = "pdit_gateway"
#: The file name this module's code has in the kernel (tracebacks leave its frames out).
SETUP_FILENAME = "<pdit_gateway kernel set-up>"
#: The backend ipykernel chooses when the environment names none.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"

#: Seconds an ``input_request`` is sent again while the kernel does not know its client yet.
INPUT_ROUTE_WAIT = 10.0

_EXIT_HINT = "To exit: use 'exit', 'quit', or Ctrl-D."


class _State:
    """What the kernel knows of the script being run."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.home = os.getcwd()
        self.path = "<script>"
        self.named = False
        self.entry: tuple[int, None, list[str], str] | None = None
        self.folder: str | None = None
        self.modules_checked_at = time.time_ns()
        self.shown: weakref.WeakSet[Any] = weakref.WeakSet()
        self.original_showtraceback = shell.showtraceback
        self.original_cache = shell.compile.cache
        self.original_showwarning = warnings.showwarning
        self.hide_exit_hint = False
        self.tables = False
        self.tables_init: str | None = None


_state: _State | None = None


def _statement_line() -> int | None:
    """Return the first line of the script statement being executed, or None if it is not one."""
    state = _state
    if state is None:
        return None
    kernel = getattr(state.shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent("shell")
    except Exception:
        return None
    marker = ((parent or {}).get("metadata") or {}).get(METADATA_KEY)
    if not isinstance(marker, dict):
        return None
    line = marker.get("line")
    return line if isinstance(line, int) and line >= 1 else None


class _LineOffset(ast.NodeTransformer):
    """Move a statement's code to the lines it has in the script."""

    def visit(self, node: ast.AST) -> ast.AST:
        line = _statement_line()
        if line is not None and line > 1:
            ast.increment_lineno(node, line - 1)
        return node


def _cache(transformed_code: str, number: int = 0, raw_code: str | None = None) -> str:
    """IPython's code cache, giving a script statement the script's path as its file name."""
    state = _state
    assert state is not None
    if _statement_line() is None or state.entry is None:
        return state.original_cache(transformed_code, number, raw_code)  # type: ignore[no-any-return]
    # the whole script, not the statement, is what linecache holds under the script's path
    linecache.cache[state.path] = state.entry
    return state.path


def _user_frames(tb: Any, shell: Any) -> Any:
    """Skip the traceback entries of IPython's own frames, above the script's."""
    first = tb
    while tb is not None and tb.tb_frame.f_globals is not shell.user_global_ns:
        tb = tb.tb_next
    return tb if tb is not None else first


def _hide_setup_frames(exception: traceback.TracebackException) -> None:
    """Cut each stack at this module's first frame: what the script called (``input()``)
    is where python's traceback ends, not in the kernel's machinery behind it."""
    seen: set[int] = set()
    pending = [exception]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for position, frame in enumerate(current.stack):
            if frame.filename == SETUP_FILENAME:
                del current.stack[position:]
                break
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _exit_status(code: Any) -> int:
    """Return the exit status python gives ``SystemExit(code)``, printing a message as it does."""
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code)
    print(code, file=sys.stderr)
    return 1


def _showtraceback(
    exc_tuple: Any = None,
    filename: Any = None,
    tb_offset: Any = None,
    exception_only: bool = False,
    running_compiled_code: bool = False,
) -> None:
    """IPython's ``showtraceback``, reporting a script statement's exception as python does."""
    state = _state
    assert state is not None
    shell = state.shell
    if _statement_line() is None:
        state.original_showtraceback(
            exc_tuple, filename, tb_offset, exception_only, running_compiled_code
        )
        return
    try:
        etype, value, tb = shell._get_exc_info(exc_tuple)
    except ValueError:
        state.original_showtraceback(
            exc_tuple, filename, tb_offset, exception_only, running_compiled_code
        )
        return
    if issubclass(etype, SystemExit):
        # python prints nothing for an int status, the message for any other value
        status = _exit_status(value.code)
        shell._showtraceback(SystemExit, SystemExit(status), [])
        state.hide_exit_hint = True  # IPython's "To exit: use 'exit'…" warning comes next
        return
    exception = traceback.TracebackException(etype, value, _user_frames(tb, shell))
    _hide_setup_frames(exception)
    text = "".join(exception.format())
    shell._showtraceback(etype, value, text.rstrip("\n").split("\n"))


def _showwarning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning``, leaving out IPython's exit hint after a script's ``sys.exit``."""
    state = _state
    assert state is not None
    if state.hide_exit_hint:
        state.hide_exit_hint = False
        if str(message) == _EXIT_HINT:
            return
    state.original_showwarning(message, category, filename, lineno, file, line)


class _Quitter:
    """``exit`` and ``quit`` as python's ``site`` defines them: they raise ``SystemExit``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Use {self.name}() or Ctrl-D (i.e. EOF) to exit"

    def __call__(self, code: Any = None) -> None:
        raise SystemExit(code)


def _deliver_input_requests(kernel: Any) -> None:
    """Make ipykernel's ``input_request`` wait for its client instead of being lost.

    ipykernel's stdin socket drops a message for a client it does not know yet; a client that
    connected shortly before (the gateway connects just before the first run) may not be known
    at the first ``input()``, which then waited forever (about one first run in ten). With
    ``ROUTER_MANDATORY`` such a send fails instead, and the request is sent again until the
    client is known (``INPUT_ROUTE_WAIT`` seconds at most, then the error is the script's).
    """
    import zmq

    socket = getattr(kernel, "stdin_socket", None)
    original = getattr(kernel, "_input_request", None)
    if socket is None or original is None:
        return
    socket.router_mandatory = 1

    def input_request(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + INPUT_ROUTE_WAIT
        while True:
            try:
                return original(*args, **kwargs)
            except zmq.ZMQError as err:
                if err.errno != zmq.EHOSTUNREACH or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    kernel._input_request = input_request


def _wrap_raw_input(kernel: Any) -> None:
    """Make ``input()`` at the end of its input raise python's ``EOFError`` message."""
    original = kernel.raw_input

    def raw_input(prompt: str = "") -> str:
        try:
            return str(original(prompt))
        except EOFError:
            raise EOFError("EOF when reading a line") from None

    kernel.raw_input = raw_input


# -- matplotlib ----------------------------------------------------------------------------


def _png(figure: Any) -> bytes:
    """Render ``figure`` as python's window shows it: the whole figure at its size and dpi."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi="figure", bbox_inches=None)
    # savefig marks the figure changed (it sets the dpi back); what was drawn is current
    figure.stale = False
    return buffer.getvalue()


def _format_figure(figure: Any) -> bytes | None:
    """IPython's ``image/png`` formatter for a figure that is displayed or a bare expression."""
    if not figure.axes and not figure.lines and not figure.images:
        return None  # an empty figure shows as its text, as IPython shows it
    data = _png(figure)
    if _state is not None:
        _state.shown.add(figure)
    return data


def _display(figure: Any) -> None:
    """Show ``figure`` beside the statement, as the bundle IPython gives a displayed figure."""
    from IPython.display import display

    data = _png(figure)
    if _state is not None:
        _state.shown.add(figure)
    bundle = {"image/png": base64.b64encode(data).decode("ascii"), "text/plain": repr(figure)}
    display(bundle, raw=True)  # type: ignore[no-untyped-call]


def _backend_namespace() -> dict[str, Any]:
    """Return the names of the matplotlib backend module (imports matplotlib)."""
    from matplotlib._pylab_helpers import Gcf
    from matplotlib.backend_bases import FigureManagerBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    class FigureManager(FigureManagerBase):
        """A figure of the script: ``fig.show()`` shows it beside the line."""

        def show(self) -> None:
            _display(self.canvas.figure)

    def new_figure_manager_given_figure(num: Any, figure: Any) -> Any:
        return FigureManager(FigureCanvasAgg(figure), num)

    def new_figure_manager(num: Any, *args: Any, FigureClass: Any = Figure, **kwargs: Any) -> Any:
        return new_figure_manager_given_figure(num, FigureClass(*args, **kwargs))

    def show(*args: Any, block: Any = None, **kwargs: Any) -> None:
        """Show every open figure (once: a shown figure that did not change is not shown
        again), then close them, as python's ``plt.show()`` does once its windows close."""
        state = _state
        for manager in Gcf.get_all_fig_managers():
            figure = manager.canvas.figure
            if state is not None and figure in state.shown and not figure.stale:
                continue
            _display(figure)
        Gcf.destroy_all()

    def draw_if_interactive() -> None:
        """Nothing: figures are shown when the script shows them."""

    return {
        "FigureCanvas": FigureCanvasAgg,
        "FigureManager": FigureManager,
        "new_figure_manager": new_figure_manager,
        "new_figure_manager_given_figure": new_figure_manager_given_figure,
        "show": show,
        "draw_if_interactive": draw_if_interactive,
    }


class _BackendLoader(importlib.abc.Loader):
    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        module.__dict__.update(_backend_namespace())


class _BackendFinder(importlib.abc.MetaPathFinder):
    """Makes ``import _pdit_gateway_mpl`` work without a file (the kernel may be remote)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != BACKEND_NAME:
            return None
        return importlib.util.spec_from_loader(fullname, _BackendLoader())


def _use_script_backend(shell: Any) -> None:
    """Draw with this module's backend unless the kernel or the script chose another."""
    target = "module://" + BACKEND_NAME
    chosen = os.environ.get("MPLBACKEND", "")
    if chosen not in ("", INLINE_BACKEND, target):
        return
    os.environ["MPLBACKEND"] = target
    png = shell.display_formatter.formatters["image/png"]
    png.for_type_by_name("matplotlib.figure", "Figure", _format_figure)
    mpl = sys.modules.get("matplotlib")
    if mpl is None:
        return
    current = str(mpl.rcParams._get_backend_or_none() or "")
    if current in (target,) or current not in ("", INLINE_BACKEND):
        return
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.switch_backend(target)
    else:
        mpl.use(target)
    figure = sys.modules.get("matplotlib.figure")
    if figure is not None:  # the inline backend registered its own formatter by type
        png.for_type(figure.Figure, _format_figure)


# -- per run -------------------------------------------------------------------------------


def _is_local_module(name: str, module: Any, prefix: str, installed: tuple[str, ...]) -> bool:
    """Whether ``module`` was imported from the script's folder (not Python's own or installed)."""
    if name == "__main__":
        return False  # the kernel's namespace, whose __file__ the script's run sets
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or not file.startswith(prefix):
        return False
    if "site-packages" in file or "dist-packages" in file:
        return False
    return not any(file.startswith(place) for place in installed)


def _forget_modules(folder: str, everything: bool) -> None:
    """Drop the modules imported from the script's folder, so they import afresh as they do
    in a new python process: all of them (a run from the top), or those edited since the
    last run."""
    state = _state
    assert state is not None
    prefix = os.path.join(folder, "")
    installed = tuple(
        os.path.join(place, "") for place in {sys.prefix, sys.base_prefix, sys.exec_prefix}
    )
    checked_at = state.modules_checked_at
    state.modules_checked_at = time.time_ns()
    for name, module in list(sys.modules.items()):
        if not _is_local_module(name, module, prefix, installed):
            continue
        if not everything:
            try:
                if os.stat(str(module.__file__)).st_mtime_ns < checked_at:
                    continue
            except OSError:
                continue
        del sys.modules[name]
    importlib.invalidate_caches()


def _interactive_table(frame: Any) -> str | None:
    """``text/html`` of a DataFrame as an interactive table (itables, all its code inline)."""
    state = _state
    assert state is not None
    try:
        import itables
        from itables.javascript import generate_init_offline_itables_html
    except ImportError:
        return None
    if state.tables_init is None:
        state.tables_init = str(generate_init_offline_itables_html(itables.options.dt_bundle))
    table = itables.to_html_datatable(frame, connected=False, display_logo_when_loading=False)
    return state.tables_init + str(table)


def _use_interactive_tables(shell: Any) -> None:
    """Show pandas and polars DataFrames as interactive tables, as pdit's own kernel does,
    when itables is installed (checked when a frame is shown)."""
    state = _state
    assert state is not None
    if state.tables:
        return
    state.tables = True
    html = shell.display_formatter.formatters["text/html"]
    # by the module a class says it is in: pandas 3 and polars name their top-level package
    for module in ("pandas", "pandas.core.frame", "polars", "polars.dataframe.frame"):
        html.for_type_by_name(module, "DataFrame", _interactive_table)


def begin(path: str | None, text: str, fresh: bool, tables: bool = False) -> None:
    """Prepare a run of the script ``text`` (sent by the gateway before its first statement).

    Parameters
    ----------
    path : str or None
        The script's absolute path, or None when the client named no file.
    text : str
        The script as the client sent it (maybe unsaved): what tracebacks quote.
    fresh : bool
        True for a run from the script's first line: it starts as ``python script.py``
        starts, in the kernel's working directory and with fresh warning registries.
    tables : bool, optional
        Show DataFrames as interactive tables from now on (pdit's client asks for them).
    """
    state = _state
    assert state is not None
    shell = state.shell
    user_ns = shell.user_ns
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    state.path = path or "<script>"
    state.named = path is not None
    state.entry = (len(text), None, lines, state.path)
    linecache.cache[state.path] = state.entry
    _use_script_backend(shell)
    if tables:
        _use_interactive_tables(shell)
    if fresh:
        with contextlib.suppress(OSError):
            os.chdir(state.home)
        user_ns.pop("__warningregistry__", None)
    user_ns["exit"] = _Quitter("exit")
    user_ns["quit"] = _Quitter("quit")
    if path is None:
        return
    folder = os.path.dirname(path)
    user_ns["__file__"] = path
    sys.argv = [path]
    # python puts the script's folder first on the path, where IPython put the working directory
    replaceable = ("", state.home, os.getcwd(), state.folder)
    if sys.path and sys.path[0] in replaceable:
        sys.path[0] = folder
    elif folder not in sys.path[:1]:
        sys.path.insert(0, folder)
    state.folder = folder
    _forget_modules(folder, everything=fresh)


def install(shell: Any) -> None:
    """Install script semantics in ``shell`` (an ipykernel ``ZMQInteractiveShell``), once."""
    global _state
    if _state is not None:
        return
    state = _state = _State(shell)
    shell.ast_transformers.append(_LineOffset())
    shell.compile.cache = _cache
    shell.showtraceback = _showtraceback
    kernel = getattr(shell, "kernel", None)
    if kernel is not None and hasattr(kernel, "raw_input"):
        _wrap_raw_input(kernel)
        _deliver_input_requests(kernel)
    warnings.showwarning = _showwarning
    sys.meta_path.insert(0, _BackendFinder())
    del state
