"""pdit's file API: Python files under the server's root, confined atomic saves, shared watchers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from watchfiles import Change, awatch

from .errors import FileAccessError, FileMissingError, PathOutsideRootError
from .runner import spawn

#: Folder names never listed, besides hidden folders and virtual environments.
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "venv", "site-packages"})

#: Mode of a file that ``save`` creates (an existing file keeps its own).
NEW_FILE_MODE = 0o644

#: A watch listener gets ``("fileChanged", content)`` or ``("fileDeleted", None)``.
Listener = Callable[[str, "str | None"], None]


def is_skipped_dir(path: Path) -> bool:
    """Return whether a folder is left out of listings.

    Hidden folders, ``__pycache__``, ``node_modules``, ``venv``/``site-packages``, and any
    virtual environment (a folder holding ``pyvenv.cfg``, or a conda ``conda-meta``).
    """
    name = path.name
    return (
        name.startswith(".")
        or name in SKIPPED_DIRS
        or (path / "pyvenv.cfg").exists()
        or (path / "conda-meta").is_dir()
    )


def read_text(path: Path) -> str:
    """Read a file as UTF-8 (bad bytes replaced); ``FileMissingError`` if it is not a file."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise FileMissingError(f"no file {path.name!r}") from None
    except OSError as err:
        raise FileAccessError(f"cannot read {path.name!r}: {err.strerror}") from None


class FileService:
    """The files pdit's client lists, reads, watches and saves, all confined to ``root_dir``.

    Paths on the wire are relative to ``root_dir`` with ``/`` separators. An absolute path,
    a path with a ``..`` part, or one whose real location (symlinks resolved) lies outside
    ``root_dir`` raises ``PathOutsideRootError``.

    Parameters
    ----------
    root_dir : str or Path
        The server's root directory (``ServerApp.root_dir``).
    watchers : FileWatchers
        The shared watcher registry used for ``watch``.
    """

    def __init__(self, root_dir: str | os.PathLike[str], watchers: FileWatchers) -> None:
        self.root = Path(root_dir).resolve()
        self.watchers = watchers

    def resolve(self, path: str) -> Path:
        """Return the real path of ``path`` (relative to the root) inside the root.

        Raises
        ------
        PathOutsideRootError
            Absolute, ``..``, or a symlink that leads out of the root.
        FileAccessError
            Empty or malformed.
        """
        if not isinstance(path, str) or not path.strip() or "\x00" in path:
            raise FileAccessError("a path must be a non-empty string")
        parts = path.replace("\\", "/").split("/")
        if os.path.isabs(path) or path.startswith(("/", "\\")) or ".." in parts:
            raise PathOutsideRootError(f"{path!r} is not a path inside the server's root directory")
        try:
            real = (self.root / path).resolve()
        except (OSError, RuntimeError):  # a symlink loop
            raise FileAccessError(f"{path!r} cannot be resolved") from None
        if not real.is_relative_to(self.root):
            raise PathOutsideRootError(f"{path!r} leads outside the server's root directory")
        return real

    def relative(self, real: Path) -> str:
        """Return the wire form (relative, ``/``-separated) of a real path inside the root."""
        return real.relative_to(self.root).as_posix()

    def read(self, path: str) -> tuple[Path, str]:
        """Return the real path and the text of the file ``path``."""
        real = self.resolve(path)
        return real, read_text(real)

    def list_python_files(self) -> list[str]:
        """Return the ``.py`` files under the root, sorted by file name, then path.

        Hidden files and the folders of :func:`is_skipped_dir` are left out; linked folders
        are not entered, and a linked file that leads out of the root is not listed. Blocking:
        call it in a thread.
        """
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not is_skipped_dir(here / d))
            for name in filenames:
                if not name.endswith(".py") or name.startswith("."):
                    continue
                full = here / name
                if full.is_symlink():
                    try:
                        if not full.resolve().is_relative_to(self.root):
                            continue
                    except (OSError, RuntimeError):
                        continue
                found.append(full.relative_to(self.root).as_posix())
        found.sort(key=lambda p: (PurePosixPath(p).name.lower(), p))
        return found

    def save(self, path: str, content: str) -> Path:
        """Write ``content`` (UTF-8) to ``path`` atomically; return the real path.

        The text goes to a temporary file in the same folder, is flushed to disk, and
        replaces the target with ``os.replace``: a reader sees the old file or the new one,
        never a part. An existing file keeps its permissions. Blocking: call it in a thread.

        Raises
        ------
        PathOutsideRootError
            The path is outside the root; nothing is written.
        FileMissingError
            Its folder does not exist.
        FileAccessError
            It names a folder, or the write failed.
        """
        target = self.resolve(path)
        if target == self.root or target.is_dir():
            raise FileAccessError(f"{path!r} is a folder")
        folder = target.parent
        if not folder.is_dir():
            raise FileMissingError(f"no folder for {path!r}")
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = NEW_FILE_MODE
        data = content.encode("utf-8", "surrogatepass")
        try:
            fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as err:
            raise FileAccessError(f"cannot write next to {path!r}: {err.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, mode)
            os.replace(temp, target)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise FileAccessError(f"cannot write {path!r}: {err.strerror}") from None
        return target


@dataclass(eq=False)
class _Watch:
    """One watched file: its listeners and the watchfiles task that serves them all."""

    path: Path
    content: str | None
    listeners: list[Listener] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class FileWatchers:
    """A registry of file watchers: one ``watchfiles`` watcher per watched file.

    Every listener of a file shares its watcher; the watcher starts with the first
    listener and stops when the last one leaves. A watcher watches the file's folder (not
    recursively) and, after each batch of changes to the file, reads it: a new text is
    reported as ``fileChanged``, a file gone as ``fileDeleted`` (once), a file that comes
    back as ``fileChanged`` again. Editors that save by replacing the file are seen as one
    change.

    Parameters
    ----------
    log : logging.Logger
        Where failures are logged.
    step : float
        Seconds without further changes before a batch is reported (watchfiles' ``step``).
    ready_check : float
        Seconds after which a new watcher, once running, reads the file once more, so a change
        made while it was starting is not missed (watchfiles' ``rust_timeout``).
    """

    def __init__(self, log: logging.Logger, step: float = 0.05, ready_check: float = 1.0) -> None:
        self.log = log
        self.step = step
        self.ready_check = ready_check
        self._watches: dict[Path, _Watch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()

    def subscribe(self, path: Path, listener: Listener) -> None:
        """Call ``listener`` on every change of the real path ``path`` until unsubscribed."""
        watch = self._watches.get(path)
        if watch is None:
            try:
                content: str | None = read_text(path)
            except FileAccessError:
                content = None
            watch = _Watch(path, content)
            self._watches[path] = watch
            watch.task = spawn(self._tasks, self._run(watch), f"pdit-watch-{path.name}")
            watch.task.add_done_callback(lambda _task: self._changed.set())
            self.log.debug("pdit file watcher started for %s", path)
        watch.listeners.append(listener)
        self._changed.set()

    def unsubscribe(self, path: Path, listener: Listener) -> None:
        """Stop calling ``listener``; the last listener of a file stops its watcher."""
        watch = self._watches.get(path)
        if watch is None:
            return
        with contextlib.suppress(ValueError):
            watch.listeners.remove(listener)
        if not watch.listeners:
            del self._watches[path]
            watch.stop.set()
            self.log.debug("pdit file watcher stopped for %s", path)
        self._changed.set()

    def watching(self) -> dict[Path, int]:
        """Return the watched files and how many listeners each has."""
        return {path: len(watch.listeners) for path, watch in self._watches.items()}

    @property
    def running(self) -> int:
        """Return how many watcher tasks have not ended yet (a stopped one ends within ``step``)."""
        return len(self._tasks)

    async def wait_until(self, predicate: Callable[[FileWatchers], bool]) -> None:
        """Wait until ``predicate(self)`` holds, checked at every (un)subscribe and watcher end."""
        while not predicate(self):
            self._changed.clear()
            await self._changed.wait()

    async def _run(self, watch: _Watch) -> None:
        target = str(watch.path)
        ready = False
        try:
            async for changes in awatch(
                watch.path.parent,
                watch_filter=lambda _change, changed: changed == target,
                stop_event=watch.stop,
                step=max(1, round(self.step * 1000)),
                rust_timeout=max(1, round(self.ready_check * 1000)),
                yield_on_timeout=True,
                recursive=False,
                ignore_permission_denied=True,
            ):
                # an empty batch is watchfiles' timeout: the first one proves the watcher runs
                if changes or not ready:
                    ready = True
                    self._check(watch, changes)
        except Exception:
            self.log.exception("pdit file watcher of %s failed", watch.path)

    def _check(self, watch: _Watch, changes: set[tuple[Change, str]]) -> None:
        try:
            content: str | None = read_text(watch.path)
        except FileAccessError:
            content = None
        if content == watch.content:
            return
        watch.content = content
        kind = "fileDeleted" if content is None else "fileChanged"
        for listener in list(watch.listeners):
            try:
                listener(kind, content)
            except Exception:
                self.log.exception("pdit file watch listener of %s failed", watch.path)

    async def close(self, timeout: float = 5.0) -> None:
        """Stop every watcher and wait (at most ``timeout`` s) for them to end."""
        for watch in self._watches.values():
            watch.stop.set()
        self._watches.clear()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
