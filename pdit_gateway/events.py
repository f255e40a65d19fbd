"""Translate one statement's Jupyter iopub messages into gateway events and output items."""

from __future__ import annotations

import json
import re
from typing import Any

from .jsontypes import JSONDict
from .outputs import ItemForm, OutputArea, OutputType

__all__ = [
    "JSONDict",
    "StatementOutput",
    "error_item",
    "output_item",
    "strip_ansi",
    "terminal_text",
]


# CSI sequences (colours, cursor moves), OSC sequences (titles, hyperlinks) and
# the remaining two-character escapes.
_ANSI_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[@-Z\\-_]"
)

_IMAGE_RANK = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
_TEXT_RANK = ("text/html", "text/markdown", "application/json", "text/plain")

_CLEARING_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})
# UTF-8 continuation bytes look like 0b10xxxxxx.
_CONTINUATION_MASK = 0xC0
_CONTINUATION_BITS = 0x80
_ELIDED_MARKER = "\n… [pdit-gateway: {n} bytes of output elided] …\n"
_ELIDED_ITEMS_MARKER = (
    "\n… [pdit-gateway: {n} bytes of output elided, {k} of them in displays or results] …\n"
)


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences from a string.

    Parameters
    ----------
    text : str
        Text that may hold terminal colour codes, as in an IPython traceback.

    Returns
    -------
    str
        The text without escape sequences.
    """
    return _ANSI_RE.sub("", text)


def terminal_text(text: str) -> str:
    """Return stream text as a terminal shows it.

    A carriage return goes back to the start of the line, so what follows overwrites what
    was there (``"50%\\r100%"`` shows ``100%``; a shorter text leaves the end of the longer
    one, as on a terminal); a backspace removes the character before it.

    Parameters
    ----------
    text : str
        Raw stream text, as the kernel printed it.

    Returns
    -------
    str
        The text a terminal would show, with ``"\\n"`` line ends.
    """
    shown = []
    for line in text.replace("\r\n", "\n").split("\n"):
        screen = ""
        for segment in line.split("\r"):
            screen = segment + screen[len(segment) :]
        while "\b" in screen:
            at = screen.index("\b")
            screen = screen[: max(0, at - 1)] + screen[at + 1 :]
        shown.append(screen)
    return "\n".join(shown)


def output_item(
    data: JSONDict,
    metadata: JSONDict | None = None,
    display_id: str | None = None,
    output_type: OutputType = "display_data",
) -> JSONDict:
    """Build an OutputItem from a MIME bundle.

    Parameters
    ----------
    data : dict
        The MIME bundle (``content["data"]`` of display_data or execute_result).
    metadata : dict, optional
        The bundle's metadata; per-MIME entries or top-level ``width``/``height``.
    display_id : str, optional
        The ``transient.display_id`` of the message, if any.
    output_type : {"display_data", "execute_result"}, optional
        The Jupyter output type of the message the bundle came in.

    Returns
    -------
    dict
        ``{"type": mime, "content": str, "outputType": output_type}`` for the preferred
        MIME type, plus
        ``width``/``height`` for images when known, ``data``/``metadata`` when the
        bundle has more than one MIME type, and ``displayId`` when given.
    """
    meta = metadata or {}
    mime = _preferred_mime(data)
    item: JSONDict = {
        "type": mime,
        "content": _content(mime, data.get(mime, "")),
        "outputType": output_type,
    }
    if mime.startswith("image/"):
        mime_meta = meta.get(mime)
        for key in ("width", "height"):
            value = _dimension(mime_meta.get(key)) if isinstance(mime_meta, dict) else None
            if value is None:
                value = _dimension(meta.get(key))
            if value is not None:
                item[key] = value
    if len(data) > 1:
        item["data"] = data
        item["metadata"] = meta
    if display_id is not None:
        item["displayId"] = display_id
    return item


def error_item(ename: str, evalue: str, traceback: list[str]) -> JSONDict:
    """Build the OutputItem of an error.

    Parameters
    ----------
    ename : str
        The exception's class name.
    evalue : str
        The exception's message.
    traceback : list of str
        The traceback lines as the kernel sent them (ANSI codes included).

    Returns
    -------
    dict
        ``{"type": "error", "content", "ename", "evalue", "traceback", "outputType":
        "error"}``; ``content``
        is the traceback without ANSI codes, or ``"ename: evalue"`` when the
        traceback is empty.
    """
    content = strip_ansi("\n".join(traceback)) if traceback else f"{ename}: {evalue}"
    return {
        "type": "error",
        "content": content,
        "ename": ename,
        "evalue": evalue,
        "traceback": list(traceback),
        "outputType": "error",
    }


class StatementOutput:
    """Accumulates one statement's iopub output.

    Feed it every iopub message that belongs to the statement, in arrival order;
    each call returns the events to send live. Call :meth:`finish` once the
    kernel is idle again to get the closing events of an output limit.

    Parameters
    ----------
    max_output_bytes : int, optional
        Bytes of output forwarded live and kept for the statement: UTF-8 bytes of
        stream text (stdout and stderr together) plus the size of every display and
        result (the characters of its MIME bundle's values). Past it, stream output is
        kept in a rolling tail and displays and results are elided (counted, not kept).
        0 means no limit.
    tail_bytes : int, optional
        Most bytes of stream output kept after the limit is passed, sent by
        :meth:`finish`. 0 keeps none.

    Attributes
    ----------
    execution_count : int or None
        The kernel's execution count, from execute_input or execute_result.
    elided_bytes : int
        Bytes of output neither forwarded nor kept.
    elided_items : int
        Displays, display updates and results elided by the limit.
    kept_bytes : int
        Bytes of output forwarded and kept so far (as counted by the limit).
    """

    def __init__(self, max_output_bytes: int = 0, tail_bytes: int = 16384) -> None:
        self.max_output_bytes = max_output_bytes
        self.tail_bytes = tail_bytes
        self.execution_count: int | None = None
        self.elided_bytes = 0
        self.elided_items = 0
        self._cap: int | None = max_output_bytes if max_output_bytes > 0 else None
        # streams merged, clear_output and display updates applied (outputs.py has the rules)
        self._area = OutputArea(ItemForm())
        self._error: JSONDict | None = None
        self._stream_bytes = 0
        self._limited = False
        # Stream text past the limit, as (name, UTF-8 bytes) pieces cut at
        # character boundaries; adjacent pieces of one name are merged.
        self._tail: list[tuple[str, bytes]] = []
        self._tail_size = 0
        # Whether the tail starts just after a newline (or after a clear); only
        # consulted once bytes before the tail have been dropped.
        self._tail_clean_start = True
        self._finished = False

    def restrict(self, max_bytes: int, tail_bytes: int) -> None:
        """Lower the limit to ``max_bytes`` (0 here means nothing more) and the tail to
        ``tail_bytes``: what an execution's own output budget leaves this statement."""
        max_bytes = max(0, max_bytes)
        self._cap = max_bytes if self._cap is None else min(self._cap, max_bytes)
        self.tail_bytes = min(self.tail_bytes, max(0, tail_bytes))

    @property
    def kept_bytes(self) -> int:
        """Bytes of output kept so far, as the limit counts them."""
        return self._stream_bytes

    @property
    def output(self) -> list[JSONDict]:
        """The statement's output so far, in order, adjacent streams merged."""
        return [dict(item) for item in self._area.entries]

    @property
    def error(self) -> JSONDict | None:
        """The error OutputItem if the statement raised."""
        return self._error

    def feed(self, msg: JSONDict) -> list[JSONDict]:
        """Take one iopub message and return the events to send live.

        Parameters
        ----------
        msg : dict
            A message as ``jupyter_client``'s ``get_iopub_msg()`` returns it.

        Returns
        -------
        list of dict
            Event payloads (``stream``, ``display`` or ``clear``) without the
            statement fields, ``seq`` and ``ts``; empty for messages that have no
            live event.
        """
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type", "")
        content: JSONDict = msg.get("content") or {}

        if msg_type == "stream":
            text = content.get("text", "")
            if not text:
                return []
            self._apply_pending_clear()
            return self._stream(str(content.get("name", "stdout")), str(text))
        if msg_type == "clear_output":
            wait = bool(content.get("wait", False))
            if wait:
                self._area.clear(wait=True)
            else:
                self._clear()
            return [{"type": "clear", "wait": wait}]
        if msg_type == "update_display_data":
            return self._update_display(content)
        if msg_type in _CLEARING_TYPES:
            self._apply_pending_clear()
        if msg_type == "display_data":
            data = content.get("data") or {}
            if not self._admit(_bundle_size(data)):
                return []
            display_id = _display_id(content)
            item = output_item(data, content.get("metadata"), display_id)
            self._area.add(dict(item))
            event: JSONDict = {"type": "display", "output": item, "update": False}
            if display_id is not None:
                event["displayId"] = display_id
            return [event]
        if msg_type == "execute_result":
            self._set_count(content)
            data = content.get("data") or {}
            if not self._admit(_bundle_size(data)):
                return []
            item = output_item(
                data, content.get("metadata"), _display_id(content), "execute_result"
            )
            self._area.add(item)
            return []
        if msg_type == "error":
            item = error_item(
                str(content.get("ename", "")),
                str(content.get("evalue", "")),
                [str(line) for line in content.get("traceback") or []],
            )
            self._error = item
            self._area.add(dict(item))
            return []
        if msg_type == "execute_input":
            self._set_count(content)
        return []

    def finish(self) -> list[JSONDict]:
        """Close the statement's output and return the output limit's closing events.

        Returns
        -------
        list of dict
            Nothing when the statement's stream output stayed within the limit;
            otherwise a ``stderr`` stream event with the elision marker, then one
            stream event per tail piece. They are also added to :attr:`output`.
            A second call returns an empty list.
        """
        if self._finished:
            return []
        self._finished = True
        if not self._limited:
            return []
        if self.elided_bytes and not self._tail_clean_start:
            self._trim_tail_to_line()
        if self.elided_items:
            marker = _ELIDED_ITEMS_MARKER.format(n=self.elided_bytes, k=self.elided_items)
        else:
            marker = _ELIDED_MARKER.format(n=self.elided_bytes)
        pieces = [("stderr", marker)]
        pieces += [(name, data.decode("utf-8", "surrogatepass")) for name, data in self._tail]
        self._tail = []
        self._tail_size = 0
        events: list[JSONDict] = []
        for name, text in pieces:
            if text:
                self._append_stream(name, text)
                events.append({"type": "stream", "name": name, "text": text})
        return events

    # -- streams and the output limit ------------------------------------------------

    def _admit(self, size: int) -> bool:
        """Count a display or result of ``size`` bytes against the limit; False: elide it."""
        limit = self._cap
        if limit is not None and (self._limited or self._stream_bytes + size > limit):
            self._limited = True
            self.elided_bytes += size
            self.elided_items += 1
            return False
        self._stream_bytes += size
        return True

    def _stream(self, name: str, text: str) -> list[JSONDict]:
        limit = self._cap
        if limit is None:
            self._append_stream(name, text)
            return [{"type": "stream", "name": name, "text": text}]
        if self._limited:
            self._push_tail(name, _encode(text))
            return []
        data = _encode(text)
        room = limit - self._stream_bytes
        if len(data) <= room:
            self._stream_bytes += len(data)
            self._append_stream(name, text)
            return [{"type": "stream", "name": name, "text": text}]
        cut = _char_boundary(data, room)
        self._stream_bytes = limit
        self._limited = True
        head = data[:cut].decode("utf-8", "surrogatepass")
        self._push_tail(name, data[cut:])
        if not head:
            return []
        self._append_stream(name, head)
        return [{"type": "stream", "name": name, "text": head}]

    def _append_stream(self, name: str, text: str) -> None:
        # a pending clear was applied before the text was admitted (or the text is the held
        # tail, from before the clear)
        self._area.stream(name, text, clears=False)

    def _push_tail(self, name: str, data: bytes) -> None:
        if self._tail and self._tail[-1][0] == name:
            self._tail[-1] = (name, self._tail[-1][1] + data)
        else:
            self._tail.append((name, data))
        self._tail_size += len(data)
        excess = self._tail_size - self.tail_bytes
        while excess > 0 and self._tail:
            first_name, first = self._tail[0]
            if len(first) <= excess:
                dropped = first
                del self._tail[0]
            else:
                cut = _char_boundary_forward(first, excess)
                dropped = first[:cut]
                self._tail[0] = (first_name, first[cut:])
            self._tail_size -= len(dropped)
            self.elided_bytes += len(dropped)
            excess -= len(dropped)
            if dropped:
                self._tail_clean_start = dropped.endswith(b"\n")

    def _trim_tail_to_line(self) -> None:
        """Drop the first tail piece's stream text up to and including its first newline.

        Pieces of the other stream are left alone. Nothing is trimmed when that
        stream has no newline in the tail, or when trimming would leave no tail.
        """
        name = self._tail[0][0] if self._tail else None
        for index, (piece_name, data) in enumerate(self._tail):
            if piece_name != name:
                continue
            newline = data.find(b"\n")
            if newline < 0:
                continue
            kept = [piece for piece in self._tail[:index] if piece[0] != name]
            rest = data[newline + 1 :]
            if rest:
                kept.append((piece_name, rest))
            kept.extend(self._tail[index + 1 :])
            if not kept:
                # The only newline ends the tail: keep the partial line rather than nothing.
                return
            size = sum(len(piece) for _, piece in kept)
            self.elided_bytes += self._tail_size - size
            self._tail = _merge_pieces(kept)
            self._tail_size = size
            return

    # -- displays and clearing -------------------------------------------------------

    def _update_display(self, content: JSONDict) -> list[JSONDict]:
        display_id = _display_id(content)
        if display_id is None:
            return []
        data = content.get("data") or {}
        if self._cap is not None:
            # an update replaces a display: only what it adds counts against the limit
            old = max(
                (
                    _bundle_size(i.get("data") or {i["type"]: i.get("content", "")})
                    for i in self._area.entries
                    if i.get("displayId") == display_id
                ),
                default=0,
            )
            growth = _bundle_size(data) - old
            if growth > 0 and not self._admit(growth):
                return []
        item = output_item(data, content.get("metadata"), display_id)
        self._area.update(display_id, item)
        return [{"type": "display", "output": item, "update": True, "displayId": display_id}]

    def _apply_pending_clear(self) -> None:
        if self._area.clear_pending:
            self._clear()

    def _clear(self) -> None:
        self._area.clear()
        # Tail text came before the clear: it will never be shown.
        self.elided_bytes += self._tail_size
        self._tail = []
        self._tail_size = 0
        self._tail_clean_start = True

    def _set_count(self, content: JSONDict) -> None:
        count = content.get("execution_count")
        if isinstance(count, int) and not isinstance(count, bool):
            self.execution_count = count


def _bundle_size(data: JSONDict) -> int:
    """Return the size a MIME bundle counts for against the output limit: the characters of
    its text values (JSON values as encoded), about their bytes on the wire."""
    size = 0
    for value in data.values():
        if isinstance(value, str):
            size += len(value)
        elif isinstance(value, list) and all(isinstance(part, str) for part in value):
            size += sum(len(part) for part in value)
        else:
            size += len(json.dumps(value, default=str))
    return size


def _preferred_mime(data: JSONDict) -> str:
    images = [mime for mime in data if mime.startswith("image/")]
    if images:
        ranked = [mime for mime in _IMAGE_RANK if mime in data]
        return ranked[0] if ranked else images[0]
    for mime in _TEXT_RANK:
        if mime in data:
            return mime
    return next(iter(data), "text/plain")


def _is_json_mime(mime: str) -> bool:
    return mime == "application/json" or mime.endswith("+json")


def _content(mime: str, value: Any) -> str:
    if _is_json_mime(mime):
        return json.dumps(value, default=str)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return json.dumps(value, default=str)


def _dimension(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _display_id(content: JSONDict) -> str | None:
    transient = content.get("transient")
    if isinstance(transient, dict):
        display_id = transient.get("display_id")
        if isinstance(display_id, str) and display_id:
            return display_id
    return None


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _char_boundary(data: bytes, cut: int) -> int:
    """Move a byte offset back to the start of the UTF-8 character it falls in."""
    cut = max(0, min(cut, len(data)))
    while 0 < cut < len(data) and data[cut] & _CONTINUATION_MASK == _CONTINUATION_BITS:
        cut -= 1
    return cut


def _char_boundary_forward(data: bytes, cut: int) -> int:
    """Move a byte offset forward to the start of the next UTF-8 character."""
    cut = max(0, min(cut, len(data)))
    while cut < len(data) and data[cut] & _CONTINUATION_MASK == _CONTINUATION_BITS:
        cut += 1
    return cut


def _merge_pieces(pieces: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    merged: list[tuple[str, bytes]] = []
    for name, data in pieces:
        if merged and merged[-1][0] == name:
            merged[-1] = (name, merged[-1][1] + data)
        else:
            merged.append((name, data))
    return merged
