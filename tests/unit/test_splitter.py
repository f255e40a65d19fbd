"""Unit tests for pdit_gateway.splitter: scripts in, top-level statements out."""

from __future__ import annotations

import ast
import dataclasses
import random
import warnings

import pytest

from pdit_gateway.splitter import Statement, SyntaxErrorDetails, split_script

WRAP_PREFIX = '__import__("IPython.display", fromlist=["Markdown"]).Markdown(('
WRAP_SUFFIX = ").strip())"


def spans(statements: list[Statement]) -> list[tuple[int, int]]:
    return [(s.line_start, s.line_end) for s in statements]


def codes(statements: list[Statement]) -> list[str]:
    return [s.code for s in statements]


def only_error(statements: list[Statement]) -> tuple[Statement, SyntaxErrorDetails]:
    assert len(statements) == 1
    (statement,) = statements
    assert statement.kind == "syntax-error"
    assert statement.index == 0
    assert statement.error is not None
    return statement, statement.error


# --- plain statements -------------------------------------------------------------------------


def test_simple_sequence() -> None:
    statements = split_script("a = 1\nb = 2\nprint(a + b)\n")
    assert spans(statements) == [(1, 1), (2, 2), (3, 3)]
    assert codes(statements) == ["a = 1", "b = 2", "print(a + b)"]
    assert [s.index for s in statements] == [0, 1, 2]
    assert all(s.kind == "code" and not s.fstring and s.error is None for s in statements)


def test_multi_line_def() -> None:
    script = "def f(x):\n    y = x + 1\n\n    return y\n\nf(1)\n"
    statements = split_script(script)
    assert spans(statements) == [(1, 4), (6, 6)]
    assert statements[0].code == "def f(x):\n    y = x + 1\n\n    return y"


def test_multi_line_expression_statement() -> None:
    statements = split_script("x = [\n    1,\n    2,\n]\ny = x\n")
    assert spans(statements) == [(1, 4), (5, 5)]


def test_decorated_function_starts_at_decorator() -> None:
    script = "import functools\n\n@functools.cache\ndef f():\n    return 1\n"
    statements = split_script(script)
    assert spans(statements) == [(1, 1), (3, 5)]
    assert statements[1].code == "@functools.cache\ndef f():\n    return 1"


def test_several_decorators_start_at_first() -> None:
    script = "x = 0\n@a\n@b(1,\n   2)\n@c\nasync def f():\n    pass\n"
    statements = split_script(script)
    assert spans(statements) == [(1, 1), (2, 7)]
    assert statements[1].code.startswith("@a\n@b(1,")


def test_class_decorator() -> None:
    script = "import dataclasses\n@dataclasses.dataclass\nclass P:\n    x: int\n"
    statements = split_script(script)
    assert spans(statements) == [(1, 1), (2, 4)]


def test_decorator_expression_below_its_at_sign() -> None:
    statements = split_script("@(\n    dec\n)\ndef f():\n    pass\n")
    assert spans(statements) == [(1, 5)]


def test_statements_on_one_line_merge() -> None:
    statements = split_script("a = 1; b = 2\nc = 3\n")
    assert spans(statements) == [(1, 1), (2, 2)]
    assert statements[0].code == "a = 1; b = 2"
    assert statements[0].kind == "code"


def test_statements_touching_on_a_line_merge_into_union() -> None:
    statements = split_script("x = (1,\n 2); y = 3\nz = 4\n")
    assert spans(statements) == [(1, 2), (3, 3)]
    assert statements[0].code == "x = (1,\n 2); y = 3"


def test_merged_strings_are_code_not_markdown() -> None:
    (statement,) = split_script('"a"; "b"\n')
    assert statement.kind == "code"
    assert statement.code == '"a"; "b"'


def test_if_main_block_is_one_statement() -> None:
    script = 'def main():\n    pass\n\nif __name__ == "__main__":\n    main()\n    print("done")\n'
    statements = split_script(script)
    assert spans(statements) == [(1, 2), (4, 6)]
    assert statements[1].code == 'if __name__ == "__main__":\n    main()\n    print("done")'


def test_comments_between_statements_belong_to_none() -> None:
    script = "a = 1\n# about b\n\n   # indented comment\nb = 2  # trailing\n"
    statements = split_script(script)
    assert spans(statements) == [(1, 1), (5, 5)]
    assert codes(statements) == ["a = 1", "b = 2  # trailing"]


def test_comments_inside_a_statement_are_kept() -> None:
    script = "def f():\n    # inside\n    return 1  # end\n"
    (statement,) = split_script(script)
    assert statement.code == script.rstrip("\n")


def test_last_statement_without_trailing_newline() -> None:
    statements = split_script("a = 1\nb = (2 +\n     3)")
    assert spans(statements) == [(1, 1), (2, 3)]
    assert statements[1].code == "b = (2 +\n     3)"


@pytest.mark.parametrize("script", ["", "\n", "   \n\t\n", "# just a comment\n", "# a\n\n  # b"])
def test_no_statements(script: str) -> None:
    assert split_script(script) == []


# --- markdown and f-strings -------------------------------------------------------------------


def test_markdown_string() -> None:
    statements = split_script("x = 1\n'  # Title  '\ny = 2\n")
    assert spans(statements) == [(1, 1), (2, 2), (3, 3)]
    markdown = statements[1]
    assert markdown.kind == "markdown"
    assert markdown.markdown == "# Title"
    assert markdown.code == ""


def test_markdown_triple_quoted_is_stripped() -> None:
    (statement,) = split_script('"""\n# Heading\n\nSome *text*.\n"""\n')
    assert statement.kind == "markdown"
    assert (statement.line_start, statement.line_end) == (1, 5)
    assert statement.markdown == "# Heading\n\nSome *text*."


def test_bytes_literal_is_code() -> None:
    (statement,) = split_script("b'not markdown'\n")
    assert statement.kind == "code"
    assert statement.code == "b'not markdown'"


def test_string_in_expression_is_code() -> None:
    (statement,) = split_script("'a' + 'b'\n")
    assert statement.kind == "code"


def assert_wrapped_fstring(statement: Statement, segment: str) -> None:
    assert statement.kind == "code"
    assert statement.fstring is True
    assert statement.code == WRAP_PREFIX + segment + WRAP_SUFFIX
    compile(statement.code, "<x>", "exec")


def test_fstring_is_wrapped_as_markdown() -> None:
    (statement,) = split_script('f"Total: {1 + 1}"\n')
    assert_wrapped_fstring(statement, 'f"Total: {1 + 1}"')
    assert (statement.line_start, statement.line_end) == (1, 1)


def test_fstring_wrapped_code_evaluates_to_stripped_markdown() -> None:
    (statement,) = split_script("f'  **{n}** items  '\n")
    shown = eval(statement.code, {"n": 3})
    assert type(shown).__name__ == "Markdown"
    assert shown.data == "**3** items"


def test_fstring_with_trailing_semicolon_and_comment() -> None:
    (statement,) = split_script("f'{x}';  # shown as markdown\n")
    assert_wrapped_fstring(statement, "f'{x}'")


def test_triple_quoted_multi_line_fstring() -> None:
    script = 'x = 2\nf"""\n# Result\n\nx is {x}\n"""\n'
    statements = split_script(script)
    assert spans(statements) == [(1, 1), (2, 6)]
    assert_wrapped_fstring(statements[1], 'f"""\n# Result\n\nx is {x}\n"""')


def test_parenthesised_concatenated_fstring() -> None:
    (statement,) = split_script('(\n    f"a {x}"  # first\n    "b"\n)\n')
    assert (statement.line_start, statement.line_end) == (1, 4)
    assert_wrapped_fstring(statement, 'f"a {x}"  # first\n    "b"')


def test_fstring_in_expression_is_plain_code() -> None:
    (statement,) = split_script("print(f'{x}')\n")
    assert statement.fstring is False
    assert statement.code == "print(f'{x}')"


def test_fstring_among_merged_statements_is_plain_code() -> None:
    (statement,) = split_script("x = 1; f'{x}'\n")
    assert statement.fstring is False
    assert statement.code == "x = 1; f'{x}'"


# --- syntax errors ----------------------------------------------------------------------------


def test_syntax_error_is_one_statement_at_its_line() -> None:
    script = "a = 1\nb = 2\nc = = 3\nd = 4\n"
    statement, error = only_error(split_script(script, filename="demo.py"))
    assert (statement.line_start, statement.line_end) == (3, 3)
    assert statement.code == ""
    assert error.ename == "SyntaxError"
    assert error.evalue == "invalid syntax"
    assert error.traceback[0] == '  File "demo.py", line 3'
    assert error.traceback[1].strip() == "c = = 3"
    assert set(error.traceback[2].strip()) == {"^"}
    assert error.traceback[-1] == "SyntaxError: invalid syntax"
    assert not any("\n" in line or "\x1b" in line for line in error.traceback)


def test_unclosed_bracket() -> None:
    statement, error = only_error(split_script("x = 1\ny = (\n"))
    assert statement.line_start == 2
    assert error.evalue == "'(' was never closed"
    assert error.traceback[0] == '  File "<script>", line 2'
    assert error.traceback[-1] == "SyntaxError: '(' was never closed"


def test_indentation_error() -> None:
    statement, error = only_error(split_script("def f():\nreturn 1\n"))
    assert (statement.line_start, statement.line_end) == (2, 2)
    assert error.ename == "IndentationError"
    assert error.evalue.startswith("expected an indented block")
    assert error.traceback[-1].startswith("IndentationError: expected an indented block")


def test_unexpected_indent_mid_script() -> None:
    statement, error = only_error(split_script("a = 1\n    b = 2\n"))
    assert statement.line_start == 2
    assert error.ename == "IndentationError"
    assert error.evalue == "unexpected indent"


def test_tab_error() -> None:
    statement, error = only_error(split_script("if True:\n\tx = 1\n        y = 2\n"))
    assert statement.line_start == 3
    assert error.ename == "TabError"


def test_syntax_error_ignores_line_range() -> None:
    statement, _ = only_error(split_script("a = 1\nb = (\n", line_range=(1, 1)))
    assert statement.line_start == 2


def test_null_byte_is_a_syntax_error() -> None:
    statement, error = only_error(split_script("x = '\0'\n"))
    assert statement.line_start == 1
    assert error.ename == "SyntaxError"
    assert error.traceback[-1] == f"SyntaxError: {error.evalue}"


def test_too_deeply_nested_script_is_reported_not_raised() -> None:
    statement, error = only_error(split_script("x = " + "-" * 100_000 + "1\n"))
    assert statement.line_start == 1
    assert error.traceback[-1] == f"{error.ename}: {error.evalue}"


# --- line ranges ------------------------------------------------------------------------------


RANGED = "a = 1\n\ndef f():\n    return 2\n\nb = 3\nc = 4\n"


def test_line_range_keeps_overlapping_statements_and_renumbers() -> None:
    statements = split_script(RANGED, line_range=(4, 6))
    assert spans(statements) == [(3, 4), (6, 6)]
    assert [s.index for s in statements] == [0, 1]
    assert codes(statements) == ["def f():\n    return 2", "b = 3"]


def test_line_range_inside_a_multi_line_statement() -> None:
    (statement,) = split_script(RANGED, line_range=(4, 4))
    assert (statement.index, statement.line_start, statement.line_end) == (0, 3, 4)


def test_line_range_on_blank_lines_only() -> None:
    assert split_script(RANGED, line_range=(2, 2)) == []
    assert split_script(RANGED, line_range=(20, 30)) == []


def test_line_range_single_statement_line() -> None:
    (statement,) = split_script(RANGED, line_range=(7, 7))
    assert (statement.index, statement.code) == (0, "c = 4")


# --- newlines, whitespace and encodings -------------------------------------------------------


def test_crlf_gives_same_spans_as_lf() -> None:
    lf = "a = 1\n\ndef f():\n    return 1\n'''md'''\nb = 2\n"
    crlf = lf.replace("\n", "\r\n")
    assert split_script(crlf) == split_script(lf)
    assert not any("\r" in code for code in codes(split_script(crlf)))


def test_lone_cr_is_a_line_end() -> None:
    statements = split_script("a = 1\rb = 2\r\rc = 3")
    assert spans(statements) == [(1, 1), (2, 2), (4, 4)]
    assert codes(statements) == ["a = 1", "b = 2", "c = 3"]


def test_form_feed_and_line_separator_do_not_split_lines() -> None:
    script = "x = 1\n\x0c\ny = 'a\u2028b'\nz = 2\n"
    statements = split_script(script)
    assert spans(statements) == [(1, 1), (3, 3), (4, 4)]
    assert statements[1].code == "y = 'a\u2028b'"


def test_tab_indentation() -> None:
    script = "def f():\n\tif True:\n\t\treturn 1\n\nx = f()\n"
    statements = split_script(script)
    assert spans(statements) == [(1, 3), (5, 5)]
    assert statements[0].code == "def f():\n\tif True:\n\t\treturn 1"


def test_non_ascii_identifiers_and_strings() -> None:
    script = (
        "π = 3.14159\n"
        "naïve = 'héllo wörld ✓'\n"
        "# 日本語のコメント\n"
        '"# Überschrift ✨"\n'
        "f'{π:.2f} — ok'\n"
    )
    statements = split_script(script)
    assert spans(statements) == [(1, 1), (2, 2), (4, 4), (5, 5)]
    assert codes(statements)[:2] == ["π = 3.14159", "naïve = 'héllo wörld ✓'"]
    assert statements[2].markdown == "# Überschrift ✨"
    assert_wrapped_fstring(statements[3], "f'{π:.2f} — ok'")


def test_compile_warnings_are_not_raised() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        statements = split_script("x = '\\d'\ny = x is 1\n")
    assert spans(statements) == [(1, 1), (2, 2)]


# --- IPython syntax ---------------------------------------------------------------------------


def test_line_magic_and_shell_lines_keep_original_code() -> None:
    script = "%time x = 1\n!echo hi\n\nfiles = !ls\ny = x + 1\n"
    statements = split_script(script)
    assert spans(statements) == [(1, 1), (2, 2), (4, 4), (5, 5)]
    assert codes(statements) == ["%time x = 1", "!echo hi", "files = !ls", "y = x + 1"]


def test_magic_inside_a_block_and_help() -> None:
    script = "for i in range(2):\n    %time i * 2\nlen?\n"
    statements = split_script(script)
    assert spans(statements) == [(1, 2), (3, 3)]
    assert codes(statements) == ["for i in range(2):\n    %time i * 2", "len?"]


def test_magics_with_leading_blank_lines_keep_line_numbers() -> None:
    statements = split_script("\n\n%load_ext autoreload\nx = 1\n", line_range=(4, 4))
    assert spans(statements) == [(4, 4)]
    assert codes(statements) == ["x = 1"]


def test_markdown_and_fstring_next_to_magics() -> None:
    statements = split_script("%matplotlib inline\n'''# Plot'''\nf'{1}'\n")
    assert [s.kind for s in statements] == ["code", "markdown", "code"]
    assert statements[1].markdown == "# Plot"
    assert_wrapped_fstring(statements[2], "f'{1}'")


def test_cell_magic_is_one_statement() -> None:
    script = "%%time\nx = 1\n\ny = x + 1\n\n"
    (statement,) = split_script(script)
    assert (statement.line_start, statement.line_end) == (1, 4)
    assert statement.code == "%%time\nx = 1\n\ny = x + 1"


def test_cell_magic_after_blank_lines() -> None:
    script = "\n\n%%bash\necho hi\n"
    (statement,) = split_script(script)
    assert (statement.line_start, statement.line_end) == (3, 4)
    assert statement.code == "%%bash\necho hi"


def test_syntax_error_next_to_a_magic_is_reported_from_the_original_parse() -> None:
    statement, error = only_error(split_script("%time x = 1\ny = (\n"))
    assert statement.line_start == 1
    assert error.traceback[1].strip() == "%time x = 1"


def test_magic_with_line_continuation_is_reported_as_syntax_error() -> None:
    statement, _ = only_error(split_script("a = 1\n%time x = 1 + \\\n    2\n"))
    assert statement.line_start == 2


# --- the statement type -----------------------------------------------------------------------


def test_to_wire() -> None:
    statement = split_script("a = 1\n\nb = (1,\n     2)\n")[1]
    assert statement.to_wire() == {"index": 1, "lineStart": 3, "lineEnd": 4}


def test_statements_are_frozen() -> None:
    (statement,) = split_script("a = 1\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        statement.index = 3  # type: ignore[misc]


# --- invariants over generated scripts --------------------------------------------------------


PIECES = [
    "a = 1",
    "b = (1,\n     2)",
    "c = 1; d = 2",
    "def f():\n    return 1",
    "@dec\nclass C:\n    pass",
    "'''# md'''",
    "f'{a}'",
    "# comment",
    "",
    "   ",
    "%time a",
    "!ls",
    "if a:\n\tb",
    "x = (",
    "é = 'ü'",
    "\x0c",
]


def test_generated_scripts_keep_invariants() -> None:
    rng = random.Random(20240601)
    for _ in range(300):
        pieces = [rng.choice(PIECES) for _ in range(rng.randint(0, 8))]
        newline = rng.choice(["\n", "\r\n", "\r"])
        script = newline.join(piece.replace("\n", newline) for piece in pieces)
        lines = script.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        statements = split_script(script)
        assert [s.index for s in statements] == list(range(len(statements)))
        previous_end = 0
        for statement in statements:
            assert previous_end < statement.line_start <= statement.line_end <= len(lines)
            previous_end = statement.line_end
            if statement.kind == "code" and not statement.fstring:
                expected = "\n".join(lines[statement.line_start - 1 : statement.line_end])
                assert statement.code == expected
            if statement.fstring:
                ast.parse(statement.code)
        if any(s.kind == "syntax-error" for s in statements):
            assert len(statements) == 1
