"""Unit tests for pdit_gateway.dataflow and pdit_gateway.incremental: reads, writes, plans."""

from __future__ import annotations

import pytest

from pdit_gateway.dataflow import (
    BARRIER,
    FIGURES,
    FILES,
    STATES,
    analyze_source,
    analyze_statement,
    module_name,
)
from pdit_gateway.incremental import STALE, plan_rerun, record_run, resolve_flows
from pdit_gateway.splitter import split_script


def rw(code: str) -> tuple[set[str], set[str]]:
    effects = analyze_source(code)
    return set(effects.reads), set(effects.writes)


# --- names bound --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "bound"),
    [
        ("x = 1", {"x"}),
        ("x = y = 1", {"x", "y"}),
        ("a, (b, *c) = v", {"a", "b", "c"}),
        ("x += 1", {"x"}),
        ("x: int = 1", {"x"}),
        ("for i in xs: pass", {"i"}),
        ("with cm() as (a, b): pass", {"a", "b"}),
        ("try:\n    pass\nexcept E as err:\n    pass", {"err"}),
        ("import os.path", {"os"}),
        ("import numpy as np", {"np"}),
        ("from a.b import c, d as e", {"c", "e"}),
        ("def f(): pass", {"f"}),
        ("class C: pass", {"C"}),
        ("del x", {"x"}),
        ("if (n := 3): pass", {"n"}),
        (
            "match p:\n    case [a, *rest]: pass\n    case {'k': v, **kw}: pass",
            {"a", "rest", "v", "kw"},
        ),
        ("match p:\n    case Point(x=px) as whole: pass", {"px", "whole"}),
    ],
)
def test_names_bound(code: str, bound: set[str]) -> None:
    assert set(analyze_source(code).binds) == bound


def test_comprehension_variables_do_not_leak() -> None:
    effects = analyze_source("ys = [i * k for i in range(3) for j in range(i)]")
    assert effects.binds == {"ys"}
    assert effects.reads == {"range", "k"}


def test_walrus_in_a_comprehension_binds_the_global() -> None:
    assert analyze_source("[y := v for v in vs]").binds == {"y"}


def test_dict_and_set_comprehensions_and_generators_have_their_own_scope() -> None:
    assert analyze_source("d = {k: v for k, v in items}").binds == {"d"}
    assert analyze_source("s = {v for v in items}").binds == {"s"}
    assert analyze_source("g = (v for v in items)").binds == {"g"}


def test_annotation_alone_binds_nothing_but_is_read() -> None:
    effects = analyze_source("x: Spam")
    assert "x" not in effects.binds
    assert "Spam" in effects.reads


# --- names read ---------------------------------------------------------------------------------


def test_reads_of_an_expression() -> None:
    assert rw("print(a + b[c])")[0] == {"print", "a", "b", "c"}


def test_decorators_defaults_and_annotations_are_read_at_definition() -> None:
    effects = analyze_source("@deco(D)\ndef f(x: T = default) -> R:\n    return body_name")
    assert effects.reads == {"deco", "D", "T", "default", "R"}
    assert effects.lazy_reads == {"body_name"}


def test_function_locals_and_parameters_are_not_global_reads() -> None:
    code = (
        "def f(a, *args, k=1, **kw):\n    b = a + k\n    for i in args: b += i\n    return b, kw, G"
    )
    assert analyze_source(code).lazy_reads == {"G"}


def test_nested_function_free_names_resolve_to_the_enclosing_function() -> None:
    code = "def outer():\n    x = 1\n    def inner():\n        return x + y\n    return inner"
    assert analyze_source(code).lazy_reads == {"y"}


def test_class_body_reads_are_immediate_and_methods_lazy() -> None:
    effects = analyze_source("class C(Base):\n    n = N\n    def m(self):\n        return M")
    assert effects.reads == {"Base", "N"}
    assert effects.lazy_reads == {"M"}
    assert effects.binds == {"C"}  # not n, not m


def test_a_class_body_assignment_is_not_a_global() -> None:
    assert "n" not in analyze_source("class C:\n    n = 1").writes


def test_a_generator_reads_now_and_later() -> None:
    effects = analyze_source("g = (x * k for x in xs)")
    assert {"k", "xs"} <= effects.reads
    assert "k" in effects.lazy_reads
    assert "xs" not in effects.lazy_reads  # the first iterable is evaluated at once


def test_lambda_body_is_lazy() -> None:
    effects = analyze_source("f = lambda x, d=D: x * k")
    assert effects.reads == {"D"}
    assert effects.lazy_reads == {"k"}


# --- global declarations -------------------------------------------------------------------------


def test_global_in_a_function_writes_when_called() -> None:
    effects = analyze_source("def bump():\n    global n\n    n = n + 1")
    assert effects.binds == {"bump"}
    assert effects.lazy_writes == {"n"}
    assert "n" in effects.lazy_reads


def test_a_local_of_the_same_name_is_not_the_global() -> None:
    effects = analyze_source("def f():\n    n = 1\n    return n")
    assert effects.lazy_writes == frozenset()
    assert effects.lazy_reads == frozenset()


def test_nonlocal_is_not_global() -> None:
    code = "def f():\n    n = 0\n    def g():\n        nonlocal n\n        n += 1\n    return g"
    effects = analyze_source(code)
    assert "n" not in effects.lazy_writes
    assert "n" not in effects.lazy_reads


# --- mutations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "mutated"),
    [
        ('d["k"] = 1', {"d"}),
        ("obj.attr = 1", {"obj"}),
        ("obj.a.b[0] = 1", {"obj"}),
        ("del d[k]", {"d"}),
        ("del obj.attr", {"obj"}),
        ("xs += [1]", {"xs"}),
        ("print(xs)", set()),
        ("n = len(xs)", set()),
    ],
)
def test_mutations(code: str, mutated: set[str]) -> None:
    assert set(analyze_source(code).mutates) == mutated


@pytest.mark.parametrize(
    ("code", "changed"),
    [
        ("xs.append(1)", {"xs"}),
        ("df.dropna(inplace=True)", {"df"}),
        ("shuffle(xs)", {"xs", *STATES}),  # from outside: it may be random.shuffle
    ],
)
def test_calls_change_what_the_planner_decides(code: str, changed: set[str]) -> None:
    # The call's effect depends on what its names are bound to: values here.
    flows = resolve_flows(
        [analyze_source("xs = [3, 1]"), analyze_source("df = [None]"), analyze_source(code)]
    )
    assert set(flows[2].writes) == changed


def test_a_method_call_records_what_it_was_passed() -> None:
    effects = analyze_source("ax.plot(data)")
    assert effects.mutates == {FIGURES}  # a plot method may draw on pyplot's current figure
    (call,) = effects.calls
    assert (call.root, call.method, call.receivers, call.passed) == (
        "ax",
        "plot",
        frozenset({"ax"}),
        frozenset({"data"}),
    )


def test_mutation_through_a_local_alias_in_a_function() -> None:
    flows = resolve_flows(
        [analyze_source("xs = []"), analyze_source("def f():\n    ys = xs\n    ys.append(1)"),
         analyze_source("f()")]
    )  # fmt: skip
    assert "xs" in flows[2].writes


def test_iteration_is_recorded() -> None:
    assert analyze_source("for v in g: pass").iterates == {"g"}
    assert analyze_source("total = sum(g)").iterates == {"g"}
    assert analyze_source("found = 3 in g").iterates == {"g"}
    assert analyze_source("a, b = g").iterates == {"g"}
    assert analyze_source("xs = [1, 2]").collections == {"xs"}
    assert analyze_source("xs = make()").collections == frozenset()


def test_aliases() -> None:
    assert dict(analyze_source("ys = xs").aliases) == {"ys": frozenset({"xs"})}
    assert "n" not in dict(analyze_source("n = len(xs)").aliases)


# --- barriers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        'exec("x = 1")',
        'eval("x")',
        'globals()["x"] = 1',
        "locals()",
        "vars()",
        "dir()",
        "from os import *",
        "__import__(name)",
        "importlib.import_module(name)",
        "get_ipython().run_line_magic('time', '')",
        "sys.modules[__name__].x = 1",
        "sys._getframe()",
        "%time x = 1",
        "!ls",
        "def f(:",
    ],
)
def test_barriers(code: str) -> None:
    assert analyze_source(code).barrier


@pytest.mark.parametrize(
    "code", ["vars(obj)", "dir(obj)", 'importlib.import_module("json")', "x = 1", "f(g)"]
)
def test_not_barriers(code: str) -> None:
    assert analyze_source(code).barrier == ()


def test_a_barrier_in_a_function_body_makes_callers_barriers() -> None:
    effects = analyze_source('def f():\n    exec("y = 1")')
    assert effects.barrier == ()
    assert BARRIER in effects.lazy_reads
    definition, call, other = resolve_flows(
        [effects, analyze_source("f()"), analyze_source("z = 1")]
    )
    assert not definition.barrier
    assert call.barrier
    assert not other.barrier


# --- files and modules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "writes"),
    [
        ('open("f")', False),
        ('open("f", "rb")', False),
        ('open("f", "w")', True),
        ('open("f", mode="a")', True),
        ("open(p, mode)", True),
        ('Path("f").write_text("x")', True),
        ('Path("f").read_text()', False),
        ('df.to_csv("out.csv")', True),
        ('pd.read_csv("in.csv")', False),
        ('os.remove("f")', True),
        ('fig.savefig("a.png")', True),
        ("json.dump(obj, fh)", True),
    ],
)
def test_file_io(code: str, writes: bool) -> None:
    effects = analyze_source(code)
    assert FILES in effects.reads
    assert (FILES in effects.binds) is writes


@pytest.mark.parametrize(
    "code", ["xs.remove(1)", "df.copy()", "s.replace('a', 'b')", "os.path.join(a, b)"]
)
def test_not_file_io(code: str) -> None:
    assert FILES not in analyze_source(code).reads


def test_file_io_in_a_function_reaches_its_callers() -> None:
    flows = resolve_flows(
        [analyze_source('def save():\n    open("f", "w").write("x")'), analyze_source("save()")]
    )
    assert FILES in flows[1].writes
    assert FILES not in flows[0].writes


def test_modules_imported() -> None:
    effects = analyze_source("import a.b, c\nfrom d.e import f")
    assert effects.modules == {"a", "c", "d"}
    assert module_name("a") in effects.reads
    assert analyze_source('importlib.import_module("json")').modules == {"json"}
    assert analyze_source("def f():\n    import helpers").modules == {"helpers"}


# --- statements from the splitter ----------------------------------------------------------------


def test_markdown_statements_do_nothing() -> None:
    (statement,) = split_script('"""# Title"""\n')
    assert analyze_statement(statement) == type(analyze_statement(statement))()


def test_fstring_statements_read_their_names_and_are_not_barriers() -> None:
    (statement,) = split_script('f"total: {total}"\n')
    assert statement.fstring
    effects = analyze_statement(statement)
    assert effects.barrier == ()
    assert effects.reads == {"total"}


def test_a_syntax_error_is_a_barrier() -> None:
    (statement,) = split_script("x = (\n")
    assert analyze_statement(statement).barrier


# --- flows: functions and aliases in script order -----------------------------------------------


def flows_of(script: str) -> list[tuple[set[str], set[str]]]:
    statements = split_script(script)
    flows = resolve_flows([analyze_statement(s) for s in statements])
    return [(set(f.reads), set(f.writes)) for f in flows]


def test_calling_a_function_reads_its_globals() -> None:
    flows = flows_of("def f():\n    return K\nprint(f())\n")
    assert "K" in flows[1][0]


def test_calls_read_transitively_at_call_time() -> None:
    script = "def inner():\n    return K\ndef outer():\n    return inner()\nprint(outer())\n"
    assert "K" in flows_of(script)[2][0]


def test_an_instance_carries_its_class_methods() -> None:
    script = "class C:\n    def m(self):\n        return K\nc = C()\nprint(c.m())\n"
    assert "K" in flows_of(script)[2][0]


def test_a_container_carries_the_functions_it_holds() -> None:
    script = "def h():\n    return K\nhs = []\nhs.append(h)\nprint([f() for f in hs])\n"
    assert "K" in flows_of(script)[3][0]


def test_a_value_computed_by_a_function_does_not_carry_its_global_writes() -> None:
    script = "def bump():\n    global n\n    n += 1\nbump()\nprint(n)\n"
    flows = flows_of(script)
    assert "n" in flows[1][1]
    assert "n" not in flows[2][1]


def test_mutating_an_alias_writes_the_original() -> None:
    flows = flows_of("a = []\nb = a\nb.append(1)\n")
    assert {"a", "b"} <= flows[2][1]


def test_rebinding_breaks_the_alias() -> None:
    flows = flows_of("a = []\nb = a\nb = []\nb.append(1)\n")
    assert "a" not in flows[3][1]


def test_a_method_call_on_an_object_does_not_change_its_arguments() -> None:
    flows = flows_of("data = load()\nfig = make()\nfig.plot(data)\nfig.title('t')\n")
    assert "data" not in flows[2][1]
    assert "data" not in flows[3][1]


def test_a_module_function_changes_its_arguments() -> None:
    flows = flows_of("import random\nxs = [1, 2]\nrandom.shuffle(xs)\n")
    assert "xs" in flows[2][1]


def test_changing_what_a_container_holds_changes_the_container() -> None:
    flows = flows_of("data = load()\nfig = make()\nfig.plot(data)\ndata.sort()\n")
    assert "fig" in flows[3][1]


def test_iterating_an_iterator_consumes_it_but_not_a_list() -> None:
    assert "g" in flows_of("g = iter(xs)\nfirst = list(g)\n")[1][1]
    assert "xs" not in flows_of("xs = [1, 2]\ntotal = sum(xs)\n")[1][1]


# --- the planner ---------------------------------------------------------------------------------


def run_all(script: str, statuses: list[str] | None = None):  # type: ignore[no-untyped-def]
    statements = split_script(script)
    plan = plan_rerun(statements, None)
    outcomes = statuses if statuses is not None else ["ok"] * len(statements)
    return record_run(plan, outcomes, None)


def ran_lines(script: str, record, **kwargs) -> list[int]:  # type: ignore[no-untyped-def]
    plan = plan_rerun(split_script(script), record, **kwargs)
    return [plan.statements[i].line_start for i in plan.to_run()]


def test_without_a_record_everything_runs() -> None:
    plan = plan_rerun(split_script("a = 1\nb = 2\n"), None)
    assert plan.run == (True, True)
    assert plan.reasons == ("new", "new")


def test_an_unchanged_script_runs_nothing() -> None:
    script = "a = 1\nb = a + 1\nprint(b)\n"
    assert ran_lines(script, run_all(script)) == []


def test_an_edit_reruns_the_statement_and_its_readers_only() -> None:
    record = run_all("a = 1\nb = a + 1\nc = 5\nprint(b)\nprint(c)\n")
    assert ran_lines("a = 2\nb = a + 1\nc = 5\nprint(b)\nprint(c)\n", record) == [1, 2, 4]


def test_kept_statements_map_to_their_old_index_after_an_insertion() -> None:
    record = run_all("a = 1\nprint(a)\nz = 0\n")
    plan = plan_rerun(split_script("a = 1\nq = 3\nprint(a)\nz = 0\n"), record)
    assert plan.to_run() == [1]
    assert plan.kept == {0: 0, 2: 1, 3: 2}


def test_a_deleted_writer_reruns_its_readers_and_unbinds_the_name() -> None:
    record = run_all("a = 1\nb = 2\nprint(a + b)\n")
    plan = plan_rerun(split_script("a = 1\nprint(a + b)\n"), record)
    assert plan.to_run() == [1]
    assert plan.unbind == {"b"}


def test_a_name_read_before_its_writer_after_a_move_is_unbound() -> None:
    record = run_all("p = 1\nprint(p)\n")
    plan = plan_rerun(split_script("print(p)\np = 1\n"), record)
    assert "p" in plan.unbind
    assert plan.run[0]


def test_failed_and_cancelled_statements_rerun() -> None:
    script = "a = 1\nb = 1 / 0\nprint(a)\n"
    record = run_all(script, ["ok", "error", "cancelled"])
    plan = plan_rerun(split_script(script), record)
    assert plan.reasons[0] is None
    assert plan.reasons[1] == "last run: error"
    assert plan.reasons[2] == "last run: cancelled"


def test_a_later_rebinding_forces_the_earlier_value_back() -> None:
    record = run_all("x = 1\nprint(x)\nx = 2\n")
    plan = plan_rerun(split_script("x = 1\nprint('x', x)\nx = 2\n"), record)
    # print needs x == 1 but the namespace holds 2: x = 1 runs again, and x = 2 at the end.
    assert plan.to_run() == [0, 1, 2]
    assert plan.reasons[0] is not None and plan.reasons[0].startswith("restores x")


def test_a_restored_value_does_not_rerun_its_other_readers() -> None:
    record = run_all("x = 1\nprint(x)\nprint(x, 2)\nx = 2\n")
    plan = plan_rerun(split_script("x = 1\nprint(x)\nprint(x, 3)\nx = 2\n"), record)
    assert plan.to_run() == [0, 2, 3]


def test_write_after_write_keeps_the_final_value() -> None:
    record = run_all("x = 1\nx = 2\nprint(x)\n")
    assert ran_lines("x = 10\nx = 2\nprint(x)\n", record) == [1, 2]


def test_a_mutation_edit_rebuilds_the_object() -> None:
    record = run_all("xs = []\nxs.append(1)\nprint(xs)\n")
    assert ran_lines("xs = []\nxs.append(2)\nprint(xs)\n", record) == [1, 2, 3]


def test_a_barrier_reruns_everything_after_it() -> None:
    record = run_all("a = 1\nexec('b = a')\nc = 3\nprint(c)\n")
    assert ran_lines("a = 2\nexec('b = a')\nc = 3\nprint(c)\n", record) == [1, 2, 3, 4]


def test_an_unchanged_barrier_with_unchanged_inputs_is_kept() -> None:
    record = run_all("a = 1\nexec('b = a')\nc = 3\nprint(c)\n")
    assert ran_lines("a = 1\nexec('b = a')\nc = 3\nprint(c, 1)\n", record) == [4]


def test_restart_runs_everything() -> None:
    script = "a = 1\nprint(a)\n"
    assert ran_lines(script, run_all(script), restarted=True) == [1, 2]


def test_unknown_outside_changes_run_everything() -> None:
    script = "a = 1\nprint(a)\n"
    assert ran_lines(script, run_all(script), touched=None) == [1, 2]


def test_names_touched_by_another_execution_rerun_their_readers() -> None:
    script = "a = 1\nprint(a)\nprint('other')\n"
    # ``a`` changed under the script: its writer restores it, its readers are valid again.
    assert ran_lines(script, run_all(script), touched=frozenset({"a"})) == [1]
    # A name the script never binds: its readers rerun.
    script = "print(helper)\nprint('other')\n"
    assert ran_lines(script, run_all(script), touched=frozenset({"helper"})) == [1]


def test_a_changed_sibling_module_reruns_its_importers_and_dependents() -> None:
    script = "import helpers\nx = helpers.f()\nprint(x)\ny = 1\n"
    record = run_all(script)
    assert ran_lines(script, record, changed_modules=frozenset({"helpers"})) == [1, 2, 3]
    assert ran_lines(script, record, changed_modules=frozenset({"other"})) == []


def test_a_changed_module_imported_in_a_function_reruns_its_callers() -> None:
    script = "def f():\n    import helpers\n    return helpers.g()\nx = 1\nprint(f())\n"
    record = run_all(script)
    assert ran_lines(script, record, changed_modules=frozenset({"helpers"})) == [1, 5]


def test_a_moved_definition_reruns_and_so_do_its_callers() -> None:
    record = run_all("def f():\n    return 1\nprint(f())\n")
    assert ran_lines("\ndef f():\n    return 1\nprint(f())\n", record) == [2, 4]
    assert (
        ran_lines("\ndef f():\n    return 1\nprint(f())\n", record, rerun_moved_definitions=False)
        == []
    )


def test_a_moved_plain_statement_is_kept() -> None:
    record = run_all("a = 1\nprint(a)\n")
    assert ran_lines("\n\na = 1\nprint(a)\n", record) == []


def test_swapped_writers_rerun_the_reader() -> None:
    record = run_all("x = 1\nx = 2\nprint(x)\n")
    plan = plan_rerun(split_script("x = 2\nx = 1\nprint(x)\n"), record)
    assert plan.run[2]


def test_record_run_tracks_where_values_come_from() -> None:
    statements = split_script("a = 1\nb = 2\na = 3\n")
    record = record_run(plan_rerun(statements, None), ["ok", "error", "cancelled"], None)
    assert record.provenance == {"a": 0, "b": 1}
    assert [s.status for s in record.statements] == ["ok", "error", "cancelled"]
    plan = plan_rerun(split_script("b = 2\na = 3\n"), record)
    assert plan.provenance == {"a": STALE, "b": 0}


def test_record_run_keeps_the_old_status_of_kept_statements() -> None:
    record = run_all("a = 1\nprint(a)\n")
    plan = plan_rerun(split_script("a = 1\nprint(a, 2)\n"), record)
    new = record_run(plan, ["kept", "ok"], record)
    assert [s.status for s in new.statements] == ["ok", "ok"]
    with pytest.raises(ValueError, match="one outcome per statement"):
        record_run(plan, ["ok"], record)
