"""What each top-level statement of a script reads and writes, read from its syntax tree."""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from pdit_gateway.splitter import Statement

__all__ = [
    "BARRIER",
    "CONFIG",
    "FIGURES",
    "FILES",
    "PURE_METHODS",
    "STATES",
    "VALUE_METHODS",
    "Call",
    "Effects",
    "analyze_source",
    "analyze_statement",
    "call_name",
    "classify_call",
    "closes_every_figure",
    "module_name",
    "pyplot_call_kind",
    "state_of",
    "states_within",
]

# Pseudo-names: they are not identifiers, so no script can bind them.
FILES = "<files>"
"""The file system (and the working directory): read by file reads, written by file writes."""

BARRIER = "<barrier>"
"""In ``lazy_reads``: a function body the analysis cannot see through (callers become barriers)."""


FIGURES = "<figures>"
"""pyplot's open figures: written by every call of matplotlib, pyplot or seaborn, and by plot
methods; ``plt.show()`` and ``plt.close("all")`` leave none open (``Effects.closes_figures``)."""

CONFIG = "<pyplot-config>"
"""matplotlib's configuration (rcParams, styles, seaborn's themes, registries): read by every
call of matplotlib, pyplot, seaborn and pandas.plotting, written by those that are not known to
only draw (:func:`pyplot_call_kind`). No ``plt.show()`` resets it."""


def call_name(index: int) -> str:
    """Return the pseudo-name standing for what the result of a statement's call ``index`` shares.

    It appears in ``Effects`` (aliases, mutations, iterations, calls) in place of the names
    the call was passed, which the result shares when the callee is not a value's method;
    :func:`pdit_gateway.incremental.resolve_flows` replaces it.
    """
    return f"<call:{index}>"


def module_name(name: str) -> str:
    """Return the pseudo-name read by a statement that imports the top-level module ``name``."""
    return f"<module:{name}>"


@dataclass(frozen=True, slots=True)
class Call:
    """A call whose effect depends on what its callee's root name is bound to (``Effects.calls``).

    Attributes
    ----------
    root : str or None
        The global name the callee's dotted path starts with (``np`` in ``np.random.seed(1)``,
        ``load`` in ``load()``); ``None`` when the callee is not such a path (a method of a
        call's result: ``df.groupby("a").sum()``).
    path : str
        The rest of the dotted path (``random.seed``; empty for a plain name).
    method : str or None
        The attribute called (``seed``); ``None`` for a plain name.
    receivers : frozenset of str
        Global names the object whose method is called may be (empty for a plain name).
    passed : frozenset of str
        Global names whose objects are passed, positionally or by keyword.
    out : frozenset of str
        Those passed as ``out=``, ``ax=``, ``axes=``, ``cax=``, ``fig=`` or ``figure=``: an
        object the call writes into.
    inplace : bool
        ``inplace=`` is given a value other than a literal ``False`` (or ``**kwargs``).
    now, later : bool
        The call runs while the statement runs; it runs later (in a function body).
    """

    root: str | None
    path: str
    method: str | None
    receivers: frozenset[str]
    passed: frozenset[str]
    out: frozenset[str] = frozenset()
    inplace: bool = False
    now: bool = True
    later: bool = False


@dataclass(frozen=True, slots=True)
class Effects:
    """What one statement does to the global namespace when it runs.

    Attributes
    ----------
    reads : frozenset of str
        Global names (builtins included) the statement may read while it runs, and the
        pseudo-names :data:`FILES` and ``module_name(m)`` for the file system and the modules
        it imports.
    binds : frozenset of str
        Global names it may bind, rebind or delete (assignments of every form, imports,
        ``def``/``class``, ``del``, loop/``with``/``except``/``match`` targets, a walrus in a
        comprehension), and :data:`FILES` when it may write files.
    mutates : frozenset of str
        Global names whose objects it may change in place: the root of an attribute or
        subscript store or ``del`` (``obj.a = 1``, ``d["k"] = 1``), the target of an augmented
        assignment, and every name passed to a function that is a local of a function body
        or the result of a call. What the other calls change depends on what their callee
        is bound to: see ``calls``.
    lazy_reads : frozenset of str
        Global names read by code the statement creates and that runs later: bodies of
        functions, lambdas, methods and generator expressions. Whoever reads the function's
        name (to call it) reads these. :data:`BARRIER` is among them when such a body cannot
        be analysed.
    lazy_writes : frozenset of str
        Global names that code bound or mutated by such bodies (``global x`` then
        ``x = ...``; ``obj.a = 1`` on a global ``obj``); their calls are in ``calls``.
    lazy_binds : frozenset of str
        Those of ``lazy_writes`` that such bodies may bind (``global x`` then ``x = ...``).
    aliases : tuple of (str, frozenset of str)
        ``(name, sources)``: after the statement, the object named ``name`` may share
        structure with the objects named by ``sources`` (``ys = xs``, ``xs.append(y)``,
        ``fig, ax = plt.subplots()``), so a later mutation of one may change the others.
    modules : frozenset of str
        Top-level names of the modules it imports (also inside function bodies, and through
        ``importlib.import_module`` or ``__import__`` with a literal name).
    barrier : tuple of str
        Why the analysis cannot see what the statement reads or writes (``exec``,
        ``globals()``, a star import, an IPython magic, ...); empty when it can.
    iterates : frozenset of str
        Global names whose values it iterates (``for``, comprehensions, ``list(g)``,
        unpacking, ``*g``, ``in``): iterating an iterator or generator consumes it, so this
        is a mutation unless the value is known to be a collection (see ``collections``).
    collections : frozenset of str
        Names it binds to a value that iterating does not change: a list, tuple, set, dict,
        string or number literal, display or comprehension, or a call of ``list``, ``tuple``,
        ``set``, ``dict``, ``sorted``, ``range``, ``str``, ...
    collection_functions : frozenset of str
        Functions it defines (undecorated, not generators) whose every ``return`` returns
        such a value.
    results : tuple of (str, str)
        ``(name, function)`` for each ``name = function(...)`` of a global function: the name
        holds a collection when the function is one of ``collection_functions``.
    calls : tuple of Call
        Its calls of methods (``xs.append(1)``, ``np.mean(xs)``) and of global names
        (``load()``, ``shuffle(xs)``), now or in the bodies it defines, but known pure
        builtins: what each changes depends on whether its root name is a module or a value,
        which the planner knows (:func:`pdit_gateway.incremental.resolve_flows`).
    imports : tuple of (str, str)
        ``(name, what)`` for each global name that only ``import`` or ``from ... import``
        binds in the statement, with the dotted name of what it binds (``np`` →
        ``numpy``, ``plt`` → ``matplotlib.pyplot``, ``sqrt`` → ``math.sqrt``).
    creates_code : bool
        The statement creates code that outlives it (a function, lambda, method or
        generator): its line numbers show in later tracebacks and warnings.
    closes_figures : tuple of (str, str) or None
        ``(root, path)`` of the callee when the statement ends with a top-level call shaped
        like one that closes every pyplot figure — ``<root>.show()`` (no argument but
        ``block=True``) or ``<root>.close("all")``, ``("plt", "show")`` — for the planner to
        check that the root is pyplot's (:func:`closes_every_figure`).
    """

    reads: frozenset[str] = frozenset()
    binds: frozenset[str] = frozenset()
    mutates: frozenset[str] = frozenset()
    lazy_reads: frozenset[str] = frozenset()
    lazy_writes: frozenset[str] = frozenset()
    lazy_binds: frozenset[str] = frozenset()
    aliases: tuple[tuple[str, frozenset[str]], ...] = ()
    modules: frozenset[str] = frozenset()
    barrier: tuple[str, ...] = ()
    iterates: frozenset[str] = frozenset()
    collections: frozenset[str] = frozenset()
    collection_functions: frozenset[str] = frozenset()
    results: tuple[tuple[str, str], ...] = ()
    calls: tuple[Call, ...] = ()
    imports: tuple[tuple[str, str], ...] = ()
    creates_code: bool = False
    closes_figures: tuple[str, str] | None = None

    @property
    def writes(self) -> frozenset[str]:
        """The names bound or mutated (not counting calls, aliases or function bodies)."""
        return self.binds | self.mutates


# Calls that read their arguments without changing them (and do not touch the file system).
_PURE_BUILTINS = frozenset(
    {
        "abs", "all", "any", "ascii", "bin", "bool", "bytes", "callable", "chr", "complex",
        "dict", "display", "divmod", "enumerate", "filter", "float", "format", "frozenset",
        "getattr", "hasattr", "hash", "hex", "id", "int", "isinstance", "issubclass", "iter",
        "len", "list", "map", "max", "min", "oct", "ord", "pow", "print", "range", "repr",
        "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "type", "zip",
    }
)  # fmt: skip
# Calls whose result shares nothing with their arguments (an immutable value).
_FRESH_RESULT_BUILTINS = frozenset(
    {
        "abs", "all", "any", "ascii", "bin", "bool", "callable", "chr", "divmod", "float",
        "format", "hasattr", "hash", "hex", "id", "int", "isinstance", "issubclass", "len",
        "oct", "ord", "repr", "round", "str",
    }
)  # fmt: skip
# Builtins that iterate their positional arguments.
_ITERATING_BUILTINS = frozenset(
    {
        "all", "any", "dict", "enumerate", "filter", "frozenset", "list", "map", "max", "min",
        "reversed", "set", "sorted", "sum", "tuple", "zip", "bytes", "bytearray",
    }
)  # fmt: skip
# Builtins whose result iterating does not consume.
_COLLECTION_BUILTINS = frozenset(
    {
        "list", "tuple", "set", "frozenset", "dict", "sorted", "range", "str", "bytes",
        "bytearray", "int", "float", "len", "sum", "min", "max", "abs", "round", "repr",
    }
)  # fmt: skip
# Keywords naming an object a call writes into (``np.add(a, b, out=c)``, ``sns.kdeplot(x, ax=ax)``).
_OUT_KEYWORDS = frozenset({"out", "ax", "axes", "cax", "fig", "figure"})
# Methods that draw into pyplot's current figure whatever the receiver (pandas' ``df.plot()``,
# ``df.hist()``, ``df.boxplot()``, and every method of the ``df.plot`` accessor).
_PLOT_METHODS = frozenset({"plot", "hist", "boxplot"})
# Names whose use hides what a statement reads or writes.
_BARRIER_NAMES = {
    "exec": "exec() runs code the analysis cannot see",
    "eval": "eval() runs code the analysis cannot see",
    "globals": "globals() exposes the whole namespace",
    "locals": "locals() exposes the whole namespace",
    "get_ipython": "IPython's get_ipython() can run anything",
    "breakpoint": "breakpoint() can change anything",
}
# ``module.attribute`` uses that hide what a statement reads or writes.
_BARRIER_ATTRIBUTES = {
    ("sys", "modules"): "sys.modules reaches every module's namespace",
    ("sys", "_getframe"): "frame objects expose the namespace",
    ("inspect", "currentframe"): "frame objects expose the namespace",
    ("inspect", "stack"): "frame objects expose the namespace",
    ("builtins", "__dict__"): "the builtins' namespace",
}
# Method names that read or write files whatever the receiver (pandas, numpy, pathlib, ...).
_FILE_WRITE_METHODS = frozenset(
    {
        "to_csv", "to_excel", "to_feather", "to_hdf", "to_html", "to_json", "to_latex",
        "to_markdown", "to_parquet", "to_pickle", "to_sql", "to_stata", "to_xml", "tofile",
        "savefig", "savez", "savez_compressed", "savetxt", "write_text", "write_bytes",
        "touch", "mkdir", "makedirs", "unlink", "rmdir", "removedirs", "rmtree", "chdir",
        "symlink_to", "hardlink_to", "open", "urlretrieve", "extractall",
    }
)  # fmt: skip
_FILE_READ_METHODS = frozenset(
    {
        "read_csv", "read_excel", "read_feather", "read_fwf", "read_hdf", "read_html",
        "read_json", "read_parquet", "read_pickle", "read_sql", "read_stata", "read_table",
        "read_xml", "loadtxt", "genfromtxt", "fromfile", "read_text", "read_bytes",
        "is_file", "is_dir", "isfile", "isdir", "getsize", "getmtime", "listdir", "scandir",
        "rglob", "iglob", "iterdir", "imread", "getcwd", "samefile",
    }
)  # fmt: skip
# Modules whose every call may touch files (but those in _NO_FILE_FUNCTIONS), and calls of
# other modules that do; a method name alone (``remove``, ``copy``, ``load``) would also
# match lists and data frames.
_FILE_MODULES = frozenset({"os", "os.path", "shutil", "subprocess", "glob", "tempfile", "pathlib"})
_FILE_FUNCTIONS = frozenset(
    {
        "json.dump", "json.load", "pickle.dump", "pickle.load", "np.save", "np.load",
        "numpy.save", "numpy.load", "joblib.dump", "joblib.load", "torch.save", "torch.load",
        "csv.reader", "csv.writer", "csv.DictReader", "csv.DictWriter", "gzip.open",
        "zipfile.ZipFile", "tarfile.open", "sqlite3.connect", "Image.open", "plt.imread",
        "urllib.request.urlopen", "tomllib.load", "yaml.safe_load", "yaml.dump",
    }
)  # fmt: skip
# Calls of those modules that touch no file (the rest count as file I/O).
_NO_FILE_FUNCTIONS = frozenset(
    {
        "os.path.join", "os.path.basename", "os.path.dirname", "os.path.splitext",
        "os.path.split", "os.getenv", "os.cpu_count", "os.getpid", "os.fspath",
        "pathlib.Path", "pathlib.PurePath",
    }
)  # fmt: skip


# --- what calls of well-known libraries change ----------------------------------------------
#
# Keyed by what the callee is (``numpy.mean``, whatever name the script imported it as).

# Modules whose functions change neither what they are passed nor any state of their own
# (the exceptions are in _ARGUMENT_CHANGERS and _OWN_STATE_FUNCTIONS). Deeper paths
# (``numpy.ndarray.sort``, ``pandas.DataFrame.dropna``) are methods called through their
# class: pure only when the method is in _PURE_METHODS.
_PURE_MODULES = frozenset(
    {
        "math", "cmath", "statistics", "json", "os.path", "posixpath", "ntpath", "numpy",
        "numpy.linalg", "numpy.fft", "pandas", "string", "re", "textwrap", "fractions",
        "copy", "itertools", "collections", "time", "datetime", "difflib", "pprint",
        "unicodedata", "base64", "hashlib", "binascii", "html", "urllib.parse", "shlex",
        "fnmatch", "heapq", "bisect", "operator", "keyword",
    }
)  # fmt: skip
# Modules with a state of their own, every call reading and changing it (the pseudo-name).
_STATE_MODULES = {
    "random": "<state:random>",
    "numpy.random": "<state:numpy.random>",
    "matplotlib": FIGURES,
    "seaborn": FIGURES,
    "pandas.plotting": FIGURES,
}
# Functions of those modules that change what they are passed (all of it, conservatively).
_ARGUMENT_CHANGERS = frozenset(
    {
        "random.shuffle", "numpy.random.shuffle", "numpy.copyto", "numpy.put", "numpy.place",
        "numpy.putmask", "numpy.fill_diagonal", "numpy.put_along_axis", "heapq.heappush",
        "heapq.heappop", "heapq.heapify", "heapq.heapreplace", "heapq.heappushpop",
        "bisect.insort", "bisect.insort_left", "bisect.insort_right", "json.dump",
        "json.load", "numpy.nan_to_num", "operator.setitem", "operator.delitem",
        "operator.iadd", "operator.iand", "operator.iconcat", "operator.ifloordiv",
        "operator.ilshift", "operator.imod", "operator.imul", "operator.imatmul", "operator.ior",
        "operator.ipow", "operator.irshift", "operator.isub", "operator.itruediv",
        "operator.ixor", "matplotlib.pyplot.setp",
        "matplotlib.artist.setp", "matplotlib.pyplot.colorbar", "matplotlib.pyplot.sca",
        "matplotlib.pyplot.close", "matplotlib.pyplot.delaxes", "matplotlib.pyplot.savefig",
    }
)  # fmt: skip
# Functions of those modules that create a new object and touch no state (a seeded generator).
_FRESH_FUNCTIONS = frozenset(
    {
        "random.Random", "numpy.random.default_rng", "numpy.random.Generator",
        "numpy.random.RandomState", "numpy.random.SeedSequence", "numpy.random.PCG64",
        "numpy.random.MT19937", "numpy.random.Philox", "numpy.random.SFC64",
    }
)  # fmt: skip
# Functions that set options of their module (how values print, how errors are raised):
# treated as unknown calls (they change the module; its later users run again).
_OWN_STATE_FUNCTIONS = frozenset(
    {
        "numpy.set_printoptions", "numpy.printoptions", "numpy.seterr", "numpy.errstate",
        "numpy.seterrcall", "numpy.setbufsize", "pandas.set_option", "pandas.reset_option",
        "pandas.option_context", "pandas.options", "re.purge",
    }
)  # fmt: skip
# Methods known not to change their receiver or what they are passed (unless given
# ``inplace=`` or ``out=``), common on numpy arrays, pandas objects, str, list, dict, set.
PURE_METHODS = frozenset(
    {
        # reductions and statistics
        "mean", "sum", "min", "max", "std", "var", "median", "prod", "cumsum", "cumprod",
        "cummax", "cummin", "argmin", "argmax", "argsort", "idxmin", "idxmax", "all", "any",
        "quantile", "describe", "nunique", "unique", "value_counts", "cov", "corr", "mode",
        "sem", "skew", "kurt", "ptp", "nonzero", "dot", "round", "abs", "clip",
        # new objects from old ones
        "copy", "astype", "reshape", "ravel", "flatten", "transpose", "swapaxes", "squeeze",
        "view", "take", "repeat", "searchsorted", "conj", "head", "tail", "groupby", "agg",
        "aggregate", "rolling", "expanding", "ewm", "resample", "shift", "diff",
        "pct_change", "rank", "isin", "isna", "isnull", "notna", "notnull", "between",
        "duplicated", "drop_duplicates", "dropna", "fillna", "drop", "rename",
        "sort_values", "sort_index", "reset_index", "set_index", "reindex", "merge", "join",
        "pivot", "pivot_table", "melt", "stack", "unstack", "explode", "where", "mask",
        "nlargest", "nsmallest", "select_dtypes", "assign", "equals", "memory_usage",
        "to_numpy", "to_list", "tolist", "to_dict", "to_frame", "to_string", "to_records",
        "tobytes", "item", "info", "filter",
        # str
        "format", "format_map", "split", "rsplit", "splitlines", "strip", "lstrip",
        "rstrip", "lower", "upper", "capitalize", "casefold", "swapcase",
        "replace", "startswith", "endswith", "find", "rfind", "index", "rindex", "count",
        "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "isnumeric",
        "isdecimal", "isidentifier", "zfill", "center", "ljust", "rjust", "rpartition",
        "encode", "decode", "expandtabs", "removeprefix", "removesuffix", "translate",
        # dict, set (reads)
        "keys", "values", "items", "get", "union", "intersection", "difference",
        "symmetric_difference", "issubset", "issuperset", "isdisjoint",
    }
)  # fmt: skip


# Methods of lists, dicts, sets, deques and arrays that change them; no module with a state
# has a function of these names (``plt.title("x")`` is not one of them).
VALUE_METHODS = frozenset(
    {
        "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update",
        "setdefault", "popitem", "add", "discard", "difference_update", "intersection_update",
        "symmetric_difference_update", "appendleft", "extendleft", "popleft", "rotate",
        "resize", "itemset", "setflags",
    }
)  # fmt: skip
STATES = frozenset({*_STATE_MODULES.values(), CONFIG})
"""The pseudo-names of the modules' states (``<state:random>``, :data:`FIGURES`, ...)."""

# Calls of matplotlib, pyplot, seaborn and pandas.plotting that draw, create, show or close
# figures and leave the configuration alone (they read it): every other call of those modules
# may change it (``plt.style.use``, ``plt.rc``, ``mpl.use``, ``sns.set_theme``,
# ``plt.set_cmap``, ``plt.ion``, ...), which makes an unknown function rerun every later
# drawing statement when it is edited, never fewer.
_DRAWING_FUNCTIONS = frozenset(
    {
        f"matplotlib.pyplot.{name}"
        for name in (
            "figure", "subplots", "subplot", "subplot2grid", "subplot_mosaic", "axes", "gca",
            "gcf", "gci", "sca", "close", "clf", "cla", "show", "draw", "savefig", "plot",
            "scatter", "bar", "barh", "bar_label", "hist", "hist2d", "hexbin", "boxplot",
            "violinplot", "errorbar", "fill", "fill_between", "fill_betweenx", "step", "stem",
            "stairs", "stackplot", "pie", "imshow", "matshow", "pcolor", "pcolormesh",
            "contour", "contourf", "clabel", "quiver", "quiverkey", "streamplot", "barbs",
            "tricontour", "tricontourf", "tripcolor", "triplot", "semilogx", "semilogy",
            "loglog", "polar", "axhline", "axvline", "axhspan", "axvspan", "axline", "hlines",
            "vlines", "eventplot", "broken_barh", "acorr", "xcorr", "psd", "csd", "specgram",
            "magnitude_spectrum", "angle_spectrum", "phase_spectrum", "cohere", "spy", "ecdf",
            "table", "text", "annotate", "arrow", "figtext", "figimage", "suptitle",
            "supxlabel", "supylabel", "title", "xlabel", "ylabel", "xlim", "ylim", "xscale",
            "yscale", "xticks", "yticks", "minorticks_on", "minorticks_off", "tick_params",
            "ticklabel_format", "locator_params", "grid", "legend", "figlegend", "colorbar",
            "clim", "margins", "axis", "box", "autoscale", "tight_layout", "subplots_adjust",
            "twinx", "twiny", "delaxes", "setp", "getp", "get_fignums", "get_figlabels",
            "fignum_exists", "thetagrids", "rgrids",
        )
    }
    | {
        f"seaborn.{name}"
        for name in (
            "relplot", "scatterplot", "lineplot", "displot", "histplot", "kdeplot",
            "ecdfplot", "rugplot", "distplot", "catplot", "stripplot", "swarmplot", "boxplot",
            "violinplot", "boxenplot", "pointplot", "barplot", "countplot", "lmplot",
            "regplot", "residplot", "heatmap", "clustermap", "pairplot", "jointplot",
            "FacetGrid", "PairGrid", "JointGrid", "despine", "move_legend",
        )
    }
    | {
        f"pandas.plotting.{name}"
        for name in (
            "scatter_matrix", "andrews_curves", "parallel_coordinates", "lag_plot",
            "autocorrelation_plot", "bootstrap_plot", "radviz", "table", "boxplot",
            "boxplot_frame", "hist_frame", "hist_series",
        )
    }
)  # fmt: skip
# Modules of matplotlib's artists whose every call leaves the configuration alone.
_DRAWING_MODULES = frozenset(
    {
        "matplotlib.patches", "matplotlib.lines", "matplotlib.ticker", "matplotlib.colors",
        "matplotlib.gridspec", "matplotlib.figure", "matplotlib.markers",
        "matplotlib.transforms", "matplotlib.path", "matplotlib.collections",
        "matplotlib.text", "matplotlib.patheffects", "matplotlib.offsetbox",
        "matplotlib.legend_handler", "matplotlib.dates",
    }
)  # fmt: skip
# Calls that change the configuration only (not the open figures).
_CONFIGURING_FUNCTIONS = frozenset(
    {
        "matplotlib.rc", "matplotlib.rcdefaults", "matplotlib.rc_file",
        "matplotlib.rc_file_defaults", "matplotlib.rcParams.update", "matplotlib.style.use",
        "matplotlib.pyplot.rc", "matplotlib.pyplot.rcdefaults", "matplotlib.pyplot.rc_file",
        "matplotlib.pyplot.rc_file_defaults", "matplotlib.pyplot.rcParams.update",
        "matplotlib.pyplot.style.use", "seaborn.set_theme", "seaborn.set", "seaborn.set_style",
        "seaborn.set_context", "seaborn.set_palette", "seaborn.set_color_codes",
        "seaborn.reset_defaults", "seaborn.reset_orig", "matplotlib.dates.set_epoch",
    }
)  # fmt: skip
_CLOSING_FUNCTIONS = frozenset({"matplotlib.pyplot.show", "matplotlib.pyplot.close"})


def pyplot_call_kind(what: str) -> str:
    """Return what a call of the matplotlib, seaborn or pandas.plotting object ``what`` does.

    Returns
    -------
    str
        ``"drawing"``: it reads the figures and the configuration (:data:`CONFIG`) and
        changes the figures (``plt.plot``, ``sns.histplot``, ``matplotlib.patches.Circle``);
        ``"configuring"``: it reads and changes the configuration only (``plt.style.use``,
        ``plt.rc``, ``sns.set_theme``); ``"other"``: it may read and change both.
    """
    if what in _CONFIGURING_FUNCTIONS:
        return "configuring"
    if what in _DRAWING_FUNCTIONS or what.rpartition(".")[0] in _DRAWING_MODULES:
        return "drawing"
    return "other"


def closes_every_figure(what: str) -> bool:
    """Return whether a call of ``what`` shaped as ``Effects.closes_figures`` says closes every
    pyplot figure (``matplotlib.pyplot.show``, ``matplotlib.pyplot.close``)."""
    return what in _CLOSING_FUNCTIONS


def classify_call(what: str) -> tuple[str, str | None]:
    """Return what a call of the library object ``what`` (``numpy.mean``) changes.

    Parameters
    ----------
    what : str
        The callee's dotted name, through the import that bound its root.

    Returns
    -------
    tuple of (str, str or None)
        The kind — ``"pure"`` (nothing), ``"arguments"`` (what it is passed), ``"state"``
        (its module's state), ``"unknown"`` (its module and what it is passed) — and the
        pseudo-name of the module's state, if it has one.
    """
    module = _longest_module(what)
    state = _STATE_MODULES.get(module) if module is not None else None
    if what in _FRESH_FUNCTIONS:
        return "pure", None
    if what in _ARGUMENT_CHANGERS:
        return "arguments", state
    if module is None or _matches(what, _OWN_STATE_FUNCTIONS):
        return "unknown", None
    if state is not None:
        return "state", state
    rest = what[len(module) + 1 :].split(".") if what != module else []
    if len(rest) > 1 and rest[-1] not in PURE_METHODS:
        return "arguments", None  # a method through its class: ``numpy.ndarray.sort(a)``
    return "pure", None


def state_of(what: str) -> str | None:
    """Return the pseudo-name of the state of the module ``what`` belongs to, if it has one."""
    module = _longest_module(what)
    return _STATE_MODULES.get(module) if module is not None else None


def states_within(what: str) -> frozenset[str]:
    """Return the state pseudo-names an object holding the module ``what`` may change.

    ``r = np.random`` (or ``r = np``) then ``r.seed(1)`` changes numpy's random state;
    ``r = plt.rcParams`` then ``r["lines.linewidth"] = 3`` changes :data:`CONFIG`.
    """
    found = {
        state
        for module, state in _STATE_MODULES.items()
        if what == module or what.startswith(module + ".") or module.startswith(what + ".")
    }
    return frozenset(found | {CONFIG} if FIGURES in found else found)


def _longest_module(what: str) -> str | None:
    best: str | None = None
    for module in (*_PURE_MODULES, *_STATE_MODULES):
        if (what == module or what.startswith(module + ".")) and (
            best is None or len(module) > len(best)
        ):
            best = module
    return best


def _matches(what: str, names: frozenset[str]) -> bool:
    return any(what == n or what.startswith(n + ".") for n in names)


def analyze_statement(statement: Statement) -> Effects:
    """Return what a statement of :func:`pdit_gateway.splitter.split_script` reads and writes.

    Parameters
    ----------
    statement : Statement
        A statement of any kind.

    Returns
    -------
    Effects
        Nothing for a markdown statement; a barrier for a syntax error; for a lone f-string
        (run wrapped so that it displays as markdown) what the f-string reads.
    """
    if statement.kind == "markdown":
        return Effects()
    if statement.kind == "syntax-error":
        return Effects(barrier=("the script does not parse",))
    if statement.fstring:
        tree = _parse(statement.code)
        inner = (
            next((n for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)), None)
            if tree
            else None
        )
        if inner is not None:
            return _analyze_nodes([ast.Expr(inner)])
    return analyze_source(statement.code)


def analyze_source(code: str) -> Effects:
    """Return what a piece of top-level code reads and writes in the global namespace.

    Parameters
    ----------
    code : str
        One or more top-level statements. Code with IPython syntax (``%magic``, ``!cmd``)
        is read through IPython's transformation and is a barrier.

    Returns
    -------
    Effects
        The statement's effects; a barrier when the code cannot be parsed.
    """
    tree = _parse(code)
    if tree is None:
        transformed = _ipython_transform(code)
        tree = _parse(transformed) if transformed is not None else None
        if tree is None:
            return Effects(barrier=("the code does not parse",))
    return _analyze_nodes(tree.body)


def _parse(code: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _ipython_transform(code: str) -> str | None:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return None
    make_manager: Callable[[], TransformerManager] = TransformerManager
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result: str = make_manager().transform_cell(code)
    except Exception:
        return None
    return result


# --- scopes -----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Scope:
    """One scope met while walking a statement: the module, a class, a function, a comprehension."""

    kind: str  # "module", "class", "function", "comprehension"
    parent: _Scope | None
    immediate: bool  # its code runs while the statement runs
    deferred: bool  # its code may run later (called or iterated)
    locals: set[str] = field(default_factory=set)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)

    def owner(self, name: str) -> _Scope | None:
        """Return the scope a name read here belongs to, or None for the global namespace."""
        if self.kind == "module" or name in self.declared_global:
            return None
        if self.kind == "class":
            # A class body's unbound names fall back to the globals; counting every read as a
            # global read is safe (at worst the statement reruns when it need not).
            return None
        if name in self.locals and name not in self.declared_nonlocal:
            return self
        scope = self.parent
        while scope is not None and scope.kind != "module":
            if scope.kind != "class" and name in scope.locals and name not in scope.declared_global:
                return scope
            scope = scope.parent
        return None

    def store_owner(self, name: str) -> _Scope | None:
        """Return the scope a name bound here belongs to, or None for the global namespace."""
        if self.kind == "module" or name in self.declared_global:
            return None
        if self.kind == "class":
            return self
        return self.owner(name)


_Key = tuple[int, str]  # (id of the owning scope or 0 for globals, name)


class _Walker:
    """Walks one top-level statement, scope by scope, and collects its effects."""

    def __init__(self) -> None:
        self.reads: set[str] = set()
        self.binds: set[str] = set()
        self.lazy_reads: set[str] = set()
        self.lazy_binds: set[str] = set()
        self.modules: set[str] = set()
        self.barrier: list[str] = []
        self.creates_code = False
        self.iterated: list[tuple[_Key, bool, bool]] = []
        self.bound_kind: dict[str, bool] = {}  # global name -> bound to a collection
        # root, path, method, receivers, passed, out, inplace, immediate, deferred
        self.calls: list[
            tuple[str | None, str, str | None, frozenset[_Key], frozenset[_Key], frozenset[_Key],
                  bool, bool, bool]
        ] = []  # fmt: skip
        self.import_kinds: dict[str, set[str | None]] = {}  # global name -> what binds it
        self.collection_functions: set[str] = set()
        self.results: list[tuple[str, str]] = []
        # Mutations and aliasing are recorded per (scope, name) and resolved at the end, so a
        # local that holds a global (``ys = xs; ys.append(1)`` in a function) mutates it.
        self.mutated: list[tuple[_Key, bool, bool]] = []  # key, immediate, deferred
        self.alias_edges: dict[_Key, set[_Key]] = {}
        self.global_alias: list[tuple[str, frozenset[_Key]]] = []

    # --- recording --------------------------------------------------------------------------

    def key(self, scope: _Scope, name: str, store: bool = False) -> _Key:
        owner = scope.store_owner(name) if store else scope.owner(name)
        return (0, name) if owner is None else (id(owner), name)

    def read(self, scope: _Scope, name: str) -> None:
        if self.key(scope, name)[0] == 0:
            self._global_read(scope, name)

    def _global_read(self, scope: _Scope, name: str) -> None:
        if scope.immediate:
            self.reads.add(name)
        if scope.deferred:
            self.lazy_reads.add(name)

    def bind(
        self,
        scope: _Scope,
        name: str,
        sources: frozenset[_Key] = frozenset(),
        collection: bool = False,
        imported: str | None = None,
    ) -> None:
        key = self.key(scope, name, store=True)
        if key[0] == 0:
            if scope.immediate:
                self.binds.add(name)
                self.bound_kind[name] = collection
                self.import_kinds.setdefault(name, set()).add(
                    imported if scope.kind == "module" else None
                )
            if scope.deferred:
                self.lazy_binds.add(name)
            if sources:
                self.global_alias.append((name, sources))
        elif sources:
            self.alias_edges.setdefault(key, set()).update(sources)

    def mutate(self, scope: _Scope, keys: Iterable[_Key], linked: frozenset[_Key]) -> None:
        for key in keys:
            self.mutated.append((key, scope.immediate, scope.deferred))
            others = linked - {key}
            if others:
                if key[0] == 0:
                    self.global_alias.append((key[1], others))
                else:
                    self.alias_edges.setdefault(key, set()).update(others)

    def iterate(self, scope: _Scope, keys: Iterable[_Key]) -> None:
        for key in keys:
            self.iterated.append((key, scope.immediate, scope.deferred))

    def pseudo_read(self, scope: _Scope, name: str) -> None:
        self._global_read(scope, name)

    def figures(self, scope: _Scope) -> None:
        self._global_read(scope, FIGURES)
        self._global_read(scope, CONFIG)
        self.mutate(scope, [(0, FIGURES)], frozenset())

    def files(self, scope: _Scope, write: bool) -> None:
        self._global_read(scope, FILES)
        if write:
            if scope.immediate:
                self.binds.add(FILES)
            if scope.deferred:
                self.lazy_binds.add(FILES)

    def module(self, scope: _Scope, name: str) -> None:
        top = name.split(".")[0]
        if top:
            self.modules.add(top)
            self._global_read(scope, module_name(top))

    def stop(self, scope: _Scope, reason: str) -> None:
        if scope.immediate and reason not in self.barrier:
            self.barrier.append(reason)
        if scope.deferred:
            self.lazy_reads.add(BARRIER)

    # --- results ----------------------------------------------------------------------------

    def globals_of(self, keys: Iterable[_Key]) -> set[str]:
        """Return the global names reachable from keys through local aliases."""
        seen: set[_Key] = set()
        todo = list(keys)
        found: set[str] = set()
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            if key[0] == 0:
                found.add(key[1])
            else:
                todo.extend(self.alias_edges.get(key, ()))
        return found

    def effects(self) -> Effects:
        mutates: set[str] = set()
        lazy_mutates: set[str] = set()
        for key, immediate, deferred in self.mutated:
            names = self.globals_of([key])
            if immediate:
                mutates |= names
            if deferred:
                lazy_mutates |= names
        iterates: set[str] = set()
        for key, immediate, deferred in self.iterated:
            names = self.globals_of([key])
            if immediate:
                iterates |= names
            if deferred:  # no knowledge of the value when a body runs: a mutation
                lazy_mutates |= names
        aliases: dict[str, set[str]] = {}
        for name, sources in self.global_alias:
            reached = self.globals_of(sources) - {name}
            if reached:
                aliases.setdefault(name, set()).update(reached)
        return Effects(
            reads=frozenset(self.reads),
            binds=frozenset(self.binds),
            mutates=frozenset(mutates),
            lazy_reads=frozenset(self.lazy_reads),
            lazy_writes=frozenset(self.lazy_binds | lazy_mutates),
            lazy_binds=frozenset(self.lazy_binds),
            aliases=tuple(sorted((n, frozenset(s)) for n, s in aliases.items())),
            modules=frozenset(self.modules),
            barrier=tuple(self.barrier),
            iterates=frozenset(iterates),
            collections=frozenset(n for n, known in self.bound_kind.items() if known),
            collection_functions=frozenset(self.collection_functions),
            results=tuple(self.results),
            calls=tuple(
                Call(
                    root,
                    path,
                    method,
                    receivers=frozenset(self.globals_of(receivers)),
                    passed=frozenset(self.globals_of(passed)),
                    out=frozenset(self.globals_of(out)),
                    inplace=inplace,
                    now=now,
                    later=later,
                )
                for root, path, method, receivers, passed, out, inplace, now, later in self.calls
            ),
            imports=tuple(
                sorted(
                    (name, next(iter(kinds)))  # type: ignore[misc]
                    for name, kinds in self.import_kinds.items()
                    if len(kinds) == 1 and None not in kinds
                )
            ),
            creates_code=self.creates_code,
        )

    # --- statements -------------------------------------------------------------------------

    def body(self, scope: _Scope, nodes: Iterable[ast.stmt]) -> None:
        for node in nodes:
            self.stmt(scope, node)

    def stmt(self, scope: _Scope, node: ast.stmt) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.function(scope, node.args, node.body, node.decorator_list, node.returns)
            self.bind(scope, node.name)
            if scope.kind == "module" and _returns_collections(node):
                self.collection_functions.add(node.name)
        elif isinstance(node, ast.ClassDef):
            self.klass(scope, node)
        elif isinstance(node, ast.Assign):
            sources = self.expr(scope, node.value)
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.bind(scope, target.id, sources, _is_collection(node.value))
                    value = node.value
                    if (
                        scope.kind == "module"
                        and isinstance(value, ast.Call)
                        and isinstance(value.func, ast.Name)
                    ):
                        self.results.append((target.id, value.func.id))
                    continue
                if isinstance(target, ast.Tuple | ast.List):
                    self.iterate(scope, sources)  # unpacking iterates the value
                self.target(scope, target, sources)
        elif isinstance(node, ast.AugAssign):
            sources = self.expr(scope, node.value)
            self.augmented(scope, node.target, sources)
        elif isinstance(node, ast.AnnAssign):
            self.annotated(scope, node)
        elif isinstance(node, ast.For | ast.AsyncFor):
            sources = self.expr(scope, node.iter)
            self.iterate(scope, sources)
            self.target(scope, node.target, sources)
            self.body(scope, node.body)
            self.body(scope, node.orelse)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                sources = self.expr(scope, item.context_expr)
                if item.optional_vars is not None:
                    self.target(scope, item.optional_vars, sources)
            self.body(scope, node.body)
        elif isinstance(node, ast.Try | ast.TryStar):
            self.body(scope, node.body)
            for handler in node.handlers:
                if handler.type is not None:
                    self.expr(scope, handler.type)
                if handler.name is not None:
                    self.bind(scope, handler.name)  # bound, then deleted at the block's end
                self.body(scope, handler.body)
            self.body(scope, node.orelse)
            self.body(scope, node.finalbody)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self.delete(scope, target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                self.module(scope, alias.name)
                top = alias.name.split(".")[0]
                self.bind(scope, alias.asname or top, imported=alias.name if alias.asname else top)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                self.module(scope, node.module)
            for alias in node.names:
                if alias.name == "*":
                    self.stop(scope, "a star import binds names the analysis cannot list")
                else:
                    absolute = node.level == 0 and node.module
                    what = f"{node.module}.{alias.name}" if absolute else None
                    self.bind(scope, alias.asname or alias.name, imported=what)
        elif isinstance(node, ast.Global):
            if scope.kind != "module":
                scope.declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            scope.declared_nonlocal.update(node.names)
        elif isinstance(node, ast.Match):
            sources = self.expr(scope, node.subject)
            for case in node.cases:
                self.pattern(scope, case.pattern, sources)
                if case.guard is not None:
                    self.expr(scope, case.guard)
                self.body(scope, case.body)
        elif isinstance(node, ast.If | ast.While):
            self.expr(scope, node.test)
            self.body(scope, node.body)
            self.body(scope, node.orelse)
        else:
            # Expr, Return, Raise, Assert, Pass, Break, Continue (and TypeAlias on 3.12, whose
            # value is lazy: reading it through the expression is safe).
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(scope, child)

    def target(self, scope: _Scope, node: ast.expr, sources: frozenset[_Key]) -> None:
        if isinstance(node, ast.Name):
            self.bind(scope, node.id, sources)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self.target(scope, element, sources)
        elif isinstance(node, ast.Starred):
            self.target(scope, node.value, sources)
        elif isinstance(node, ast.Attribute | ast.Subscript):
            roots = self.expr(scope, node.value)
            if isinstance(node, ast.Subscript):
                self.expr(scope, node.slice)
            self.mutate(scope, roots, roots | sources)
        else:
            self.expr(scope, node)

    def augmented(self, scope: _Scope, node: ast.expr, sources: frozenset[_Key]) -> None:
        if isinstance(node, ast.Name):
            self.read(scope, node.id)
            key = self.key(scope, node.id, store=True)
            self.bind(scope, node.id, sources)
            self.mutate(scope, [key], sources | {key})  # ``xs += [1]`` changes the list itself
        else:
            self.target(scope, node, sources)

    def annotated(self, scope: _Scope, node: ast.AnnAssign) -> None:
        if scope.kind != "function":  # annotations of locals are never evaluated
            self.expr(scope, node.annotation)
        sources = self.expr(scope, node.value) if node.value is not None else frozenset()
        if isinstance(node.target, ast.Name):
            if node.value is not None:
                self.bind(scope, node.target.id, sources)
            if scope.kind == "module":
                self.mutate(scope, [(0, "__annotations__")], frozenset())
        elif node.value is not None:
            self.target(scope, node.target, sources)
        else:
            self.expr(scope, node.target)

    def delete(self, scope: _Scope, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            self.bind(scope, node.id)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self.delete(scope, element)
        elif isinstance(node, ast.Attribute | ast.Subscript):
            roots = self.expr(scope, node.value)
            if isinstance(node, ast.Subscript):
                self.expr(scope, node.slice)
            self.mutate(scope, roots, roots)
        else:
            self.expr(scope, node)

    def pattern(self, scope: _Scope, node: ast.pattern, sources: frozenset[_Key]) -> None:
        if isinstance(node, ast.MatchValue):
            self.expr(scope, node.value)
        elif isinstance(node, ast.MatchAs | ast.MatchStar):
            if isinstance(node, ast.MatchAs) and node.pattern is not None:
                self.pattern(scope, node.pattern, sources)
            if node.name is not None:
                self.bind(scope, node.name, sources)
        elif isinstance(node, ast.MatchMapping):
            for key in node.keys:
                self.expr(scope, key)
            for sub in node.patterns:
                self.pattern(scope, sub, sources)
            if node.rest is not None:
                self.bind(scope, node.rest, sources)
        elif isinstance(node, ast.MatchClass):
            self.expr(scope, node.cls)
            for sub in [*node.patterns, *node.kwd_patterns]:
                self.pattern(scope, sub, sources)
        elif isinstance(node, ast.MatchSequence | ast.MatchOr):
            for sub in node.patterns:
                self.pattern(scope, sub, sources)

    # --- scopes -----------------------------------------------------------------------------

    def function(
        self,
        scope: _Scope,
        args: ast.arguments,
        body: list[ast.stmt] | ast.expr,
        decorators: list[ast.expr],
        returns: ast.expr | None,
        called_here: bool = False,
    ) -> None:
        for decorator in decorators:
            self.expr(scope, decorator)
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.expr(scope, default)
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        every += [a for a in (args.vararg, args.kwarg) if a is not None]
        for arg in every:
            if arg.annotation is not None:
                self.expr(scope, arg.annotation)
        if returns is not None:
            self.expr(scope, returns)
        self.creates_code = True
        # a lambda passed to a call (``map(lambda x: ...)``, ``sorted(key=)``, ``df.apply``) or
        # called where it stands may also run while its statement runs: its body counts both now
        # and later
        inner = _Scope("function", scope, immediate=called_here and scope.immediate, deferred=True)
        inner.locals.update(a.arg for a in every)
        statements: list[ast.stmt] = body if isinstance(body, list) else [ast.Return(body)]
        _collect_locals(inner, statements)
        self.body(inner, statements)

    def klass(self, scope: _Scope, node: ast.ClassDef) -> None:
        for expression in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.expr(scope, expression)
        inner = _Scope("class", scope, immediate=scope.immediate, deferred=scope.deferred)
        _collect_locals(inner, node.body)
        self.body(inner, node.body)
        self.bind(scope, node.name)

    def comprehension(
        self,
        scope: _Scope,
        generators: list[ast.comprehension],
        elements: list[ast.expr],
        lazy: bool,
    ) -> frozenset[_Key]:
        # The first iterable is evaluated where the comprehension stands; the rest in a scope
        # of its own (its targets do not leak), run at once, or later for a generator.
        first = self.expr(scope, generators[0].iter)
        self.creates_code = self.creates_code or lazy
        inner = _Scope(
            "comprehension",
            scope,
            immediate=scope.immediate,
            deferred=scope.deferred or lazy,
        )
        for generator in generators:
            _collect_targets(generator.target, inner.locals)
        sources = set(first)
        for position, generator in enumerate(generators):
            iterated = first if position == 0 else self.expr(inner, generator.iter)
            self.iterate(scope if position == 0 else inner, iterated)
            self.target(inner, generator.target, iterated)
            sources |= iterated
            for condition in generator.ifs:
                self.expr(inner, condition)
        for element in elements:
            sources |= self.expr(inner, element)
        return frozenset(sources)

    # --- expressions ------------------------------------------------------------------------

    def expr(self, scope: _Scope, node: ast.expr) -> frozenset[_Key]:
        """Record what an expression reads and does; return the names its value may share."""
        if isinstance(node, ast.Name):
            self.read(scope, node.id)
            if node.id in _BARRIER_NAMES and self.key(scope, node.id)[0] == 0:
                self.stop(scope, _BARRIER_NAMES[node.id])
            return frozenset({self.key(scope, node.id)})
        if isinstance(node, ast.Constant | ast.JoinedStr):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(scope, child)
            return frozenset()
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name):
                reason = _BARRIER_ATTRIBUTES.get((node.value.id, node.attr))
                if reason is not None:
                    self.stop(scope, reason)
            return self.expr(scope, node.value)
        if isinstance(node, ast.Subscript):
            roots = self.expr(scope, node.value)
            self.expr(scope, node.slice)
            return roots
        if isinstance(node, ast.Starred):
            value = self.expr(scope, node.value)
            self.iterate(scope, value)
            return value
        if isinstance(node, ast.Call):
            return self.call(scope, node)
        if isinstance(node, ast.NamedExpr):
            sources = self.expr(scope, node.value)
            # A walrus in a comprehension binds in the enclosing function or module.
            target_scope = scope
            while target_scope.kind == "comprehension" and target_scope.parent is not None:
                target_scope = target_scope.parent
            self.bind(target_scope, node.target.id, sources)
            return sources | {self.key(target_scope, node.target.id)}
        if isinstance(node, ast.Lambda):
            self.function(scope, node.args, node.body, [], None)
            return frozenset()
        if isinstance(node, ast.ListComp | ast.SetComp):
            return self.comprehension(scope, node.generators, [node.elt], lazy=False)
        if isinstance(node, ast.GeneratorExp):
            return self.comprehension(scope, node.generators, [node.elt], lazy=True)
        if isinstance(node, ast.DictComp):
            return self.comprehension(scope, node.generators, [node.key, node.value], lazy=False)
        if isinstance(node, ast.Compare):
            self.expr(scope, node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                compared = self.expr(scope, comparator)
                if isinstance(op, ast.In | ast.NotIn):
                    self.iterate(scope, compared)  # ``x in iterator`` consumes it
            return frozenset()
        if isinstance(node, ast.UnaryOp):
            self.expr(scope, node.operand)
            return frozenset()
        # BinOp, BoolOp, IfExp, containers, Await, Yield, FormattedValue, Slice: the value may
        # share any of the parts.
        shared: set[_Key] = set()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                shared |= self.expr(scope, child)
        return frozenset(shared)

    def operand(self, scope: _Scope, node: ast.expr) -> frozenset[_Key]:
        """Walk a call's function or argument: a lambda there may be called at once."""
        if isinstance(node, ast.Lambda):
            self.function(scope, node.args, node.body, [], None, called_here=True)
            return frozenset()
        return self.expr(scope, node)

    def call(self, scope: _Scope, node: ast.Call) -> frozenset[_Key]:
        func = node.func
        arguments = [*node.args, *(k.value for k in node.keywords)]
        callee = self.operand(scope, func)
        positional = [self.operand(scope, argument) for argument in node.args]
        passed: set[_Key] = set()
        for shared in positional:
            passed |= shared
        out: set[_Key] = set()
        inplace = False
        for keyword in node.keywords:
            shared = self.operand(scope, keyword.value)
            passed |= shared
            if keyword.arg in _OUT_KEYWORDS:
                out |= shared
            if keyword.arg is None or (
                keyword.arg == "inplace"
                and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value in (False, None)
                )
            ):
                inplace = True
        name = func.id if isinstance(func, ast.Name) else None
        if name is not None and self.key(scope, name)[0] != 0:
            name = None  # a local, not the builtin
        attribute = func.attr if isinstance(func, ast.Attribute) else None
        dotted = _dotted(func)

        if name in {"vars", "dir"} and not arguments:
            self.stop(scope, f"{name}() exposes the whole namespace")
        elif name == "__import__" or dotted in {"importlib.import_module", "importlib.__import__"}:
            literal = _literal_string(node.args[0]) if node.args else None
            if literal is None:
                self.stop(scope, "a dynamic import of a module named at run time")
            else:
                self.module(scope, literal)
        elif name == "open" or dotted in {"io.open", "os.open", "codecs.open"}:
            self.files(scope, write=_opens_for_writing(node, 0 if name else 1))
        elif name in {"setattr", "delattr"} and node.args:
            target = node.args[0]
            if isinstance(target, ast.Name) and target.id in {"builtins", "sys"}:
                self.stop(scope, f"{name}() on a module the analysis cannot follow")
        if attribute is not None:
            prefix = dotted.rpartition(".")[0] if dotted is not None else None
            if attribute in _FILE_WRITE_METHODS or dotted in _FILE_FUNCTIONS:
                self.files(scope, write=True)
            elif attribute in _FILE_READ_METHODS:
                self.files(scope, write=False)
            elif prefix in _FILE_MODULES and dotted not in _NO_FILE_FUNCTIONS:
                self.files(scope, write=True)
            assert isinstance(func, ast.Attribute)
            if attribute in _PLOT_METHODS or (
                isinstance(func.value, ast.Attribute) and func.value.attr == "plot"
            ):
                self.figures(scope)  # ``df.plot()`` draws into pyplot's current figure

        if name in _ITERATING_BUILTINS:
            for shared in positional:
                self.iterate(scope, shared)
        if name in _PURE_BUILTINS:
            return frozenset() if name in _FRESH_RESULT_BUILTINS else frozenset(passed)
        if name == "open":
            callee = frozenset()  # the file object shares nothing with the builtin
        root = dotted.partition(".")[0] if dotted is not None else None
        if root is not None and self.key(scope, root)[0] != 0:
            root = None  # a local's method, or a local function
        if root is None and attribute is None:
            # A local function or a call's result: it may change what it is passed, and put
            # any of it inside another.
            changed = frozenset(passed)
            if changed:
                self.mutate(scope, changed, changed)
            return changed | callee
        # What the call changes depends on what its root is (a module, a value, a function
        # of the script): the planner decides (Effects.calls), and what its result may share
        # (a value's method: the receiver; a module's function: what it is passed,
        # ``np.asarray(xs)``; a function of the script: that too, and the function): the
        # pseudo-name call_name(k) stands for that.
        receivers = callee if attribute is not None else frozenset()
        result = (0, call_name(len(self.calls)))
        self.calls.append(
            (
                root, dotted.partition(".")[2] if dotted is not None else "", attribute,
                receivers, frozenset(passed), frozenset(out), inplace,
                scope.immediate, scope.deferred,
            )
        )  # fmt: skip
        return frozenset({result})


def _is_collection(node: ast.expr) -> bool:
    """Return whether an expression's value is surely not an iterator that iterating consumes."""
    if isinstance(
        node,
        ast.List | ast.Tuple | ast.Set | ast.Dict | ast.ListComp | ast.SetComp | ast.DictComp
        | ast.Constant | ast.JoinedStr | ast.BinOp | ast.Compare,
    ):  # fmt: skip
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _COLLECTION_BUILTINS
    )


def _returns_collections(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the function returns a value iterating does not consume (see _is_collection)."""
    if isinstance(node, ast.AsyncFunctionDef) or node.decorator_list:
        return False
    returns = []
    for child in _own_nodes(node.body):
        if isinstance(child, ast.Yield | ast.YieldFrom | ast.Await):
            return False  # a generator
        if isinstance(child, ast.Return):
            returns.append(child.value)
    return bool(returns) and all(v is not None and _is_collection(v) for v in returns)


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _literal_string(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _opens_for_writing(node: ast.Call, mode_position: int) -> bool:
    """Return whether an ``open`` call may write: its mode is not a literal read-only one."""
    mode: ast.expr | None = None
    if len(node.args) > mode_position + 1:
        mode = node.args[mode_position + 1]
    for keyword in node.keywords:
        if keyword.arg in {"mode", "flags"}:
            mode = keyword.value
        elif keyword.arg is None:
            return True
    if mode_position == 1:  # os.open and friends: flags, not a mode string
        return True
    if mode is None:
        return any(isinstance(a, ast.Starred) for a in node.args)
    literal = _literal_string(mode)
    return literal is None or any(c in literal for c in "wax+")


def _collect_locals(scope: _Scope, body: list[ast.stmt]) -> None:
    """Add the names a function or class body binds (not those of nested scopes)."""
    for node in _own_nodes(body):
        if isinstance(node, ast.Global):
            scope.declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            scope.declared_nonlocal.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            scope.locals.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            scope.locals.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    scope.locals.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            scope.locals.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            scope.locals.add(node.rest)
    scope.locals -= scope.declared_global


def _own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Yield the nodes of a body that belong to its scope (walrus targets of comprehensions too)."""
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue  # the name is this scope's; the body is not
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            todo.extend(n for n in ast.walk(node) if isinstance(n, ast.NamedExpr))
            continue
        todo.extend(ast.iter_child_nodes(node))


def _collect_targets(node: ast.expr, names: set[str]) -> None:
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id)


def _analyze_nodes(nodes: list[ast.stmt]) -> Effects:
    walker = _Walker()
    module = _Scope("module", None, immediate=True, deferred=False)
    walker.body(module, nodes)
    effects = walker.effects()
    closing = _closing_call(nodes[-1]) if nodes else None
    return replace(effects, closes_figures=closing) if closing is not None else effects


def _closing_call(node: ast.stmt) -> tuple[str, str] | None:
    """``(root, path)`` when ``node`` is ``<path>.show()`` (or ``block=True``) or
    ``<path>.close("all")`` as a statement of its own: see ``Effects.closes_figures``."""
    if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
        return None
    call = node.value
    dotted = _dotted(call.func)
    if dotted is None:
        return None
    last = dotted.rpartition(".")[2]
    if last == "show":
        shaped = not call.args and all(
            k.arg == "block" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in call.keywords
        )
    elif last == "close":
        shaped = (
            not call.keywords
            and len(call.args) == 1
            and isinstance(call.args[0], ast.Constant)
            and call.args[0].value == "all"
        )
    else:
        shaped = False
    if not shaped:
        return None
    root, _, path = dotted.partition(".")
    return root, path
