"""Durable results: finished executions and event ``seq`` written to SQLite by one writer thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

from jupyter_core.paths import jupyter_data_dir

from .errors import StoreError
from .timestamps import isoformat, utcnow

#: The status given on load to executions that were queued or running when the gateway stopped.
INTERRUPTED = "interrupted-by-shutdown"

#: The schema version this module writes (``PRAGMA user_version``).
SCHEMA_VERSION = 1

_UNFINISHED = ("queued", "running")

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS sessions (
        session_id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS executions (
        session_id TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        status TEXT,
        created_at TEXT,
        finished_at TEXT,
        snapshot TEXT NOT NULL,
        PRIMARY KEY (session_id, execution_id)
    )
    """,
)


@dataclass(frozen=True, slots=True)
class StoredSession:
    """What the store holds for one session.

    Attributes
    ----------
    session_id : str
        The session.
    last_seq : int
        The highest event ``seq`` ever recorded for the session (0 if none).
    executions : list of dict
        Execution snapshots, oldest first (by ``createdAt``, then insertion order).
    """

    session_id: str
    last_seq: int
    executions: list[dict[str, Any]]


#: Told, in the writer thread, when writes start failing (the error) and succeed again (None).
HealthListener = Callable[["str | None"], None]


def default_db_path(root_dir: str | os.PathLike[str], data_dir: str | None = None) -> Path:
    """Return the default database of a server: one per root directory.

    ``pdit_gateway/executions-<hash>.sqlite`` in the Jupyter data directory, where ``<hash>``
    is the first 16 hex digits of the SHA-256 of the resolved root directory: servers of
    different projects keep apart (sessions, ids, history), a server restarted on the same
    folder finds its own.
    """
    real = os.path.realpath(os.path.expanduser(os.fspath(root_dir)))
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:16]
    return Path(data_dir or jupyter_data_dir()) / "pdit_gateway" / f"executions-{digest}.sqlite"


class ExecutionStore:
    """No-op base: persistence disabled (used for path ``':memory:'``).

    Every method accepts its arguments and does nothing; ``load`` returns no sessions.
    """

    #: Called (in the writer thread) when writes start failing and when they succeed again.
    on_health: HealthListener | None = None

    def status(self) -> dict[str, Any]:
        """Return the store's state: ``{"state": "off"}`` when nothing is kept."""
        return {"state": "off", "path": None, "failedWrites": 0, "lastError": None}

    def load(self) -> dict[str, StoredSession]:
        """Return every stored session by id; called once, synchronously, before serving."""
        return {}

    def save_execution(self, session_id: str, snapshot: dict[str, Any]) -> None:
        """Record (insert or replace) an execution snapshot without blocking.

        Parameters
        ----------
        session_id : str
            The session the execution belongs to.
        snapshot : dict
            ``Execution.snapshot()``; it must have an ``executionId``.
        """

    def save_seq(self, session_id: str, last_seq: int) -> None:
        """Record a session's last event ``seq`` without blocking (the stored value only grows).

        Parameters
        ----------
        session_id : str
            The session.
        last_seq : int
            The highest ``seq`` the session has used so far.
        """

    def forget_session(self, session_id: str) -> None:
        """Delete everything stored for a session, without blocking.

        Parameters
        ----------
        session_id : str
            The session.
        """

    def prune(self, session_id: str, keep_execution_ids: Collection[str]) -> None:
        """Delete a session's stored executions except the given ones, without blocking.

        Parameters
        ----------
        session_id : str
            The session.
        keep_execution_ids : collection of str
            The executions to keep; every other execution of the session is deleted.
        """

    async def flush(self) -> None:
        """Wait, without blocking the event loop, until every write enqueued so far is committed."""

    async def close(self) -> None:
        """Flush, then release the store; later saves are ignored. Idempotent."""


# -- operations the writer thread applies ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SaveExecution:
    kind: ClassVar[str] = "save_execution"
    session_id: str
    execution_id: str
    status: str | None
    created_at: str | None
    finished_at: str | None
    snapshot: str

    def apply(self, conn: sqlite3.Connection, now: str) -> None:
        _touch_session(conn, self.session_id, 0, now)
        conn.execute(
            "INSERT INTO executions"
            " (session_id, execution_id, status, created_at, finished_at, snapshot)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (session_id, execution_id) DO UPDATE SET"
            " status = excluded.status, created_at = excluded.created_at,"
            " finished_at = excluded.finished_at, snapshot = excluded.snapshot",
            (
                self.session_id,
                self.execution_id,
                self.status,
                self.created_at,
                self.finished_at,
                self.snapshot,
            ),
        )


@dataclass(frozen=True, slots=True)
class _SaveSeq:
    kind: ClassVar[str] = "save_seq"
    session_id: str
    last_seq: int

    def apply(self, conn: sqlite3.Connection, now: str) -> None:
        _touch_session(conn, self.session_id, self.last_seq, now)


@dataclass(frozen=True, slots=True)
class _Forget:
    kind: ClassVar[str] = "forget_session"
    session_id: str

    def apply(self, conn: sqlite3.Connection, now: str) -> None:
        conn.execute("DELETE FROM executions WHERE session_id = ?", (self.session_id,))
        conn.execute("DELETE FROM sessions WHERE session_id = ?", (self.session_id,))


@dataclass(frozen=True, slots=True)
class _Prune:
    kind: ClassVar[str] = "prune"
    session_id: str
    keep: frozenset[str]

    def apply(self, conn: sqlite3.Connection, now: str) -> None:
        rows = conn.execute(
            "SELECT execution_id FROM executions WHERE session_id = ?", (self.session_id,)
        ).fetchall()
        doomed = [(self.session_id, eid) for (eid,) in rows if eid not in self.keep]
        conn.executemany("DELETE FROM executions WHERE session_id = ? AND execution_id = ?", doomed)


@dataclass(frozen=True, slots=True)
class _Flush:
    done: concurrent.futures.Future[None]


@dataclass(frozen=True, slots=True)
class _Stop:
    done: concurrent.futures.Future[None]


_Op: TypeAlias = "_SaveExecution | _SaveSeq | _Forget | _Prune"
_Marker: TypeAlias = "_Flush | _Stop"
_Item: TypeAlias = "_Op | _Marker"


def _touch_session(conn: sqlite3.Connection, session_id: str, last_seq: int, now: str) -> None:
    conn.execute(
        "INSERT INTO sessions (session_id, last_seq, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (session_id) DO UPDATE SET"
        " last_seq = max(last_seq, excluded.last_seq), updated_at = excluded.updated_at",
        (session_id, last_seq, now),
    )


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def _resolve(done: concurrent.futures.Future[None]) -> None:
    # a waiter that was cancelled has cancelled the future: there is nobody to tell
    if done.set_running_or_notify_cancel():
        done.set_result(None)


def _connect(path: Path, log: logging.Logger) -> sqlite3.Connection:
    """Open the database in WAL mode and bring its schema up to date (folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("pdit store %s: journal mode is %s, not wal", path, mode)
        conn.execute("PRAGMA synchronous=NORMAL")
        _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # read again under the write lock: another connection may have migrated meanwhile
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the execution store {path} has schema version {version}; "
                f"this gateway knows version {SCHEMA_VERSION} at most"
            )
        if version < 1:
            for statement in _SCHEMA:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SqliteExecutionStore(ExecutionStore):
    """Executions and ``seq`` of every session in an SQLite database (WAL mode).

    ``save_*``, ``forget_session`` and ``prune`` only enqueue; one daemon thread owns the
    writing connection and applies what is queued in batches, one transaction per batch.
    A write that fails is logged and skipped; the rest of its batch is still committed.
    Snapshots are encoded to JSON by the caller (so later changes to the live objects
    cannot race the writer).

    Parameters
    ----------
    path : str or os.PathLike
        The database file; missing parent directories are created.
    log : logging.Logger
        Where failures are reported.
    batch_interval : float
        Seconds the writer waits for more writes once it has one, before committing.
    max_batch : int
        The most writes committed in one transaction. Not an option: it only bounds how
        long one transaction holds the database's write lock (500 small upserts take a few
        milliseconds); the writer commits whatever queued, up to it, as soon as it is free.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        log: logging.Logger,
        batch_interval: float = 0.05,
        max_batch: int = 500,
    ) -> None:
        self.path = Path(path).expanduser()
        self.log = log
        self.batch_interval = batch_interval
        self.max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped: concurrent.futures.Future[None] | None = None
        self.failed_writes = 0
        self.last_error: str | None = None
        self.failing = False

    # -- reading (synchronous, at start) --------------------------------------------------

    def load(self) -> dict[str, StoredSession]:
        """Return every stored session; unfinished executions are marked interrupted.

        Executions stored as ``queued`` or ``running`` get status :data:`INTERRUPTED`, in
        the result and in the database. Every returned snapshot has
        ``"fromBeforeRestart": True`` (this key is not stored).

        Returns
        -------
        dict of str to StoredSession
            The stored sessions by id.

        Raises
        ------
        StoreError
            If the database cannot be opened, read, or written.
        """
        try:
            conn = _connect(self.path, self.log)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the execution store {self.path}: {exc}") from exc
        try:
            try:
                stored = self._load(conn)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the execution store {self.path}: {exc}") from exc
            try:
                # a write now, so that a file that opens but cannot be written (read-only,
                # immutable) fails here, at start, and not with every result later
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write the execution store {self.path}: {exc}") from exc
        finally:
            conn.close()
        return stored

    def _load(self, conn: sqlite3.Connection) -> dict[str, StoredSession]:
        seqs: dict[str, int] = {
            session_id: int(last_seq or 0)
            for session_id, last_seq in conn.execute("SELECT session_id, last_seq FROM sessions")
        }
        executions: dict[str, list[dict[str, Any]]] = {}
        interrupted: list[tuple[str, str, str, str]] = []
        rows = conn.execute(
            "SELECT session_id, execution_id, status, snapshot FROM executions"
            " ORDER BY session_id, created_at, rowid"
        )
        for session_id, execution_id, status, text in rows:
            try:
                snapshot = json.loads(text)
            except ValueError:
                self.log.exception(
                    "pdit store: execution %s of session %s is not valid JSON; skipped",
                    execution_id,
                    session_id,
                )
                continue
            if not isinstance(snapshot, dict):
                self.log.error(
                    "pdit store: execution %s of session %s is not an object; skipped",
                    execution_id,
                    session_id,
                )
                continue
            if status in _UNFINISHED:
                snapshot["status"] = INTERRUPTED
                interrupted.append(
                    (INTERRUPTED, json.dumps(snapshot, default=str), session_id, execution_id)
                )
            snapshot["fromBeforeRestart"] = True
            executions.setdefault(session_id, []).append(snapshot)
        rows.close()
        if interrupted:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "UPDATE executions SET status = ?, snapshot = ?"
                    " WHERE session_id = ? AND execution_id = ?",
                    interrupted,
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self.log.info(
                "pdit store: %d executions were interrupted by the last shutdown",
                len(interrupted),
            )
        return {
            session_id: StoredSession(
                session_id, seqs.get(session_id, 0), executions.get(session_id, [])
            )
            for session_id in (*seqs, *(s for s in executions if s not in seqs))
        }

    def status(self) -> dict[str, Any]:
        """Return ``{state: "ok"|"failing", path, failedWrites, lastError}``."""
        return {
            "state": "failing" if self.failing else "ok",
            "path": str(self.path),
            "failedWrites": self.failed_writes,
            "lastError": self.last_error,
        }

    def _failed(self, count: int, error: BaseException | str) -> None:
        """``count`` writes failed (writer thread): count them; the first of a run is reported."""
        self.failed_writes += count
        self.last_error = str(error)
        if self.failing:
            return
        self.failing = True
        self.log.error(
            "pdit store %s: writes fail (%s); results are not being kept until they succeed",
            self.path,
            self.last_error,
        )
        self._tell(self.last_error)

    def _succeeded(self) -> None:
        if not self.failing:
            return
        self.failing = False
        self.log.warning("pdit store %s: writes succeed again", self.path)
        self._tell(None)

    def _tell(self, error: str | None) -> None:
        listener = self.on_health
        if listener is not None:
            try:
                listener(error)
            except Exception:
                self.log.exception("pdit store: the health listener failed")

    # -- writing (non-blocking) -------------------------------------------------------------

    def save_execution(self, session_id: str, snapshot: dict[str, Any]) -> None:
        """Enqueue an upsert of a snapshot (see :meth:`ExecutionStore.save_execution`)."""
        try:
            op = _SaveExecution(
                session_id=session_id,
                execution_id=snapshot["executionId"],
                status=_text(snapshot.get("status")),
                created_at=_text(snapshot.get("createdAt")),
                finished_at=_text(snapshot.get("finishedAt")),
                snapshot=json.dumps(snapshot, default=str),
            )
        except (KeyError, TypeError, ValueError, RecursionError):
            self.log.exception(
                "pdit store: cannot encode an execution of session %s; not saved", session_id
            )
            return
        self._enqueue(op)

    def save_seq(self, session_id: str, last_seq: int) -> None:
        """Enqueue a session's last ``seq`` (see :meth:`ExecutionStore.save_seq`)."""
        self._enqueue(_SaveSeq(session_id, last_seq))

    def forget_session(self, session_id: str) -> None:
        """Enqueue deleting a session (see :meth:`ExecutionStore.forget_session`)."""
        self._enqueue(_Forget(session_id))

    def prune(self, session_id: str, keep_execution_ids: Collection[str]) -> None:
        """Enqueue deleting a session's other executions (see :meth:`ExecutionStore.prune`)."""
        self._enqueue(_Prune(session_id, frozenset(keep_execution_ids)))

    async def flush(self) -> None:
        """Wait until every write enqueued so far is committed (or logged as failed)."""
        with self._lock:
            waiting = self._stopped
            if waiting is None:
                if self._thread is None:
                    return
                waiting = concurrent.futures.Future()
                self._queue.put(_Flush(waiting))
        await asyncio.shield(asyncio.wrap_future(waiting))

    async def close(self) -> None:
        """Commit what is queued, stop the writer thread and close its connection."""
        with self._lock:
            stopped = self._stopped
            if stopped is None:
                stopped = self._stopped = concurrent.futures.Future()
                if self._thread is None:
                    _resolve(stopped)
                else:
                    self._queue.put(_Stop(stopped))
        await asyncio.shield(asyncio.wrap_future(stopped))
        if self._thread is not None:
            # the thread resolves ``stopped`` as its last act: this join does not wait
            self._thread.join()

    def _enqueue(self, op: _Op) -> None:
        with self._lock:
            if self._stopped is not None:
                self.log.debug(
                    "pdit store: %s for session %s after close ignored", op.kind, op.session_id
                )
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="pdit-store-writer", daemon=True
                )
                self._thread.start()
            self._queue.put(op)

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        stopped: concurrent.futures.Future[None] | None = None
        try:
            while stopped is None:
                batch = self._take_batch()
                ops = [item for item in batch if not isinstance(item, _Flush | _Stop)]
                try:
                    if ops:
                        if conn is None:
                            conn = self._open()
                        self._write(conn, ops)
                except Exception as exc:
                    self.log.exception("pdit store: %d writes to %s failed", len(ops), self.path)
                    self._failed(len(ops), exc)
                finally:
                    for item in batch:
                        if isinstance(item, _Flush):
                            _resolve(item.done)
                        elif isinstance(item, _Stop):
                            stopped = item.done
        finally:
            if conn is not None:
                conn.close()
            if stopped is not None:
                _resolve(stopped)

    def _open(self) -> sqlite3.Connection | None:
        try:
            return _connect(self.path, self.log)
        except (sqlite3.Error, StoreError, OSError):
            self.log.exception("pdit store: cannot open %s", self.path)
            return None

    def _take_batch(self) -> list[_Item]:
        """Block for one item, then take more until ``max_batch``, a marker or the interval."""
        first = self._queue.get()
        batch: list[_Item] = [first]
        if isinstance(first, _Flush | _Stop):
            return batch
        deadline = time.monotonic() + self.batch_interval
        while len(batch) < self.max_batch:
            # past the deadline, timeout 0 still takes what is already queued
            remaining = max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            batch.append(item)
            if isinstance(item, _Flush | _Stop):
                break
        return batch

    def _write(self, conn: sqlite3.Connection | None, ops: list[_Op]) -> None:
        """Apply ``ops`` in one transaction; a failing op is logged and rolled back alone."""
        if conn is None:
            self.log.error("pdit store: %s is not open; %d writes dropped", self.path, len(ops))
            self._failed(len(ops), f"{self.path} cannot be opened")
            return
        now = isoformat(utcnow()) or ""
        failed: Exception | None = None
        conn.execute("BEGIN")
        try:
            for op in ops:
                conn.execute("SAVEPOINT op")
                try:
                    op.apply(conn, now)
                except Exception as exc:
                    self.log.exception(
                        "pdit store: %s for session %s failed; skipped", op.kind, op.session_id
                    )
                    conn.execute("ROLLBACK TO op")
                    self._failed(1, exc)
                    failed = exc
                conn.execute("RELEASE op")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if failed is None:
            self._succeeded()


def open_store(path: str, log: logging.Logger) -> ExecutionStore:
    """Return the execution store for a configured path.

    Parameters
    ----------
    path : str
        The database file; ``':memory:'`` or ``''`` disables persistence.
    log : logging.Logger
        Where the store reports failures.

    Returns
    -------
    ExecutionStore
        A no-op :class:`ExecutionStore`, or a :class:`SqliteExecutionStore` on ``path``.
    """
    if path in ("", ":memory:"):
        return ExecutionStore()
    # no batching delay: a write is committed as soon as the writer is free, and writes that
    # queue up meanwhile go in one transaction, so a crash loses as little as possible
    return SqliteExecutionStore(path, log, batch_interval=0.0)
