"""Output areas: a statement's (or cell's) outputs kept under Jupyter's rules, in one place.

The rules (stream text appended to the stream before it, ``clear_output`` now or — with
``wait`` — when the next output arrives, an update replacing every output that carries its
display id) are written once, in :class:`OutputArea`. What an output *is* differs by user —
a protocol v1 output item, an nbformat output — and is supplied by a :class:`Form`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Literal, TypeVar

from .jsontypes import JSONDict

__all__ = [
    "OUTPUT_TYPES",
    "Form",
    "ItemForm",
    "NbformatForm",
    "OutputArea",
    "OutputType",
    "item_area",
    "output_type",
]

OutputType = Literal["stream", "display_data", "execute_result", "error"]

#: Jupyter's output types, the values of an output item's ``outputType``.
OUTPUT_TYPES: tuple[OutputType, ...] = ("stream", "display_data", "execute_result", "error")
STREAM_NAMES = ("stdout", "stderr")

T = TypeVar("T")


def output_type(item: JSONDict) -> OutputType:
    """Return the Jupyter output type of a protocol v1 output item.

    An item carries it as ``outputType``; one without it (stored by a gateway from before
    the field) is read from its ``type``: a stream name is a stream, ``error`` an error,
    anything else a display.
    """
    declared = item.get("outputType")
    for known in OUTPUT_TYPES:
        if declared == known:
            return known
    kind = item.get("type")
    if kind in STREAM_NAMES:
        return "stream"
    return "error" if kind == "error" else "display_data"


class Form(Generic[T]):
    """How an output area reads, builds and changes its entries (a subclass per representation)."""

    def stream_name(self, entry: T) -> str | None:
        """Return the stream name of a stream entry, None for any other entry."""
        raise NotImplementedError

    def display_id(self, entry: T) -> str | None:
        """Return the display id an entry carries, if any."""
        raise NotImplementedError

    def new_stream(self, name: str, text: str) -> T:
        """Return a new stream entry."""
        raise NotImplementedError

    def extend_stream(self, entry: T, text: str) -> None:
        """Append text to a stream entry, in place."""
        raise NotImplementedError

    def from_item(self, item: JSONDict) -> T:
        """Return the entry of a display's protocol v1 output item."""
        raise NotImplementedError

    def updated(self, entry: T, item: JSONDict) -> T:
        """Return ``entry`` updated to the bundle of a display update's item."""
        raise NotImplementedError


class ItemForm(Form[JSONDict]):
    """Entries are protocol v1 output items (``{"type", "content", "outputType", …}``)."""

    def stream_name(self, entry: JSONDict) -> str | None:
        kind = entry.get("type")
        return str(kind) if kind in STREAM_NAMES else None

    def display_id(self, entry: JSONDict) -> str | None:
        value = entry.get("displayId")
        return value if isinstance(value, str) else None

    def new_stream(self, name: str, text: str) -> JSONDict:
        return {"type": name, "content": text, "outputType": "stream"}

    def extend_stream(self, entry: JSONDict, text: str) -> None:
        entry["content"] = str(entry.get("content", "")) + text

    def from_item(self, item: JSONDict) -> JSONDict:
        return dict(item)

    def updated(self, entry: JSONDict, item: JSONDict) -> JSONDict:
        # an update changes what is shown, not what the output is (an execute_result stays one)
        new = dict(item)
        if "outputType" in entry:
            new["outputType"] = entry["outputType"]
        return new


class NbformatForm(Form[JSONDict]):
    """Entries are nbformat v4 outputs as plain dicts (``{"output_type", "name", "text", …}``)."""

    def stream_name(self, entry: JSONDict) -> str | None:
        return str(entry.get("name")) if entry.get("output_type") == "stream" else None

    def display_id(self, entry: JSONDict) -> str | None:
        return None  # nbformat does not store display ids; a notebook's recorder maps them

    def new_stream(self, name: str, text: str) -> JSONDict:
        return {"output_type": "stream", "name": name, "text": text}

    def extend_stream(self, entry: JSONDict, text: str) -> None:
        entry["text"] = _text(entry.get("text", "")) + text

    def from_item(self, item: JSONDict) -> JSONDict:
        raise NotImplementedError("an nbformat output is built from a MIME bundle")

    def updated(self, entry: JSONDict, item: JSONDict) -> JSONDict:
        raise NotImplementedError("an nbformat output is built from a MIME bundle")


class OutputArea(Generic[T]):
    """One output area: its entries in order, and a ``clear_output(wait=True)`` pending.

    Parameters
    ----------
    form : Form
        What the entries are.
    entries : list, optional
        The list to keep the entries in (changed in place; e.g. a notebook cell's outputs).
    merge_streams : bool, optional
        Append stream text to the entry before it when that is the same stream (the
        protocol's ``result.output``, what a frontend shows); False keeps one entry per
        stream message (what nbclient writes in a notebook).
    """

    def __init__(
        self, form: Form[T], entries: list[T] | None = None, *, merge_streams: bool = True
    ) -> None:
        self.form = form
        self.entries: list[T] = [] if entries is None else entries
        self.merge_streams = merge_streams
        #: A ``clear_output(wait=True)`` came and no output after it yet.
        self.clear_pending = False

    def before_output(self) -> bool:
        """Apply a pending clear, as an arriving output does; return whether it cleared."""
        if not self.clear_pending:
            return False
        self.clear()
        return True

    def stream(self, name: str, text: str, *, clears: bool = True) -> T | None:
        """Add stream text; return the entry that holds it.

        Empty text adds nothing and does not apply a pending clear (None is returned).
        ``clears=False`` adds the text without applying a pending clear (text that was
        held back from before the clear).
        """
        if not text:
            return None
        if clears:
            self.before_output()
        last = self.entries[-1] if self.entries else None
        if self.merge_streams and last is not None and self.form.stream_name(last) == name:
            self.form.extend_stream(last, text)
            return last
        entry = self.form.new_stream(name, text)
        self.entries.append(entry)
        return entry

    def add(self, entry: T) -> None:
        """Add a display, a result or an error."""
        self.before_output()
        self.entries.append(entry)

    def clear(self, wait: bool = False) -> None:
        """``clear_output``: empty the area now, or (``wait``) when the next output arrives."""
        if wait:
            self.clear_pending = True
            return
        self.clear_pending = False
        del self.entries[:]

    def update(self, display_id: str, item: JSONDict) -> int:
        """Replace every entry with ``display_id`` by its update to ``item``; return how many."""
        replaced = 0
        for index, entry in enumerate(self.entries):
            if self.form.display_id(entry) == display_id:
                self.entries[index] = self.form.updated(entry, item)
                replaced += 1
        return replaced

    def apply(self, event: JSONDict) -> bool:
        """Apply a protocol v1 ``stream``, ``display`` or ``clear`` event, as a frontend does.

        Returns whether the entries may have changed (a ``clear`` with ``wait`` changes
        nothing until the next output; an update counts even when no entry had its id).
        """
        kind = event.get("type")
        if kind == "stream":
            text = str(event.get("text", ""))
            return self.stream(str(event.get("name", "stdout")), text) is not None
        if kind == "clear":
            wait = bool(event.get("wait"))
            self.clear(wait)
            return not wait  # a pending clear changes nothing yet
        if kind == "display":
            item = event.get("output")
            if not isinstance(item, dict):
                return False
            if event.get("update"):
                display_id = event.get("displayId", item.get("displayId"))
                if isinstance(display_id, str):
                    self.update(display_id, item)
                return True
            self.add(self.form.from_item(item))
            return True
        return False


def item_area(items: Iterable[JSONDict] = ()) -> OutputArea[JSONDict]:
    """Return an area of protocol v1 output items (streams merged), holding ``items``."""
    return OutputArea(ItemForm(), [dict(item) for item in items])


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return str(value)
