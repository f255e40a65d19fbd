"""A script's (or notebook's) run as one self-contained HTML page: each result beside its lines."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from .events import strip_ansi, terminal_text
from .outputs import NbformatForm, OutputArea

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["Block", "notebook_blocks", "render_html", "render_output"]

#: The order a bundle's types are tried in (Jupyter's display order, without JavaScript).
DISPLAY_ORDER = (
    "text/html",
    "text/markdown",
    "text/latex",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/json",
    "text/plain",
)

# Nothing is loaded from anywhere: images are data: URIs, styles are inline, and no script
# runs (not even one inside an HTML output), so the page reads the same offline.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"

_CSS = """
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #6e7781;
  --line: #d8dee4; --code-bg: #f6f8fa; --err: #cf222e; --err-bg: #ffebe9; --warn-bg: #fff8c5; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0; --line: #30363d; --code-bg: #161b22;
    --err: #ff7b72; --err-bg: #3b1d1d; --warn-bg: #3a3000; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); }
header { padding: 16px 24px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0; font-size: 20px; }
header p { margin: 4px 0 0; color: var(--muted); }
.status-ok { color: #1a7f37; } .status-failed { color: var(--err); }
main { padding: 8px 24px 32px; }
.row { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px;
  border-bottom: 1px solid var(--line); padding: 6px 0; }
.row.wide { grid-template-columns: minmax(0, 1fr); }
pre { margin: 0; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.source { background: var(--code-bg); border-radius: 6px; padding: 6px 0; }
.source .ln { display: inline-block; width: 3.5em; padding-right: 0.8em; text-align: right;
  color: var(--muted); user-select: none; }
.source.text { background: transparent; color: var(--muted); }
.outputs > * + * { margin-top: 6px; }
.count { color: var(--muted); font: 12px ui-monospace, monospace; }
.stderr { background: var(--warn-bg); padding: 2px 6px; border-radius: 4px; }
.error { color: var(--err); background: var(--err-bg); padding: 6px; border-radius: 4px; }
.outputs img { max-width: 100%; height: auto; }
.html-output { overflow-x: auto; }
.html-output table { border-collapse: collapse; }
.html-output th, .html-output td { border: 1px solid var(--line); padding: 2px 8px; }
.markdown > :first-child { margin-top: 0; } .markdown > :last-child { margin-bottom: 0; }
.not-run { color: var(--muted); font-style: italic; }
"""


@dataclass
class Block:
    """A run of a script's (or a cell's) lines and what it produced, for the HTML page.

    Attributes
    ----------
    kind : {"code", "markdown", "text"}
        A statement or code cell; a markdown string or cell; lines between statements.
    first_line : int
        The 1-based number of the first line.
    lines : list of str
        The source lines.
    cell_index : int or None
        The notebook cell that holds the block's outputs (``code``) or text (``markdown``).
    """

    kind: Literal["code", "markdown", "text"]
    first_line: int
    lines: list[str]
    cell_index: int | None = None


def notebook_blocks(nb: NotebookNode) -> list[Block]:
    """Return one block per cell of a notebook (lines numbered within each cell)."""
    blocks: list[Block] = []
    for index, cell in enumerate(nb.cells):
        lines = str(cell.get("source", "")).split("\n")
        if cell.get("cell_type") == "code":
            blocks.append(Block("code", 1, lines, index))
        elif cell.get("cell_type") == "markdown":
            blocks.append(Block("markdown", 1, lines, index))
        else:
            blocks.append(Block("text", 1, lines, index))
    return blocks


def render_html(
    title: str,
    nb: NotebookNode,
    blocks: Sequence[Block],
    *,
    summary: str = "",
    ok: bool = True,
    wide_markdown: bool = False,
) -> str:
    """Render the page.

    Parameters
    ----------
    title : str
        The page title (the script's name).
    nb : NotebookNode
        The notebook that holds the blocks' cells and their outputs.
    blocks : sequence of Block
        What to show, in order: code with its outputs beside it, markdown rendered
        beside its source (or across the page with ``wide_markdown``), other lines alone.
    summary : str, optional
        A line under the title (how the run went).
    ok : bool, optional
        Whether the run succeeded (colours the summary).
    wide_markdown : bool, optional
        Render markdown cells across the page without their source (notebooks).
    """
    rows = [_row(block, nb, wide_markdown) for block in blocks]
    status = "status-ok" if ok else "status-failed"
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            '<meta name="generator" content="pdit-gateway">\n',
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}{_highlight_css()}</style>\n",
            "</head>\n<body>\n<header>\n",
            f"<h1>{html.escape(title)}</h1>\n",
            f'<p class="{status}">{html.escape(summary)}</p>\n' if summary else "",
            "</header>\n<main>\n",
            *rows,
            "</main>\n</body>\n</html>\n",
        ]
    )


def _row(block: Block, nb: NotebookNode, wide_markdown: bool) -> str:
    cell = nb.cells[block.cell_index] if block.cell_index is not None else None
    if block.kind == "markdown" and cell is not None:
        rendered = f'<div class="markdown">{_markdown(str(cell.source))}</div>'
        if wide_markdown:
            return f'<section class="row wide">{rendered}</section>\n'
        return f'<section class="row">{_source(block, "text")}{rendered}</section>\n'
    if block.kind == "code" and cell is not None:
        outputs = "".join(render_output(output) for output in _joined(cell.get("outputs", [])))
        count = cell.get("execution_count")
        label = (
            f'<div class="count">[{count}]</div>'
            if count is not None
            else '<div class="count not-run">not run</div>'
        )
        return (
            f'<section class="row">{_source(block, "code")}'
            f'<div class="outputs">{label}{outputs}</div></section>\n'
        )
    filled = [number for number, line in enumerate(block.lines) if line.strip()]
    if not filled:
        return ""
    first, last = filled[0], filled[-1]
    trimmed = replace(
        block, first_line=block.first_line + first, lines=block.lines[first : last + 1]
    )
    return f'<section class="row">{_source(trimmed, "text")}<div></div></section>\n'


def _joined(outputs: Iterable[Any]) -> list[dict[str, Any]]:
    """Join adjacent stream outputs of one name (kernels cut streams where timing says)."""
    area = OutputArea(NbformatForm())
    for output in outputs:
        if output.get("output_type") == "stream":
            area.stream(str(output.get("name")), _text(output.get("text", "")))
        else:
            area.add(dict(output))
    return area.entries


def _source(block: Block, kind: str) -> str:
    lines = _highlighted(block.lines) if kind == "code" else [html.escape(x) for x in block.lines]
    numbered = (
        f'<span class="ln">{block.first_line + offset}</span>{line}'
        for offset, line in enumerate(lines)
    )
    css = "source" if kind == "code" else "source text"
    return f'<pre class="{css}">' + "\n".join(numbered) + "</pre>"


def _highlighted(lines: list[str]) -> list[str]:
    """Return the lines as HTML with Pygments' colours (plain escaped text without Pygments)."""
    try:
        from pygments import highlight  # type: ignore[import-untyped]
        from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
        from pygments.lexers import PythonLexer  # type: ignore[import-untyped]
    except ImportError:
        return [html.escape(line) for line in lines]
    text = "\n".join(lines)
    # nowrap: one line of HTML per source line, every span closed at the line's end
    out = str(highlight(text, PythonLexer(stripnl=False), HtmlFormatter(nowrap=True)))
    result = out.split("\n")
    if len(result) > len(lines):
        result = result[: len(lines)]
    return result + [""] * (len(lines) - len(result))


def _highlight_css() -> str:
    try:
        from pygments.formatters import HtmlFormatter
    except ImportError:
        return ""
    light = str(HtmlFormatter(style="default").get_style_defs(".source"))
    dark = str(HtmlFormatter(style="monokai").get_style_defs(".source"))
    # the dark style's backgrounds would cover the page's
    dark = "\n".join(line for line in dark.split("\n") if "background" not in line)
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"


def _markdown(text: str) -> str:
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(text))


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return str(value)


def render_output(output: NotebookNode | dict[str, Any]) -> str:
    """Render one nbformat output as HTML (images as ``data:`` URIs)."""
    kind = output.get("output_type")
    if kind == "stream":
        name = "stderr" if output.get("name") == "stderr" else "stdout"
        # progress bars redraw in place, as in a terminal
        text = terminal_text(strip_ansi(_text(output.get("text", ""))))
        return f'<pre class="{name}">{html.escape(text)}</pre>'
    if kind == "error":
        traceback = output.get("traceback") or []
        text = strip_ansi("\n".join(_text(line) for line in traceback))
        if not text:
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        return f'<pre class="error">{html.escape(text)}</pre>'
    data = output.get("data") or {}
    metadata = output.get("metadata") or {}
    for mime in _ordered(data):
        rendered = _render_mime(mime, data[mime], metadata)
        if rendered is not None:
            return rendered
    return ""


def _ordered(data: dict[str, Any]) -> Iterable[str]:
    yield from (mime for mime in DISPLAY_ORDER if mime in data)
    yield from (mime for mime in data if mime.startswith("image/") and mime not in DISPLAY_ORDER)


def _render_mime(mime: str, value: Any, metadata: dict[str, Any]) -> str | None:
    if mime == "text/html":
        return f'<div class="html-output">{_text(value)}</div>'
    if mime == "text/markdown":
        return f'<div class="markdown">{_markdown(_text(value))}</div>'
    if mime.startswith("image/"):
        if mime == "image/svg+xml":
            payload = base64.b64encode(_text(value).encode("utf-8")).decode("ascii")
        else:
            payload = "".join(_text(value).split())
        size = ""
        meta = metadata.get(mime) if isinstance(metadata.get(mime), dict) else metadata
        for key in ("width", "height"):
            if isinstance(meta, dict) and isinstance(meta.get(key), int | float):
                size += f' {key}="{int(meta[key])}"'
        return f'<img src="data:{mime};base64,{payload}"{size} alt="{mime} output">'
    if mime == "application/json":
        return f"<pre>{html.escape(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"
    if mime in ("text/plain", "text/latex"):
        return f"<pre>{html.escape(strip_ansi(_text(value)))}</pre>"
    return None
