"""What a session remembers of each script's last run, and the plan of its next incremental run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .dataflow import analyze_statement
from .incremental import Plan, RunRecord, plan_rerun, record_run, resolve_flows

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .runner import Execution
    from .splitter import Statement

__all__ = ["KernelToken", "Reruns", "module_times", "written_names"]

#: What identifies the process a namespace lives in (``SessionKernel.namespace_token``).
KernelToken = tuple[str | None, int, int | None]

#: The fields of a logged ``result`` that belong to the statement's place, not to its result.
_PLACE_FIELDS = ("executionId", "index", "lineStart", "lineEnd", "seq", "ts")

#: Files looked at when the script's folder is scanned for sibling modules. Fixed: it bounds
#: the scan of a folder that holds a large tree (a checkout, a data folder); past it the
#: scan stops and every module counts as changed.
MAX_SCANNED_FILES = 5000


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """One script's last run in a session, as the next incremental run needs it.

    Attributes
    ----------
    record : RunRecord
        Its statements, their outcomes and what they read and wrote.
    results : tuple of (dict or None)
        Each statement's retained ``result`` (None when it got none).
    kernel : KernelToken
        The kernel process the run started in.
    modules : dict of str to int, or None
        The sibling modules of the script's folder when the run started: top-level module
        name → the newest modification time (ns) of its files; None when the folder could
        not be read in full.
    touched : frozenset of str or None
        Names other executions of the session may have changed since; None: unknown.
    """

    record: RunRecord
    results: tuple[dict[str, Any] | None, ...]
    kernel: KernelToken
    modules: dict[str, int] | None
    touched: frozenset[str] | None = frozenset()


def written_names(statements: Sequence[Statement]) -> frozenset[str] | None:
    """Return the global names the statements may write when run in order; None for a barrier."""
    flows = resolve_flows([analyze_statement(s) for s in statements])
    names: set[str] = set()
    for flow in flows:
        if flow.barrier:
            return None
        names |= flow.writes
    return frozenset(names)


def module_times(folder: str | None, script: str | None) -> dict[str, int] | None:
    """Return the modules a script in ``folder`` can import as siblings, with their times.

    Each ``name.py`` of the folder is module ``name``; each subfolder holding ``.py`` files
    is package ``name``, timed by its newest ``.py`` file. The script itself is left out.
    None when the folder cannot be read, or holds more than :data:`MAX_SCANNED_FILES` files.
    """
    if folder is None:
        return {}
    times: dict[str, int] = {}
    seen = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return None
    for entry in entries:
        seen += 1
        name = entry.name
        if name.startswith(".") or name == "__pycache__" or entry.path == script:
            continue
        try:
            if entry.is_file() and name.endswith(".py"):
                times[name[:-3]] = entry.stat().st_mtime_ns
            elif entry.is_dir() and name.isidentifier():
                newest = None
                for root, dirs, files in os.walk(entry.path):
                    dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
                    for file in files:
                        seen += 1
                        if seen > MAX_SCANNED_FILES:
                            return None
                        if file.endswith(".py"):
                            mtime = os.stat(os.path.join(root, file)).st_mtime_ns
                            newest = mtime if newest is None else max(newest, mtime)
                if newest is not None:
                    times[name] = newest
        except OSError:
            continue
        if seen > MAX_SCANNED_FILES:
            return None
    return times


def _changed_modules(before: dict[str, int] | None, now: dict[str, int] | None) -> frozenset[str]:
    if before is None or now is None:
        return frozenset((before or {}).keys() | (now or {}).keys())
    return frozenset(
        name for name in before.keys() | now.keys() if before.get(name) != now.get(name)
    )


def _kept_result(result: dict[str, Any]) -> dict[str, Any]:
    """Return a retained result without its place (the new run gives it the new one)."""
    kept = {key: value for key, value in result.items() if key not in _PLACE_FIELDS}
    kept["output"] = list(kept.get("output") or [])
    kept["cached"] = True
    return kept


class Reruns:
    """A session's memory of each script's last run, keyed by the script's path or name.

    Before an execution runs, :meth:`begin` plans it (an incremental one keeps what it can)
    and notes what it may change in the other scripts' namespaces; after it ran, :meth:`end`
    records a whole-script run (``statements`` from the top, or ``changed``) for the next
    incremental run.
    """

    def __init__(self) -> None:
        self.scripts: dict[str, ScriptRun] = {}
        # per running execution: the script run its plan was made from, the start's state
        self._pending: dict[str, tuple[ScriptRun | None, KernelToken, dict[str, int] | None]] = {}

    @staticmethod
    def key(execution: Execution) -> str:
        """Return the script an execution runs: its path, else its name, else ``""``."""
        return execution.script_path or execution.request.script_name or ""

    def begin(self, execution: Execution, kernel: KernelToken) -> None:
        """Plan ``execution``, which is about to run on the kernel process ``kernel``.

        Sets ``execution.plan`` (whole-script runs), ``execution.kept`` (the kept results
        by statement index), ``execution.unbind`` and ``execution.fresh`` (incremental runs).
        """
        request = execution.request
        statements = execution.statements
        key = self.key(execution)
        if request.mode == "cell" or (request.mode == "statements" and request.line_range):
            # part of a script, or a cell: it may change what every script's run left
            self._touch(written_names(statements), except_key=None)
            return
        script = execution.script_path
        modules = module_times(os.path.dirname(script) if script else None, script)
        previous = self.scripts.get(key) if request.mode == "changed" else None
        if previous is not None:
            plan = plan_rerun(
                statements,
                previous.record,
                restarted=previous.kernel != kernel,
                touched=previous.touched,
                changed_modules=_changed_modules(previous.modules, modules),
            )
            kept = {i: previous.results[old] for i, old in plan.kept.items()}
            if any(result is None for result in kept.values()):  # cannot be shown: run all
                plan = plan_rerun(statements, None)
                kept = {}
            execution.kept = {i: _kept_result(r) for i, r in kept.items() if r is not None}
            execution.unbind = plan.unbind
            execution.fresh = all(plan.run)
        else:
            plan = plan_rerun(statements, None)
        execution.plan = plan
        self._pending[execution.execution_id] = (previous, kernel, modules)
        self._touch(_writes(plan), except_key=key)

    def end(self, execution: Execution) -> None:
        """Record ``execution``'s run of its script (a no-op for parts and cells)."""
        pending = self._pending.pop(execution.execution_id, None)
        plan = execution.plan
        if pending is None or plan is None:
            return
        previous, kernel, modules = pending
        outcomes = [_outcome(execution.results.get(i)) for i in range(len(execution.statements))]
        record = record_run(plan, outcomes, previous.record if previous is not None else None)
        results = tuple(
            None if (r := execution.results.get(i)) is None else {**r, "output": list(r["output"])}
            for i in range(len(execution.statements))
        )
        self.scripts[self.key(execution)] = ScriptRun(record, results, kernel, modules)

    def forget(self) -> None:
        """Forget every record: the next incremental run of each script runs everything."""
        self.scripts.clear()
        self._pending.clear()

    def _touch(self, names: frozenset[str] | None, except_key: str | None) -> None:
        for key, run in list(self.scripts.items()):
            if key == except_key or run.touched is None:
                continue
            touched = None if names is None else run.touched | names
            self.scripts[key] = ScriptRun(run.record, run.results, run.kernel, run.modules, touched)


def _writes(plan: Plan) -> frozenset[str] | None:
    """Return the names the statements a plan runs may write; None for a barrier."""
    names: set[str] = set()
    for flow, runs in zip(plan.flows, plan.run, strict=True):
        if not runs:
            continue
        if flow.barrier:
            return None
        names |= flow.writes
    return frozenset(names)


def _outcome(result: dict[str, Any] | None) -> str:
    if result is None:
        return "cancelled"
    if result.get("cached"):
        return "kept"
    return str(result.get("status", "error"))
