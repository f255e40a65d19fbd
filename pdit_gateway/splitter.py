"""Split a Python script into the top-level statements that pdit runs one by one."""

from __future__ import annotations

import ast
import dataclasses
import traceback
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Statement", "StatementKind", "SyntaxErrorDetails", "split_script"]

StatementKind = Literal["code", "markdown", "syntax-error"]

# A lone f-string is evaluated by the kernel and displayed as markdown, as pdit does.
_MARKDOWN_PREFIX = '__import__("IPython.display", fromlist=["Markdown"]).Markdown(('
_MARKDOWN_SUFFIX = ").strip())"

# What IPython turns a cell whose first line is ``%%magic`` into: one call over the whole cell.
_CELL_MAGIC_CALL = "get_ipython().run_cell_magic("


@dataclass(frozen=True, slots=True)
class SyntaxErrorDetails:
    """Why a script could not be split, in the shape of a Jupyter error output.

    Attributes
    ----------
    ename : str
        The exception name: ``"SyntaxError"``, ``"IndentationError"`` or ``"TabError"`` (and
        ``"RecursionError"`` or ``"MemoryError"`` when the parser gives up on a too deeply
        nested script).
    evalue : str
        The message, e.g. ``"invalid syntax"`` or ``"'(' was never closed"``.
    traceback : list of str
        Plain-text lines (no ANSI codes, no line ends) as Python prints them: the
        ``File "<name>", line N`` line, the source line, the caret line and ``ename: evalue``.
    """

    ename: str
    evalue: str
    traceback: list[str]


@dataclass(frozen=True, slots=True)
class Statement:
    """One top-level statement of a script and what to do with it.

    Attributes
    ----------
    index : int
        0-based position in the list returned by :func:`split_script`.
    line_start : int
        First line of the statement, 1-based, inclusive.
    line_end : int
        Last line of the statement, 1-based, inclusive.
    kind : {"code", "markdown", "syntax-error"}
        ``"code"`` is sent to the kernel; ``"markdown"`` is a lone string literal shown as
        markdown without running anything; ``"syntax-error"`` is the single statement of a
        script that does not parse.
    code : str
        The source sent to the kernel (kind ``"code"`` only).
    markdown : str
        The value of the string literal, stripped (kind ``"markdown"`` only).
    fstring : bool
        True when the statement is a lone f-string whose ``code`` wraps it so that the kernel
        returns it as ``text/markdown``.
    error : SyntaxErrorDetails or None
        The syntax error (kind ``"syntax-error"`` only).
    """

    index: int
    line_start: int
    line_end: int
    kind: StatementKind
    code: str = ""
    markdown: str = ""
    fstring: bool = False
    error: SyntaxErrorDetails | None = None

    def to_wire(self) -> dict[str, int]:
        """Return the statement as it appears in an ``expressions`` list on the wire.

        Returns
        -------
        dict of str to int
            ``{"index": ..., "lineStart": ..., "lineEnd": ...}``.
        """
        return {"index": self.index, "lineStart": self.line_start, "lineEnd": self.line_end}


def split_script(
    script: str,
    line_range: tuple[int, int] | None = None,
    filename: str = "<script>",
) -> list[Statement]:
    """Split a script into the top-level statements that are run one by one.

    Statements come from :func:`ast.parse`; a decorated definition starts at its first
    decorator, and statements that share a line (``a = 1; b = 2``) form one statement. A lone
    string literal is markdown, a lone f-string is code that displays as markdown. A script
    that Python cannot parse is first read through IPython's input transformation, so
    ``%magic``, ``!shell`` and ``%%cellmagic`` lines still split (their code is sent as
    written: the kernel transforms it itself).

    Parameters
    ----------
    script : str
        The script. ``"\\r\\n"`` and a lone ``"\\r"`` count as one line end.
    line_range : tuple of (int, int), optional
        1-based inclusive ``(from, to)``: keep only the statements that overlap these lines.
        A syntax error is returned whatever the range.
    filename : str, optional
        The file name shown in a syntax error's traceback.

    Returns
    -------
    list of Statement
        The statements in source order, indexed from 0. Empty for a script with no
        statement (empty, blank or comments only). A script that does not parse yields a
        single ``"syntax-error"`` statement at the error's line.
    """
    text = script.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    try:
        tree = _parse(text, filename)
    except SyntaxError as err:  # also IndentationError and TabError
        transformed = _split_ipython(text, lines, filename)
        if transformed is None:
            return [_syntax_error_statement(err, len(lines))]
        statements = transformed
    except (RecursionError, MemoryError) as err:
        # The parser gives up on very deeply nested code; report it like a syntax error.
        return [_syntax_error_statement(err, len(lines))]
    else:
        statements = _statements_from_tree(tree, text, lines, 0)

    if line_range is not None:
        first, last = line_range
        statements = [s for s in statements if not (s.line_end < first or s.line_start > last)]
    return [dataclasses.replace(s, index=i) for i, s in enumerate(statements)]


def cell_statement(script: str, line_range: tuple[int, int] | None = None) -> list[Statement]:
    """Return the whole script as one statement (``mode: "cell"``); none for a blank one.

    With ``line_range`` the cell is those lines of the script (a ``# %%`` cell of a file),
    and it keeps their line numbers.
    """
    normalised = script.replace("\r\n", "\n").replace("\r", "\n")
    first = 1
    if line_range is not None:
        first = line_range[0]
        normalised = "\n".join(normalised.split("\n")[first - 1 : line_range[1]])
    if not normalised.strip():
        return []
    lines = normalised.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    end = first + max(1, len(lines)) - 1
    return [Statement(index=0, line_start=first, line_end=end, kind="code", code=normalised)]


def _parse(source: str, filename: str) -> ast.Module:
    """Parse without emitting compile-time warnings (the kernel reports its own)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, filename=filename)


def _statements_from_tree(
    tree: ast.Module, parsed: str, lines: list[str], offset: int
) -> list[Statement]:
    """Group the module's nodes by line span; ``offset`` maps parsed lines to ``lines``."""
    parsed_lines = parsed.split("\n")
    groups: list[tuple[int, int, list[ast.stmt]]] = []
    for node in tree.body:
        floor = groups[-1][1] if groups else 1
        start = _first_line(node, parsed_lines, floor)
        end = node.end_lineno if node.end_lineno is not None else node.lineno
        if groups and start <= groups[-1][1]:
            group_start, group_end, nodes = groups[-1]
            groups[-1] = (group_start, max(group_end, end), [*nodes, node])
        else:
            groups.append((start, end, [node]))
    return [
        _statement(start + offset, end + offset, nodes, parsed, lines)
        for start, end, nodes in groups
    ]


def _first_line(node: ast.stmt, parsed_lines: list[str], floor: int) -> int:
    """Return the line a node starts on, counting its decorators."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.lineno
    if not node.decorator_list:
        return node.lineno
    # The decorator expression may start below its ``@`` (``@(\n    name\n)``); a top-level
    # ``@`` begins its line, and only brackets, blanks and comments lie between the two.
    expression_line = node.decorator_list[0].lineno
    for line in range(expression_line, floor - 1, -1):
        if parsed_lines[line - 1].lstrip(" \t\f").startswith("@"):
            return line
    return expression_line


def _statement(
    start: int, end: int, nodes: list[ast.stmt], parsed: str, lines: list[str]
) -> Statement:
    """Build the statement for one group of nodes spanning ``start``..``end``."""
    if len(nodes) == 1 and isinstance(nodes[0], ast.Expr):
        value = nodes[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return Statement(0, start, end, "markdown", markdown=value.value.strip())
        if isinstance(value, ast.JoinedStr):
            segment = ast.get_source_segment(parsed, value)
            if segment is not None:
                code = _MARKDOWN_PREFIX + segment + _MARKDOWN_SUFFIX
                return Statement(0, start, end, "code", code=code, fstring=True)
    return Statement(0, start, end, "code", code="\n".join(lines[start - 1 : end]))


def _split_ipython(text: str, lines: list[str], filename: str) -> list[Statement] | None:
    """Split a script that only parses after IPython's transformation, else return None."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # the server may run without IPython; the kernel has its own
        return None
    # IPython leaves TransformerManager.__init__ unannotated; give the call a type.
    make_manager: Callable[[], TransformerManager] = TransformerManager
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            transformed = make_manager().transform_cell(text)
    except Exception:
        # On broken input the transformation fails in many ways (IndentationError from its
        # tokenizer, IndexError, ...); then the original syntax error stands.
        return None

    skipped = 0  # IPython drops leading blank lines
    while skipped < len(lines) and not lines[skipped].strip():
        skipped += 1
    transformed_lines = _line_count(transformed)
    if transformed_lines == 1 and transformed.startswith(_CELL_MAGIC_CALL):
        # A ``%%magic`` cell: the whole script is one statement, up to its last non-blank line.
        if not _parses(transformed, filename):
            return None
        end = max(i for i, line in enumerate(lines, 1) if line.strip())
        code = "\n".join(lines[skipped:end])
        return [Statement(0, skipped + 1, end, "code", code=code)]
    if transformed_lines != _line_count(text) - skipped:
        return None
    try:
        tree = _parse(transformed, filename)
    except (SyntaxError, RecursionError, MemoryError):
        return None
    return _statements_from_tree(tree, transformed, lines, skipped)


def _parses(source: str, filename: str) -> bool:
    """Return whether ``source`` is valid Python."""
    try:
        _parse(source, filename)
    except (SyntaxError, RecursionError, MemoryError):
        return False
    return True


def _line_count(text: str) -> int:
    """Count lines split on ``"\\n"``, a final line end not starting another line."""
    count = text.count("\n") + 1
    return count - 1 if text.endswith("\n") else count


def _syntax_error_statement(
    err: SyntaxError | RecursionError | MemoryError, line_count: int
) -> Statement:
    """Build the single statement that reports a script's parse error."""
    if isinstance(err, SyntaxError):
        if isinstance(err, TabError):
            ename = "TabError"
        elif isinstance(err, IndentationError):
            ename = "IndentationError"
        else:
            ename = "SyntaxError"
        evalue = err.msg
        line = min(max(err.lineno or 1, 1), max(line_count, 1))
    else:
        ename = type(err).__name__
        evalue = str(err) or "the script is too deeply nested to parse"
        line = 1
    printed = "".join(traceback.format_exception_only(err)).rstrip("\n").split("\n")
    # The last line names the exception; keep it in step with ``ename`` and ``evalue``.
    printed[-1] = f"{ename}: {evalue}"
    details = SyntaxErrorDetails(ename=ename, evalue=evalue, traceback=printed)
    return Statement(0, line, line, "syntax-error", error=details)
