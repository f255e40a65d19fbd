"""pdit's file API: Python files under the server's root, confined reads and saves, watchers.

Every file operation resolves its path one part at a time from a descriptor of the root
folder (``openat``-style: ``os.open(name, flags, dir_fd=…)`` with ``O_NOFOLLOW``), following
symbolic links itself and refusing any that lead out of the root, and then reads or writes
through the descriptor of the folder it found. A folder swapped for a symbolic link between
two steps makes the operation fail; it never reaches outside the root. Everything here
blocks: callers run it in a thread, and the watchers read in threads of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from watchfiles._rust_notify import RustNotify

from .errors import (
    FileAccessError,
    FileMissingError,
    FileTooLargeError,
    NotRegularFileError,
    PathOutsideRootError,
    WatchUnavailableError,
)

#: Folder names never listed, besides hidden folders and virtual environments.
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "venv", "site-packages"})

#: Mode of a file that ``save`` creates (an existing file keeps its own).
NEW_FILE_MODE = 0o644

#: Most symbolic links followed while resolving one path (Linux's own MAXSYMLINKS).
MAX_LINKS = 40

#: Longest file name, in bytes, of one part of a path (NAME_MAX).
NAME_MAX = 255

#: Times a folder's watcher that fails while watching is started again before its watches end.
RESTARTS = 5

#: Characters of a client's path quoted in an error message.
SHOWN_CHARS = 120

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class FileEvent:
    """What a watch listener is told.

    ``kind`` is ``"fileChanged"`` (with ``content``), ``"fileDeleted"``, or ``"error"`` (with
    ``code`` and ``message``: the file cannot be read or watched any more).
    """

    kind: str
    content: str | None = None
    code: str | None = None
    message: str | None = None


#: A watch listener is called on the event loop with each :class:`FileEvent`.
Listener = Callable[[FileEvent], None]

#: Reads a watched file again (in a watcher thread); raises ``FileAccessError``.
Reader = Callable[[], str]


def shown(path: str) -> str:
    """Return ``path`` as quoted in an error message (long paths are cut)."""
    if len(path) <= SHOWN_CHARS:
        return repr(path)
    return repr(path[:SHOWN_CHARS]) + f"… ({len(path)} characters)"


def has_hidden_part(parts: Iterable[str]) -> bool:
    """Return whether a path below the root has a hidden part (a name starting with ``.``)."""
    return any(part.startswith(".") for part in parts)


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


def _os_error(err: OSError, what: str) -> FileAccessError:
    """Return the ``FileAccessError`` for an ``OSError`` met on the path ``what``."""
    if err.errno in (errno.ENOENT, errno.ENOTDIR):
        return FileMissingError(f"no file or folder {what}")
    if err.errno == errno.ELOOP:
        return FileAccessError(f"{what} changed while it was opened (a symbolic link appeared)")
    if err.errno == errno.ENAMETOOLONG:
        return FileAccessError(f"{what} is too long")
    return FileAccessError(f"cannot open {what}: {err.strerror}")


def read_limited(fd: int, limit: int, what: str) -> bytes:
    """Read a regular file's whole content from ``fd``, at most ``limit`` bytes (0: no limit).

    Raises
    ------
    NotRegularFileError
        ``fd`` is not a regular file (a FIFO, a device, a folder): nothing is read.
    FileTooLargeError
        The file holds more than ``limit`` bytes.
    """
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFileError(f"{what} is not a regular file")
    if limit and info.st_size > limit:
        raise FileTooLargeError(
            f"{what} has {info.st_size} bytes; files of more than {limit} bytes are not read"
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if limit and size > limit:  # it grew while being read
            raise FileTooLargeError(f"{what} has more than {limit} bytes; it is not read")
        chunks.append(chunk)
    return b"".join(chunks)


def read_file(path: Path, limit: int = 0) -> str:
    """Read a regular file as UTF-8 (bad bytes replaced), without following a final link.

    The watchers' reader when no :class:`FileService` gives one.
    """
    what = repr(path.name)
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as err:
        raise _os_error(err, what) from None
    try:
        return read_limited(fd, limit, what).decode("utf-8", "replace")
    except OSError as err:
        raise _os_error(err, what) from None
    finally:
        os.close(fd)


@dataclass(eq=False)
class _Place:
    """Where a path leads inside the root: its folder (open), the name in it, what is there."""

    fds: list[int]
    name: str
    parts: tuple[str, ...]
    info: os.stat_result | None

    @property
    def dir_fd(self) -> int:
        return self.fds[-1]

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


class FileService:
    """The files pdit's client lists, reads, watches and saves, all confined to ``root_dir``.

    Paths on the wire are relative to ``root_dir`` with ``/`` separators, or absolute paths
    that lie inside it (pdit's client uses absolute paths). A path with a ``..`` part, an
    absolute path elsewhere, or one whose real location (symbolic links followed) lies outside
    ``root_dir`` raises ``PathOutsideRootError``. Every method resolves the path again (see the
    module) and blocks: call it in a thread.

    Parameters
    ----------
    root_dir : str or Path
        The server's root directory (``ServerApp.root_dir``).
    watchers : FileWatchers
        The shared watcher registry used for ``watch``.
    max_file_bytes : int
        Largest file read or saved, in bytes (0: no limit).
    """

    def __init__(
        self, root_dir: str | os.PathLike[str], watchers: FileWatchers, max_file_bytes: int = 0
    ) -> None:
        self.given_root = os.path.abspath(root_dir)
        self.root = Path(root_dir).resolve()
        self.watchers = watchers
        self.max_file_bytes = max_file_bytes

    # -- paths ------------------------------------------------------------------------------

    def parts(self, path: str) -> list[str]:
        """Return the parts of a client's path below the root (checked, not yet resolved).

        Raises
        ------
        PathOutsideRootError
            A ``..`` part, or an absolute path outside the root.
        FileAccessError
            Empty, malformed, or a part longer than ``NAME_MAX`` bytes.
        """
        if not isinstance(path, str) or not path.strip() or "\x00" in path:
            raise FileAccessError("a path must be a non-empty string")
        text = path.replace("\\", "/")
        if text.startswith("/"):
            parts = self._below_root(text, path)
        else:
            parts = [part for part in text.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise PathOutsideRootError(f"{shown(path)} has a '..' part")
        for part in parts:
            if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
                raise FileAccessError(f"{shown(path)} has a name longer than {NAME_MAX} bytes")
        return parts

    def _below_root(self, absolute: str, path: str) -> list[str]:
        """Return the parts below the root of an absolute path (or symbolic link target)."""
        parts = [part for part in absolute.split("/") if part not in ("", ".")]
        if ".." not in parts:
            for base in (str(self.root), self.given_root):
                base_parts = [part for part in base.split("/") if part]
                if parts[: len(base_parts)] == base_parts:
                    return parts[len(base_parts) :]
        # another spelling of a place inside the root (a linked folder on the way to it): the
        # parts below the root are then resolved again from the root, without leaving it
        real = Path(os.path.realpath(absolute))
        if real.is_relative_to(self.root):
            return list(real.relative_to(self.root).parts)
        raise PathOutsideRootError(f"{shown(path)} is outside the server's root directory")

    def _locate(self, parts: list[str], path: str) -> _Place:
        """Walk ``parts`` from the root, folder by folder, following links only inside it.

        Returns the folder that holds the last part (open: close the place) and what the last
        part is (``info`` None: nothing there yet). A symbolic link is read and its target
        walked in turn (an absolute target must lie inside the root; ``..`` may not climb
        above it). Folders are opened with ``O_NOFOLLOW | O_DIRECTORY``: one swapped for a
        link after it was looked at fails to open instead of being followed.
        """
        what = shown(path)
        if not parts:
            raise FileAccessError(f"{what} is the root folder, not a file")
        try:
            fds = [os.open(self.root, _DIR_FLAGS)]
        except OSError as err:
            raise _os_error(err, "the server's root directory") from None
        real: list[str] = []
        todo = deque(parts)
        links = 0
        try:
            while todo:
                part = todo.popleft()
                if part == "..":
                    if not real:
                        raise PathOutsideRootError(
                            f"{what} leads outside the server's root directory"
                        )
                    os.close(fds.pop())
                    real.pop()
                    continue
                try:
                    info: os.stat_result | None = os.stat(
                        part, dir_fd=fds[-1], follow_symlinks=False
                    )
                except FileNotFoundError:
                    if todo:
                        raise FileMissingError(f"no folder for {what}") from None
                    info = None
                if info is not None and stat.S_ISLNK(info.st_mode):
                    links += 1
                    if links > MAX_LINKS:
                        raise FileAccessError(f"{what} goes through too many symbolic links")
                    target = os.readlink(part, dir_fd=fds[-1])
                    if target.startswith("/"):
                        try:
                            below = self._below_root(target, path)
                        except PathOutsideRootError:
                            raise PathOutsideRootError(
                                f"{what} leads outside the server's root directory"
                            ) from None
                        for fd in fds[1:]:
                            os.close(fd)
                        del fds[1:]
                        real.clear()
                    else:
                        below = [p for p in target.split("/") if p not in ("", ".")]
                    todo.extendleft(reversed(below))
                    continue
                if not todo:
                    place = _Place(fds, part, (*real, part), info)
                    fds = []  # the place owns them now
                    return place
                if info is None or not stat.S_ISDIR(info.st_mode):
                    raise FileMissingError(f"no folder for {what}")
                fds.append(os.open(part, _DIR_FLAGS, dir_fd=fds[-1]))
                real.append(part)
            raise FileAccessError(f"{what} names a folder, not a file")
        except OSError as err:
            raise _os_error(err, what) from None
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def resolve(self, path: str) -> Path:
        """Return the real path of ``path`` inside the root (the file need not exist).

        Raises
        ------
        PathOutsideRootError
            ``..``, an absolute path elsewhere, or a symbolic link that leads out of the root.
        FileAccessError
            Empty or malformed; ``FileMissingError`` when a folder on the way is missing.
        """
        place = self._locate(self.parts(path), path)
        place.close()
        return self.root.joinpath(*place.parts)

    def relative(self, real: Path) -> str:
        """Return the wire form (relative, ``/``-separated) of a real path inside the root."""
        return real.relative_to(self.root).as_posix()

    # -- reading ------------------------------------------------------------------------------

    def read(self, path: str) -> tuple[Path, str]:
        """Return the real path and the text (UTF-8, bad bytes replaced) of the file ``path``.

        Only a regular file of at most ``max_file_bytes`` is read: it is opened with
        ``O_NONBLOCK`` (a FIFO does not wait for a writer) and checked with ``fstat`` first.

        Raises
        ------
        FileMissingError
            No such file.
        NotRegularFileError
            A FIFO, a device, a socket.
        FileTooLargeError
            Larger than ``max_file_bytes``.
        """
        return self._read(self.parts(path), path)

    def read_real(self, real: Path) -> str:
        """Read a real path inside the root again, resolving it again from the root.

        What the watchers call on every change: a folder on the way swapped for a symbolic
        link that leads out of the root since the watch began raises ``PathOutsideRootError``.
        """
        path = self.relative(real)
        return self._read(list(PurePosixPath(path).parts), path)[1]

    def _read(self, parts: list[str], path: str) -> tuple[Path, str]:
        what = shown(path)
        place = self._locate(parts, path)
        try:
            if place.info is None:
                raise FileMissingError(f"no file {what}")
            try:
                fd = os.open(place.name, _READ_FLAGS, dir_fd=place.dir_fd)
            except OSError as err:
                raise _os_error(err, what) from None
            try:
                data = read_limited(fd, self.max_file_bytes, what)
            except OSError as err:
                raise _os_error(err, what) from None
            finally:
                os.close(fd)
        finally:
            place.close()
        return self.root.joinpath(*place.parts), data.decode("utf-8", "replace")

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

    # -- saving -------------------------------------------------------------------------------

    def save(self, path: str, content: str) -> Path:
        """Write ``content`` (UTF-8) to ``path`` atomically; return the real path.

        The path is resolved from the root as for a read; the text goes to a new temporary
        file in the folder found (created with ``O_EXCL | O_NOFOLLOW`` through the folder's
        descriptor), is flushed to disk, and replaces the target with ``os.replace`` inside
        that same folder: a reader sees the old file or the new one, never a part, and the
        write cannot land outside the root. The temporary file is removed on every failure.
        An existing file keeps its permissions; a new one gets ``NEW_FILE_MODE``.

        Raises
        ------
        PathOutsideRootError
            The path is outside the root; nothing is written.
        FileMissingError
            Its folder does not exist.
        FileTooLargeError
            The content is larger than ``max_file_bytes``.
        FileAccessError
            It names a folder or another non-regular file, or the write failed.
        """
        what = shown(path)
        data = content.encode("utf-8", "surrogatepass")
        if self.max_file_bytes and len(data) > self.max_file_bytes:
            raise FileTooLargeError(
                f"{len(data)} bytes for {what}; files of more than "
                f"{self.max_file_bytes} bytes are not saved"
            )
        place = self._locate(self.parts(path), path)
        try:
            if place.info is not None and stat.S_ISDIR(place.info.st_mode):
                raise FileAccessError(f"{what} is a folder")
            if place.info is not None and not stat.S_ISREG(place.info.st_mode):
                raise NotRegularFileError(f"{what} is not a regular file")
            mode = NEW_FILE_MODE if place.info is None else stat.S_IMODE(place.info.st_mode)
            self._write(place, data, mode, what)
        finally:
            place.close()
        return self.root.joinpath(*place.parts)

    @staticmethod
    def _write(place: _Place, data: bytes, mode: int, what: str) -> None:
        stem = place.name.encode("utf-8", "surrogateescape")[:200].decode("utf-8", "ignore")
        temp = f".{stem}.{secrets.token_hex(6)}.tmp"
        folder = place.dir_fd
        try:
            fd = os.open(temp, _TEMP_FLAGS, 0o600, dir_fd=folder)
        except OSError as err:
            raise FileAccessError(f"cannot write next to {what}: {err.strerror}") from None
        replaced = False
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
            os.replace(temp, place.name, src_dir_fd=folder, dst_dir_fd=folder)
            replaced = True
            with contextlib.suppress(OSError):
                os.fsync(folder)  # the rename itself reaches the disk
        except OSError as err:
            raise FileAccessError(f"cannot write {what}: {err.strerror}") from None
        finally:
            if not replaced:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=folder)


@dataclass(eq=False)
class _Watch:
    """One watched file: how to read it, what was last seen, and its listeners."""

    path: Path
    read: Reader
    seen: tuple[str, str | None]
    listeners: list[Listener] = field(default_factory=list)


@dataclass(eq=False)
class _Folder:
    """One watched folder: its files, its thread, and how it is watched."""

    path: Path
    watches: dict[Path, _Watch] = field(default_factory=dict)
    fresh: set[Path] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    mode: str = "starting"
    identity: tuple[int, int] | None = None


class _FolderReplaced(Exception):
    """A watched folder was removed or replaced: its watcher must start again."""


def _identity(path: Path, missing_ok: bool = False) -> tuple[int, int] | None:
    """Return a folder's device and inode; ``FileNotFoundError`` when it is not a folder.

    A symbolic link is not a folder here: a watched folder replaced by a link is not
    followed (wherever it leads, its watch ends with ``watch-unavailable``).
    """
    try:
        info = os.lstat(path)
    except OSError:
        if missing_ok:
            return None
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(path)) from None
    if not stat.S_ISDIR(info.st_mode):
        if missing_ok:
            return None
        raise FileNotFoundError(errno.ENOTDIR, "not a folder", str(path))
    return info.st_dev, info.st_ino


def _state(read: Reader) -> tuple[tuple[str, str | None], FileEvent | None]:
    """Read a watched file; return its state and the event that reports it."""
    try:
        content = read()
    except FileMissingError:
        return ("missing", None), FileEvent("fileDeleted")
    except FileAccessError as err:
        return ("error", err.message), FileEvent("error", code=err.code, message=err.message)
    return ("file", content), FileEvent("fileChanged", content=content)


class FileWatchers:
    """A registry of file watchers: one watcher per watched folder, in a thread of its own.

    Every listener of a file shares its watch, and every watched file of a folder shares
    the folder's watcher (one inotify instance per folder, not per file); a folder's
    watcher starts with its first watched file and stops with its last. The watcher thread
    waits for changes (watchfiles' ``RustNotify``, not recursive) and, after each batch of
    changes to a watched file, reads it again through its reader — off the event loop — and
    reports a new text as ``fileChanged``, a file gone as ``fileDeleted`` (once), a file that
    comes back as ``fileChanged`` again, and a file that can no longer be read (a link out
    of the root, too large, not a regular file) as ``error``. Editors that save by
    replacing the file are seen as one change. Listeners are called on the event loop.

    When the system's notifications cannot be had (inotify's limits: 128 instances per user
    by default), the folder is polled every ``poll_interval`` seconds instead, with a
    warning in the log; when even that fails (the folder is gone), the listeners get an
    ``error`` with code ``watch-unavailable`` and the watch ends.

    Parameters
    ----------
    log : logging.Logger
        Where failures are logged.
    step : float
        Seconds without further changes before a batch is reported (watchfiles' ``step``).
    ready_check : float
        Seconds after which a watcher wakes up without changes; a file that joined it is
        read once more then, so a change made while its watch was starting is not missed.
    poll_interval : float
        Seconds between two looks at a folder that is polled.
    """

    def __init__(
        self,
        log: logging.Logger,
        step: float = 0.05,
        ready_check: float = 1.0,
        poll_interval: float = 0.5,
    ) -> None:
        self.log = log
        self.step = step
        self.ready_check = ready_check
        self.poll_interval = poll_interval
        self._folders: dict[Path, _Folder] = {}
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()

    def subscribe(
        self,
        path: Path,
        listener: Listener,
        read: Reader | None = None,
        content: str | None = None,
    ) -> None:
        """Call ``listener`` on every change of the real path ``path`` until unsubscribed.

        ``read`` reads the file again after a change (default: :func:`read_file`);
        ``content`` is the text the subscriber has already seen (None: it saw no file). The
        first listener of a file sets what counts as a change. Does no file I/O itself.
        """
        self._loop = asyncio.get_running_loop()
        with self._lock:
            folder = self._folders.get(path.parent)
            if folder is None:
                folder = self._folders[path.parent] = _Folder(path.parent)
                self._start(folder)
            watch = folder.watches.get(path)
            if watch is None:
                seen = ("missing", None) if content is None else ("file", content)
                watch = folder.watches[path] = _Watch(path, read or (lambda: read_file(path)), seen)
                folder.fresh.add(path)
                self.log.debug("pdit file watch started for %s", path)
            watch.listeners.append(listener)
        self._changed.set()

    def unsubscribe(self, path: Path, listener: Listener) -> None:
        """Stop calling ``listener``; the last listener of a folder's files stops its watcher."""
        with self._lock:
            folder = self._folders.get(path.parent)
            watch = None if folder is None else folder.watches.get(path)
            if folder is None or watch is None:
                return
            with contextlib.suppress(ValueError):
                watch.listeners.remove(listener)
            if not watch.listeners:
                del folder.watches[path]
                folder.fresh.discard(path)
                self.log.debug("pdit file watch stopped for %s", path)
            if not folder.watches:
                del self._folders[folder.path]
                folder.stop.set()
        self._changed.set()

    def watching(self) -> dict[Path, int]:
        """Return the watched files and how many listeners each has."""
        with self._lock:
            return {
                path: len(watch.listeners)
                for folder in self._folders.values()
                for path, watch in folder.watches.items()
            }

    def modes(self) -> dict[Path, str]:
        """Return each watched folder and how it is watched (``notify``, ``polling``, …)."""
        with self._lock:
            return {path: folder.mode for path, folder in self._folders.items()}

    @property
    def running(self) -> int:
        """Return how many watcher threads have not ended (a stopped one ends within ``step``)."""
        return len(self._threads)

    async def wait_until(self, predicate: Callable[[FileWatchers], bool]) -> None:
        """Wait until ``predicate(self)`` holds, checked whenever a watch or a watcher changes."""
        while not predicate(self):
            self._changed.clear()
            await self._changed.wait()

    # -- the watcher threads ------------------------------------------------------------------

    def _start(self, folder: _Folder) -> None:
        thread = threading.Thread(
            target=self._serve, args=(folder,), name=f"pdit-watch-{folder.path.name}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

    def _post(self, callback: Callable[..., None], *args: object) -> None:
        """Run ``callback`` on the event loop (from a watcher thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(callback, *args)

    def _open(self, folder: _Folder) -> RustNotify:
        """Start watching a folder: the system's notifications, else polling.

        Raises ``FileNotFoundError`` when the folder does not exist (watchfiles would then
        watch nothing, silently).
        """
        target = [str(folder.path)]
        folder.identity = _identity(folder.path)
        try:
            notify = RustNotify(target, False, False, 0, False, True)
            folder.mode = "notify"
        except FileNotFoundError:
            raise
        except Exception as err:
            poll_ms = max(1, round(self.poll_interval * 1000))
            notify = RustNotify(target, False, True, poll_ms, False, True)
            folder.mode = "polling"
            self.log.warning(
                "pdit file watcher: no notifications for %s (%s); polling it every %g s",
                folder.path,
                err,
                self.poll_interval,
            )
        return notify

    def _serve(self, folder: _Folder) -> None:
        """The thread of one folder: wait for changes, read changed files, report.

        A watcher that fails while watching is started again (all its files are read once
        more, so nothing changed meanwhile is missed), up to ``RESTARTS`` times.
        """
        thread = threading.current_thread()
        failures = 0
        try:
            while not folder.stop.is_set():
                try:
                    notify = self._open(folder)
                except Exception as err:
                    folder.mode = "failed"
                    self.log.error("pdit file watcher: cannot watch %s: %s", folder.path, err)
                    self._post(self._fail, folder, f"its folder cannot be watched: {err}")
                    return
                self._post(self._changed.set)
                try:
                    with notify:
                        self._watch(folder, notify)
                    return
                except Exception as err:
                    failures += 0 if isinstance(err, _FolderReplaced) else 1
                    if failures > RESTARTS:
                        raise
                    self.log.warning(
                        "pdit file watcher of %s failed (%s); starting it again", folder.path, err
                    )
                    with self._lock:
                        folder.fresh.update(folder.watches)
                    folder.stop.wait(self.poll_interval)
        except Exception:
            folder.mode = "failed"
            self.log.exception("pdit file watcher of %s failed", folder.path)
            self._post(self._fail, folder, "the watcher of its folder failed")
        finally:
            with self._lock:
                if folder.mode != "failed":
                    folder.mode = "stopped"
                self._threads.discard(thread)
            self._post(self._changed.set)

    def _watch(self, folder: _Folder, notify: RustNotify) -> None:
        step = max(1, round(self.step * 1000))
        timeout = max(1, round(self.ready_check * 1000))
        while not folder.stop.is_set():
            result = notify.watch(1600, step, timeout, folder.stop)
            if result == "stop":
                return
            if result == "timeout" and _identity(folder.path, missing_ok=True) != folder.identity:
                # removed or replaced: the watcher watches what is no longer there
                raise _FolderReplaced(f"{folder.path} was removed or replaced")
            changed = {path for _, path in result} if isinstance(result, set) else set()
            with self._lock:
                due = [
                    watch
                    for path, watch in folder.watches.items()
                    if path in folder.fresh or str(path) in changed
                ]
                folder.fresh.clear()
            for watch in due:
                self._check(watch)

    def _check(self, watch: _Watch) -> None:
        """Read a watched file again (in its folder's thread); report a change on the loop."""
        try:
            seen, event = _state(watch.read)
        except Exception:
            self.log.exception("pdit file watcher: reading %s failed", watch.path)
            return
        if seen == watch.seen:
            return
        watch.seen = seen
        if event is not None:
            self._post(self._deliver, watch, event)

    def _deliver(self, watch: _Watch, event: FileEvent) -> None:
        for listener in list(watch.listeners):
            try:
                listener(event)
            except Exception:
                self.log.exception("pdit file watch listener of %s failed", watch.path)

    def _fail(self, folder: _Folder, reason: str) -> None:
        """The folder cannot be watched: tell its listeners, forget its watches."""
        with self._lock:
            if self._folders.get(folder.path) is folder:
                del self._folders[folder.path]
            watches = list(folder.watches.values())
            folder.watches.clear()
        error = WatchUnavailableError(reason)
        for watch in watches:
            self._deliver(watch, FileEvent("error", code=error.code, message=error.message))
        self._changed.set()

    async def close(self, timeout: float = 5.0) -> None:
        """Stop every watcher and wait (at most ``timeout`` s) for their threads to end."""
        with self._lock:
            for folder in self._folders.values():
                folder.stop.set()
            self._folders.clear()
            threads = list(self._threads)
        if threads:
            await asyncio.to_thread(_join_all, threads, timeout)


def _join_all(threads: list[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
