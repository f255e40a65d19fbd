"""Plan an incremental rerun: which statements of an edited script run, which keep their result."""

from __future__ import annotations

import bisect
import builtins
import difflib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pdit_gateway.dataflow import (
    BARRIER,
    CONFIG,
    FIGURES,
    PURE_METHODS,
    STATES,
    VALUE_METHODS,
    Call,
    Effects,
    analyze_statement,
    call_name,
    classify_call,
    closes_every_figure,
    module_name,
    pyplot_call_kind,
    state_of,
    states_within,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from pdit_gateway.splitter import Statement

__all__ = [
    "STALE",
    "Flow",
    "Plan",
    "RecordedStatement",
    "RunRecord",
    "plan_rerun",
    "record_run",
    "resolve_flows",
    "statement_key",
]

STALE = -1
"""In a provenance: the name's value comes from no statement of the record (deleted, foreign)."""

# Outcomes after which a statement's writes are in the namespace (possibly partly).
_EXECUTED = frozenset({"ok", "error", "exited", "timeout"})


@dataclass(frozen=True, slots=True)
class Flow:
    """What a statement reads and writes in the context of its script.

    Attributes
    ----------
    reads : frozenset of str
        Its own reads, plus what the functions (and values holding functions) it reads read
        when they run.
    writes : frozenset of str
        Its bindings, its mutations, the mutations done by the functions it reads, and every
        name that may share an object it mutates.
    barrier : bool
        It may read and write anything.
    creates_code : bool
        It creates functions or generators whose line numbers outlive it.
    modules : frozenset of str
        The modules it imports.
    imports : tuple of (str, str)
        The names only an import binds in it, with what they are bound to
        (:attr:`pdit_gateway.dataflow.Effects.imports`).
    rebinds : frozenset of str
        The other names it binds, and those a function it defines may bind (``global``).
    resets : frozenset of str
        State pseudo-names it leaves in the same state whatever it read, once it ends
        ``ok``: :data:`pdit_gateway.dataflow.FIGURES` for ``plt.show()`` and
        ``plt.close("all")`` (no figure open), through a module name of pyplot.
    """

    reads: frozenset[str]
    writes: frozenset[str]
    barrier: bool = False
    creates_code: bool = False
    modules: frozenset[str] = frozenset()
    imports: tuple[tuple[str, str], ...] = ()
    rebinds: frozenset[str] = frozenset()
    resets: frozenset[str] = frozenset()


def resolve_flows(effects: Sequence[Effects]) -> list[Flow]:
    """Resolve statements' effects in script order into what each reads and writes.

    A function's body is read when the function is: a statement reading ``f`` reads the
    globals ``f``'s body reads and writes what it writes, through any value that may hold
    ``f`` (``g = f``, ``handlers = [f]``, an instance of a class). A mutation of a name
    writes every name whose object may share structure with it (``ys = xs`` then
    ``ys.append(1)`` writes ``xs``). What a call changes depends on its callee (see
    :func:`call_changes`): a function of a well-known library through a name only its import
    binds, a method of a value, or anything else.

    Parameters
    ----------
    effects : sequence of Effects
        Each statement's effects, in script order.

    Returns
    -------
    list of Flow
        One per statement.
    """
    carry_reads: dict[str, frozenset[str]] = {}
    carry_writes: dict[str, frozenset[str]] = {}
    # edges[a]: the names whose objects may change when a's object is changed in place.
    edges: dict[str, set[str]] = {}
    collections: set[str] = set()
    collection_functions: set[str] = set()  # functions whose results are collections
    bound: set[str] = set()
    stable = stable_imports(
        [(e.imports, e.binds | e.lazy_binds, bool(e.barrier) or BARRIER in e.lazy_reads)
         for e in effects]
    )  # fmt: skip
    flows: list[Flow] = []
    # ``plt.show()`` closes the figures with the gateway's backend (and the inline one); a
    # script that picks its backend may pick one whose show leaves them open (``agg``).
    closing_show = not any(
        call.root in stable and _dotted_name(stable[call.root], call.path) in _BACKEND_SWITCHES
        for effect in effects
        for call in effect.calls
        if call.root is not None
    )

    def link(a: str, b: str) -> None:
        if a != b:
            edges.setdefault(a, set()).add(b)

    def drop(name: str) -> None:
        # The name now holds another object; what held the old one keeps holding it.
        after = edges.pop(name, set())
        for targets in edges.values():
            if name in targets:
                targets.discard(name)
                targets |= after
        for targets in edges.values():
            targets.discard(name)

    closed_nodes: list[str] = []

    def close_figures(closed: str) -> None:
        # The figures a show closed are pyplot's no more: what holds them (``fig``, ``ax``)
        # shares the closed node, not pyplot's figures (names holding a module keep both).
        holders = {n for n, targets in edges.items() if CONFIG in targets}
        moved = {n for n in edges.get(FIGURES, set()) if n not in holders}
        closed_nodes.append(closed)
        edges.setdefault(closed, set()).update(moved)
        edges[FIGURES] = edges.get(FIGURES, set()) - moved
        for name, targets in edges.items():
            if name not in holders and name != closed and FIGURES in targets:
                targets.discard(FIGURES)
                targets.add(closed)

    def reach(names: Iterable[str]) -> set[str]:
        seen = set(names)
        todo = list(seen)
        while todo:
            for other in edges.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    for effect in effects:
        effect = _without_call_names(effect, stable, bound)
        call_writes: set[str] = set()
        call_reads: set[str] = set()
        later_writes: set[str] = set()
        later_reads: set[str] = set()
        holds: dict[str, frozenset[str]] = {}
        for call in effect.calls:
            changed, state_reads, links, held = call_changes(call, stable, bound)
            if FIGURES in changed:
                # a figure closed by a show and handed to pyplot again (``plt.figure(fig)``,
                # ``plt.sca(ax)``) may be one of its open figures again
                held_closed = reach(closed_nodes) if closed_nodes else set()
                for name in (call.passed | call.out) & held_closed:
                    link(name, FIGURES)
                    link(FIGURES, name)
            if call.now:
                call_writes |= changed
                call_reads |= state_reads
                for a, b in links:
                    link(a, b)
                if held:
                    for r in call.receivers:  # ``handlers.append(f)``: handlers holds f
                        holds[r] = holds.get(r, frozenset()) | call.passed
            if call.later:
                later_writes |= changed
                later_reads |= state_reads
                if held:
                    later_writes |= call.passed  # what is passed may end up inside
        # A module of pyplot's read, even without a call (``plt.rcParams["lines.linewidth"]``):
        # the configuration is read.
        if any(state_of(stable[name]) == FIGURES for name in effect.reads & set(stable)):
            call_reads.add(CONFIG)
        # A module's attribute changed (``plt.rcParams[...] = v``) changes its state.
        for name in effect.mutates & set(stable):
            state = state_of(stable[name])
            if state == FIGURES:  # ``plt.rcParams[...] = v``: the configuration
                call_writes.add(CONFIG)
                call_reads.add(CONFIG)
            elif state is not None:
                call_writes.add(state)
        own_lazy_reads = effect.lazy_reads | later_reads
        own_lazy_writes = effect.lazy_writes | later_writes
        # A function's globals are looked up when it runs: expand what the names read carry
        # with the carries of now, transitively (``outer`` calls ``inner`` which reads ``K``).
        reached = set(effect.reads)
        todo = list(effect.reads)
        while todo:
            for name in carry_reads.get(todo.pop(), frozenset()):
                if name not in reached:
                    reached.add(name)
                    todo.append(name)
        carried_writes = _union(carry_writes.get(name, frozenset()) for name in reached)
        reads = frozenset(reached | call_reads)
        barrier = bool(effect.barrier) or BARRIER in reads
        consumed = effect.iterates - collections
        mutated = effect.mutates | carried_writes | consumed | call_writes
        rebound = effect.binds - mutated
        for name in rebound:
            drop(name)
        for name, sources in effect.aliases:
            for source in sources:
                link(name, source)
                link(source, name)
                for state in states_within(stable[source]) if source in stable else ():
                    # ``r = np.random``: changing r changes numpy's random state
                    link(name, state)
                    link(state, name)
        writes = effect.binds | mutated | reach(mutated)
        if CONFIG in mutated:
            # figures drawn before render with the new configuration when they are shown
            writes |= reach({FIGURES}) - ({FIGURES} - mutated)
        resets: frozenset[str] = frozenset()
        if effect.closes_figures is not None and closing_show and not barrier:
            root, path = effect.closes_figures
            if root in stable and closes_every_figure(_dotted_name(stable[root], path)):
                resets = frozenset({FIGURES})
                close_figures(f"{_CLOSED}{len(flows)}>")
        # A value carries the functions it may hold: those the statement defines, and those
        # of the values it was built from (``x = make()``, ``handlers.append(f)``).
        built_from = dict(effect.aliases)
        for r, passed in holds.items():
            built_from[r] = built_from.get(r, frozenset()) | passed
        for name in effect.binds | mutated:
            sources = built_from.get(name, frozenset())
            new_reads = own_lazy_reads | _union(carry_reads.get(n, frozenset()) for n in sources)
            new_writes = own_lazy_writes | _union(carry_writes.get(n, frozenset()) for n in sources)
            if name in rebound:
                carry_reads[name] = new_reads
                carry_writes[name] = new_writes
            else:
                carry_reads[name] = carry_reads.get(name, frozenset()) | new_reads
                carry_writes[name] = carry_writes.get(name, frozenset()) | new_writes
        collections -= effect.binds
        collections |= effect.collections
        collections |= {name for name, f in effect.results if f in collection_functions}
        collection_functions -= effect.binds
        collection_functions |= effect.collection_functions
        bound |= effect.binds
        imported = dict(effect.imports)
        flows.append(
            Flow(
                reads=frozenset(reads - {BARRIER}),
                writes=frozenset(writes),
                barrier=barrier,
                creates_code=effect.creates_code,
                modules=effect.modules,
                imports=effect.imports,
                rebinds=frozenset(n for n in effect.binds if n not in imported) | effect.lazy_binds,
                resets=resets,
            )
        )
    return flows


_CLOSED = "<closed-figures:"
_BACKEND_SWITCHES = frozenset({"matplotlib.use", "matplotlib.pyplot.switch_backend"})


def _dotted_name(what: str, path: str) -> str:
    return f"{what}.{path}" if path else what


def _without_call_names(effect: Effects, stable: Mapping[str, str], bound: set[str]) -> Effects:
    """Replace the pseudo-names of calls' results by the names the results may share."""
    if not effect.calls:
        return effect
    shares: dict[str, frozenset[str]] = {}

    def expand(names: frozenset[str]) -> frozenset[str]:
        if not any(n.startswith("<call:") for n in names):
            return names
        found: set[str] = set()
        for name in names:
            found |= shares.get(name, frozenset()) if name.startswith("<call:") else {name}
        return frozenset(found)

    calls = []
    for index, call in enumerate(effect.calls):  # an inner call comes before the outer one
        call = replace(
            call,
            receivers=expand(call.receivers),
            passed=expand(call.passed),
            out=expand(call.out),
        )
        calls.append(call)
        shares[call_name(index)] = _result_shares(call, stable, bound)
    return replace(
        effect,
        mutates=expand(effect.mutates),
        lazy_writes=expand(effect.lazy_writes),
        iterates=expand(effect.iterates),
        aliases=tuple(
            (name, sources)
            for name, sources in ((n, expand(s)) for n, s in effect.aliases)
            if sources
        ),
        calls=tuple(calls),
    )


def _result_shares(call: Call, stable: Mapping[str, str], bound: Iterable[str]) -> frozenset[str]:
    """Return the names whose objects the result of a call may share."""
    if call.root is not None and call.root in stable:
        what = stable[call.root] + (f".{call.path}" if call.path else "")
        kind, state = classify_call(what)
        if kind == "unknown":
            return call.passed | {call.root}  # it may return what the module holds
        if state == FIGURES:
            # pyplot's figures hold what its functions return (``fig, ax = plt.subplots()``,
            # ``lines = plt.plot(data)``), which holds what they drew (a change of ``data``
            # changes the figures: see call_changes), as ``ax.plot(data)`` does.
            return frozenset({FIGURES})
        return call.passed  # ``np.asarray(xs)``, ``random.choice(rows)``
    if call.method is None:
        # A function of the script: the result may hold what it was passed, and may be
        # (or carry) the function itself (``handler = make()``).
        return call.passed | ({call.root} if call.root is not None else frozenset())
    if _value_method(call, stable, bound):
        return call.receivers
    return call.receivers | call.passed


def _value_method(call: Call, stable: Mapping[str, str], bound: Iterable[str]) -> bool:
    """Whether a call is a method of a value the script bound (not of a module, not unknown)."""
    if call.method is None or not call.receivers:
        return False
    if call.root is not None and call.root in stable:
        return False
    names = set(bound)
    return not any(r in stable or r not in names for r in call.receivers)


def stable_imports(
    statements: Iterable[tuple[Iterable[tuple[str, str]], Iterable[str], bool]],
) -> dict[str, str]:
    """Return the names that only imports bind, all to the same thing, with that thing.

    Parameters
    ----------
    statements : iterable of (imports, binds, barrier)
        For each statement: the names only an import binds in it, with what they are bound to;
        every name it may bind (imports included, and what its functions may bind through
        ``global``); whether it is a barrier (then no name is stable).

    Returns
    -------
    dict of str to str
        Name → dotted name of the module (or the module's attribute) it holds.
    """
    found: dict[str, str] = {}
    unstable: set[str] = set()
    for imports, binds, barrier in statements:
        if barrier:
            return {}
        imported = dict(imports)
        for name in binds:
            what = imported.get(name)
            if what is None or found.setdefault(name, what) != what:
                unstable.add(name)
    return {name: what for name, what in found.items() if name not in unstable}


def call_changes(
    call: Call, stable: Mapping[str, str], bound: Iterable[str]
) -> tuple[set[str], set[str], list[tuple[str, str]], bool]:
    """Return what a call changes, knowing what the script's names are bound to.

    - A function of a well-known library, through a name that only its import binds
      (``np.mean(xs)``, ``plt.plot(data)``, ``sqrt(x)`` after ``from math import sqrt``):
      see :func:`pdit_gateway.dataflow.classify_call` — nothing; or what it is passed
      (``random.shuffle(xs)``); or its module's state (``np.random.seed(1)``: the state
      pseudo-name, which may now hold what it was passed); or, for an unknown module, the
      module's name and what it is passed, each of which may hold the others. Objects passed
      as ``out=``/``ax=``, and everything passed with ``inplace=``, change.
    - A method of a value (``data.mean()``, ``xs.sort()``): nothing when the method is in
      :data:`pdit_gateway.dataflow.PURE_METHODS` and no ``inplace=`` is given, else the
      receiver, which may now hold what it was passed (``ax.plot(data)``). A receiver that
      may be a module (or a name the script never binds) is treated as an unknown module's.
    - Anything else (``load()``, ``shuffle(xs)``): what it is passed, each may hold the others.

    Returns
    -------
    tuple
        The names changed; the state pseudo-names read; the links ``(a, b)``: a change of
        ``a``'s object changes ``b``'s; whether the receivers may now hold what was passed.
    """
    passed = set(call.passed)
    if call.root is not None and call.root in stable:
        what = stable[call.root] + (f".{call.path}" if call.path else "")
        kind, state = classify_call(what)
        state_reads = {state} if state is not None else set()
        state_writes = set(state_reads)
        if state == FIGURES:
            # Every call reads the configuration; the drawing ones leave it alone, the
            # configuring ones leave the figures alone.
            state_reads.add(CONFIG)
            figures_kind = pyplot_call_kind(what)
            if figures_kind == "configuring":
                state_reads = state_writes = {CONFIG}
            elif figures_kind == "other":
                state_writes.add(CONFIG)
        if kind == "pure":
            return set(call.out) | (passed if call.inplace else set()), state_reads, [], False
        if kind == "arguments":
            return passed | state_writes, state_reads, [], False
        if kind == "state":
            links = [(p, s) for p in passed for s in state_writes]
            changed = state_writes | set(call.out) | (passed if call.inplace else set())
            return changed, state_reads, links, False
        return _unknown_call({call.root}, passed, stable)
    links = [(a, b) for a in passed for b in passed if a != b]
    if call.method is None and _outside(call.root, bound):
        # a name from outside the statements (another execution's ``shuffle`` or ``title``
        # imported by the script): it may be any module's function
        return passed | STATES, set(STATES), links, False
    if call.method is None:
        return passed, set(), links, False
    receivers = set(call.receivers)
    if not receivers and call.root is None and call.method in PURE_METHODS and not call.inplace:
        return set(call.out), set(), [], False  # ``", ".join(names)``: a method of a literal
    if not _value_method(call, stable, bound):
        changed, state_reads, links, held = _unknown_call(receivers, passed, stable)
        direct = call.root is None or "." not in call.path
        known = direct and call.method in PURE_METHODS | VALUE_METHODS
        if not known and any(r not in stable and _outside(r, bound) for r in receivers):
            # ``plt.title("x")`` run alone: ``plt`` may be any module (``xs.append(1)``
            # and ``data.mean()`` are taken for a value's)
            changed |= STATES
            state_reads |= STATES
        return changed, state_reads, links, held
    if call.method in PURE_METHODS and not call.inplace:
        return set(call.out), set(), [], False
    return receivers | set(call.out), set(), [(p, r) for p in passed for r in receivers], True


def _outside(name: str | None, bound: Iterable[str]) -> bool:
    """Whether a name is none the statements bind, nor a builtin (nor a pseudo-name: the
    figures a pyplot call returned, ``plt.gca().set_title("x")``)."""
    return (
        name is not None
        and name.isidentifier()
        and name not in bound
        and not hasattr(builtins, name)
    )


def _unknown_call(
    receivers: set[str], passed: set[str], stable: Mapping[str, str]
) -> tuple[set[str], set[str], list[tuple[str, str]], bool]:
    states = {s for r in receivers if r in stable for s in [state_of(stable[r])] if s is not None}
    if FIGURES in states:
        states.add(CONFIG)
    links = [pair for r in receivers for p in passed for pair in ((r, p), (p, r))]
    return receivers | passed | states, states, links, False


def _union(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    result: set[str] = set()
    for item in sets:
        result |= item
    return frozenset(result)


@dataclass(frozen=True, slots=True)
class RecordedStatement:
    """One statement as the last run left it.

    Attributes
    ----------
    key : str
        What identifies its source: the kind and the code (or markdown text).
    line_start, line_end : int
        Its lines in that run's script, 1-based, inclusive.
    flow : Flow
        What it read and wrote, resolved in that run's script.
    status : str
        ``"ok"``, or why it did not finish: ``"error"``, ``"cancelled"``, ``"exited"``,
        ``"timeout"``, ``"never-run"``, ...
    """

    key: str
    line_start: int
    line_end: int
    flow: Flow
    status: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What a script's last run left: its statements and the origin of the namespace's values.

    Attributes
    ----------
    statements : tuple of RecordedStatement
        In script order.
    provenance : mapping of str to int
        For each name the script's statements wrote, the index of the statement whose
        execution produced the value the namespace holds now (:data:`STALE` when none of
        them did). A name not in it holds what it held before the script ever ran.
    """

    statements: tuple[RecordedStatement, ...]
    provenance: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """Which statements of the new script run.

    Attributes
    ----------
    statements : tuple of Statement
        The new script's statements.
    flows : tuple of Flow
        What each reads and writes.
    run : tuple of bool
        Whether each runs; the others keep their last result.
    reasons : tuple of str or None
        Why each one runs (``None`` for a kept one).
    previous : tuple of int or None
        For each statement, the index of the same source in the last run's record, or
        ``None`` for a new or edited one. A kept statement's result is that one's, re-anchored
        to the new lines.
    unbind : frozenset of str
        Names to delete from the namespace before the first statement runs: the last run
        bound them, and the new script reads them before any of its statements binds them
        (a deleted or renamed assignment: a fresh run would raise ``NameError``).
    provenance : mapping of str to int
        Where the namespace's values come from before the run, in the new statements'
        indices (after ``unbind``); :func:`record_run` continues it.
    """

    statements: tuple[Statement, ...]
    flows: tuple[Flow, ...]
    run: tuple[bool, ...]
    reasons: tuple[str | None, ...]
    previous: tuple[int | None, ...]
    unbind: frozenset[str]
    provenance: Mapping[str, int]

    @property
    def kept(self) -> dict[int, int]:
        """Return new index → old index for the statements that keep their last result."""
        return {
            i: old
            for i, (runs, old) in enumerate(zip(self.run, self.previous, strict=True))
            if not runs and old is not None
        }

    def to_run(self) -> list[int]:
        """Return the indices of the statements that run, in order."""
        return [i for i, runs in enumerate(self.run) if runs]


def statement_key(statement: Statement) -> str:
    """Return what identifies a statement's source across runs."""
    text = statement.markdown if statement.kind == "markdown" else statement.code
    return f"{statement.kind}\0{text}"


def plan_rerun(
    statements: Sequence[Statement],
    previous: RunRecord | None,
    *,
    restarted: bool = False,
    touched: frozenset[str] | None = frozenset(),
    changed_modules: frozenset[str] = frozenset(),
    rerun_moved_definitions: bool = True,
) -> Plan:
    """Decide which statements of a script run after an edit, and which keep their result.

    A statement runs when its source is new or changed; when its last run did not end
    ``ok``; when a name it reads (see :class:`Flow`) would not have the value it had in the
    last run — its latest writer in script order is another statement than last time, or
    runs now; when a statement that runs needs a value the namespace no longer holds (a
    later statement of the last run overwrote it), which reruns that value's writer (but
    an import: a module name is never restored by importing it again, which gives back the
    same module); and at the end, so that every name the script binds holds what a full run
    leaves. A barrier reads and writes everything.

    Parameters
    ----------
    statements : sequence of Statement
        The new script, from :func:`pdit_gateway.splitter.split_script`.
    previous : RunRecord or None
        The last run's record; ``None`` when the namespace holds nothing of this script
        (a new kernel): everything runs.
    restarted : bool, optional
        The kernel restarted since: everything runs.
    touched : frozenset of str or None, optional
        Names another execution may have changed since the last run; ``None`` when unknown
        (everything runs).
    changed_modules : frozenset of str, optional
        Top-level names of sibling modules changed on disk since the last run: statements
        that import them, or call functions that do, and their dependents run.
    rerun_moved_definitions : bool, optional
        Rerun a statement that creates functions and moved to other lines, so tracebacks
        through its functions name the new lines (default True).

    Returns
    -------
    Plan
        What runs and why; what is kept and from which old statement.
    """
    statements = tuple(statements)
    flows = tuple(resolve_flows([analyze_statement(s) for s in statements]))
    count = len(statements)
    if previous is None or restarted or touched is None:
        why = "restart" if restarted else ("new" if previous is None else "namespace changed")
        return Plan(
            statements, flows, (True,) * count, (why,) * count, (None,) * count,
            frozenset(), {},
        )  # fmt: skip
    return _Planner(
        statements, flows, previous, touched | {module_name(m) for m in changed_modules},
        changed_modules, rerun_moved_definitions,
    ).plan()  # fmt: skip


class _Planner:
    """The fixpoint behind :func:`plan_rerun`."""

    def __init__(
        self,
        statements: tuple[Statement, ...],
        flows: tuple[Flow, ...],
        previous: RunRecord,
        touched: frozenset[str],
        changed_modules: frozenset[str],
        rerun_moved_definitions: bool,
    ) -> None:
        self.statements = statements
        self.flows = flows
        self.old = previous
        self.touched = touched
        keys = [statement_key(s) for s in statements]
        old_keys = [s.key for s in previous.statements]
        matcher = difflib.SequenceMatcher(None, old_keys, keys, autojunk=False)
        self.new_to_old: dict[int, int] = {}
        for block in matcher.get_matching_blocks():
            for offset in range(block.size):
                self.new_to_old[block.b + offset] = block.a + offset
        self.old_to_new = {old: new for new, old in self.new_to_old.items()}

        self.reasons: dict[int, str] = {}
        for i, statement in enumerate(statements):
            old_index = self.new_to_old.get(i)
            flow = flows[i]
            if old_index is None:
                self.reasons[i] = "new or edited"
                continue
            recorded = previous.statements[old_index]
            if statement.kind == "syntax-error":
                self.reasons[i] = "syntax error"
            elif recorded.status != "ok":
                self.reasons[i] = f"last run: {recorded.status}"
            elif flow.modules & changed_modules:
                self.reasons[i] = "imports a changed module"
            elif (
                rerun_moved_definitions
                and flow.creates_code
                and recorded.line_start != statement.line_start
            ):
                self.reasons[i] = "defines functions and moved"

        self.universe: set[str] = set(previous.provenance)
        for flow in flows:
            self.universe |= flow.reads | flow.writes
        for recorded in previous.statements:
            self.universe |= recorded.flow.reads | recorded.flow.writes
        # The last run's writers of each name, for "what did statement o read last time".
        self.old_writers: dict[str, list[int]] = {}
        self.old_barriers: list[int] = []
        for o, recorded in enumerate(previous.statements):
            if recorded.status not in _EXECUTED:
                continue
            if recorded.flow.barrier:
                self.old_barriers.append(o)
            for name in recorded.flow.writes:
                self.old_writers.setdefault(name, []).append(o)
        self.unbind: set[str] = set()
        self.restoring: set[int] = set()
        # Names that only imports bind, in the last run and in the new script: the value is
        # the module (sys.modules' entry), and running its import again gives the same object,
        # changes since included — restoring such a name is a no-op.
        self.modules = (
            stable_imports(
                [(f.imports, f.rebinds | dict(f.imports).keys(), f.barrier) for f in flows]
                + [
                    (r.flow.imports, r.flow.rebinds | dict(r.flow.imports).keys(), r.flow.barrier)
                    for r in previous.statements
                ]
            ).keys()
            - touched
        )

    def old_writer(self, name: str, before: int) -> int | None:
        best = -1
        for indices in (self.old_writers.get(name, []), self.old_barriers):
            position = bisect.bisect_left(indices, before)
            if position:
                best = max(best, indices[position - 1])
        return None if best < 0 else best

    def left_reset(self, name: str, tag: tuple[str, int] | None) -> bool:
        """Whether the namespace's ``name``, as ``tag`` says it came, is in the fixed state a
        statement resetting it leaves (no pyplot figure open): its last writer reset it."""
        if tag is None or tag[0] == "stale":
            return False
        if tag[0] == "new":
            return name in self.flows[tag[1]].resets
        old = self.new_to_old.get(tag[1])
        return old is not None and self.old_resets(name, old)

    def old_resets(self, name: str, old: int) -> bool:
        """Whether the last run's statement ``old`` left ``name`` in its fixed state."""
        recorded = self.old.statements[old]
        return recorded.status == "ok" and name in recorded.flow.resets

    def initial(self) -> dict[str, tuple[str, int]]:
        cur: dict[str, tuple[str, int]] = {}
        for name, index in self.old.provenance.items():
            if name in self.unbind:
                continue
            new = self.old_to_new.get(index) if index != STALE else None
            if name in self.touched or new is None:
                cur[name] = ("stale", STALE)
            else:
                cur[name] = ("old", new)
        return cur

    def plan(self) -> Plan:
        while not self.scan():
            pass
        run = tuple(i in self.reasons for i in range(len(self.statements)))
        provenance = {
            name: (tag[1] if tag[0] != "stale" else STALE) for name, tag in self.initial().items()
        }
        return Plan(
            statements=self.statements,
            flows=self.flows,
            run=run,
            reasons=tuple(self.reasons.get(i) for i in range(len(self.statements))),
            previous=tuple(self.new_to_old.get(i) for i in range(len(self.statements))),
            unbind=frozenset(self.unbind),
            provenance=provenance,
        )

    def scan(self) -> bool:
        """Walk the script once; return True when nothing had to be added."""
        cur = self.initial()
        latest: dict[str, int] = {}
        last_barrier = -1

        def writer(name: str) -> int:
            return max(latest.get(name, -1), last_barrier)

        def fresh(name: str, w: int) -> bool:
            tag = cur.get(name)
            if w < 0:
                return tag is None
            if tag == ("new", w) or (tag == ("old", w) and w not in self.reasons):
                return True
            # ``plt.show()`` leaves no figure open, whichever figures it was given: after
            # any statement that reset the figures, they are those after another one.
            return name in self.flows[w].resets and self.left_reset(name, tag)

        def repair(name: str, w: int, why: str) -> bool:
            """Make the namespace hold the value a full run has; return True if it changed."""
            if w < 0:
                if name.isidentifier() and name not in self.unbind:
                    self.unbind.add(name)
                    return True
                return False  # the file system cannot be unbound (see docs/semantics.md)
            if name in self.modules and name in dict(self.flows[w].imports):
                return False  # an import gives the module as it is (see self.modules)
            if w not in self.reasons:
                # It would keep its result: it runs again only to put its values back, and
                # (run for run the same) changes nothing for the statements that read them.
                self.reasons[w] = why
                self.restoring.add(w)
                return True
            return False

        for i, flow in enumerate(self.flows):
            old_index = self.new_to_old.get(i)
            reads = set(self.universe) if flow.barrier else set(flow.reads)
            if old_index is not None:
                recorded = self.old.statements[old_index].flow
                reads |= self.universe if recorded.barrier else recorded.reads
            if i not in self.reasons or i in self.restoring:
                assert old_index is not None
                for name in sorted(reads):
                    w = writer(name)
                    ow = self.old_writer(name, old_index)
                    if w < 0:
                        valid = ow is None and name not in self.touched
                    elif name in self.flows[w].resets and ow is not None:
                        # the value it read last time and now is the fixed one both leave
                        valid = self.old_resets(name, ow)
                    else:
                        valid = ow is not None and self.old_to_new.get(ow) == w
                        valid = valid and (w not in self.reasons or w in self.restoring)
                    if not valid:
                        self.restoring.discard(i)
                        self.reasons[i] = f"reads {name}, changed"
                        break
            if i in self.reasons:
                for name in sorted(reads):
                    w = writer(name)
                    if not fresh(name, w) and repair(
                        name, w, f"restores {name} for line {self.statements[i].line_start}"
                    ):
                        return False
                if flow.barrier:
                    for name in self.universe:
                        cur[name] = ("new", i)
                for name in flow.writes:
                    cur[name] = ("new", i)
            if flow.barrier:
                last_barrier = i
            for name in flow.writes:
                latest[name] = i

        changed = False
        for name in sorted(self.universe | set(cur)):
            w = writer(name)
            if not fresh(name, w):
                changed = repair(name, w, f"restores {name} at the end") or changed
        return not changed


def record_run(plan: Plan, outcomes: Sequence[str], previous: RunRecord | None) -> RunRecord:
    """Return the record of a run done after a plan, for planning the next one.

    Parameters
    ----------
    plan : Plan
        What was planned.
    outcomes : sequence of str
        One per statement: for one that ran, its status (``"ok"``, ``"error"``,
        ``"exited"``, ``"timeout"``, or ``"cancelled"`` when the run stopped before it); for
        a kept one, ``"kept"``, or ``"cancelled"`` when the run stopped before it (a full
        run would not have shown it).
    previous : RunRecord or None
        The record the plan was made from (the kept statements' statuses are its).

    Returns
    -------
    RunRecord
        The new record.
    """
    if len(outcomes) != len(plan.statements):
        raise ValueError("one outcome per statement is needed")
    provenance = dict(plan.provenance)
    # The names a barrier may have written: every name the planner considers.
    universe = set(provenance)
    for flow in plan.flows:
        universe |= flow.reads | flow.writes
    for old in previous.statements if previous is not None else ():
        universe |= old.flow.reads | old.flow.writes
    recorded: list[RecordedStatement] = []
    for i, (statement, flow, outcome) in enumerate(
        zip(plan.statements, plan.flows, outcomes, strict=True)
    ):
        status = outcome
        if outcome == "kept":
            index = plan.previous[i]
            status = previous.statements[index].status if previous and index is not None else "ok"
        elif plan.run[i] and outcome in _EXECUTED:
            for name in universe if flow.barrier else flow.writes:
                provenance[name] = i
        recorded.append(
            RecordedStatement(
                key=statement_key(statement),
                line_start=statement.line_start,
                line_end=statement.line_end,
                flow=flow,
                status=status,
            )
        )
    return RunRecord(tuple(recorded), provenance)
