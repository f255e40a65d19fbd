"""The SQLite execution store: round trips, interrupted executions, batching, failures."""

from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, cast

import pytest

from pdit_gateway.errors import StoreError
from pdit_gateway.store import (
    INTERRUPTED,
    ExecutionStore,
    SqliteExecutionStore,
    StoredSession,
    open_store,
)

LOG = logging.getLogger("pdit.test.store")


def snap(eid: str, status: str = "ok", created: str = "2024-01-01T00:00:00.000Z") -> dict[str, Any]:
    return {
        "executionId": eid,
        "status": status,
        "scriptName": "s.py",
        "expressions": [{"index": 0, "lineStart": 1, "lineEnd": 1}],
        "results": {"0": {"status": status, "output": [{"type": "stream", "text": eid}]}},
        "createdAt": created,
        "startedAt": created,
        "finishedAt": None if status in ("queued", "running") else created,
    }


def rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, params).fetchall()


def count_executions(path: Path) -> int:
    return int(rows(path, "SELECT count(*) FROM executions")[0][0])


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "executions.sqlite"


async def reopen(path: Path) -> dict[str, StoredSession]:
    store = SqliteExecutionStore(path, LOG)
    try:
        return store.load()
    finally:
        await store.close()


async def test_round_trip_of_several_sessions_after_reopen(db):
    store = SqliteExecutionStore(db, LOG)
    assert store.load() == {}
    assert db.parent.is_dir()
    store.save_execution("a", snap("a2", created="2024-01-01T00:00:02.000Z"))
    store.save_execution("a", snap("a1", "error", created="2024-01-01T00:00:01.000Z"))
    store.save_execution("a", snap("a3", "cancelled", created="2024-01-01T00:00:02.000Z"))
    store.save_seq("a", 17)
    store.save_execution("b", snap("b1", "timeout"))
    store.save_seq("c", 4)
    await store.close()

    loaded = await reopen(db)
    assert set(loaded) == {"a", "b", "c"}
    a = loaded["a"]
    assert a.session_id == "a"
    assert a.last_seq == 17
    # by createdAt, then insertion order for equal createdAt
    assert [e["executionId"] for e in a.executions] == ["a1", "a2", "a3"]
    assert [e["status"] for e in a.executions] == ["error", "ok", "cancelled"]
    assert a.executions[1] == {
        **snap("a2", created="2024-01-01T00:00:02.000Z"),
        "fromBeforeRestart": True,
    }
    assert loaded["b"].last_seq == 0
    assert [e["executionId"] for e in loaded["b"].executions] == ["b1"]
    assert loaded["c"] == StoredSession("c", 4, [])


async def test_upsert_keeps_one_row_with_the_final_status(db):
    store = SqliteExecutionStore(db, LOG)
    store.load()
    store.save_execution("s", snap("e1", "running"))
    await store.flush()
    assert rows(db, "SELECT status FROM executions") == [("running",)]
    store.save_execution("s", snap("e1", "ok"))
    await store.close()
    assert rows(db, "SELECT execution_id, status, finished_at FROM executions") == [
        ("e1", "ok", "2024-01-01T00:00:00.000Z")
    ]
    loaded = await reopen(db)
    assert [(e["executionId"], e["status"]) for e in loaded["s"].executions] == [("e1", "ok")]


async def test_load_marks_unfinished_executions_interrupted_and_persists_it(db):
    store = SqliteExecutionStore(db, LOG)
    store.save_execution("s", snap("q", "queued", created="2024-01-01T00:00:03.000Z"))
    store.save_execution("s", snap("r", "running", created="2024-01-01T00:00:02.000Z"))
    store.save_execution("s", snap("done", "ok", created="2024-01-01T00:00:01.000Z"))
    await store.close()

    for _ in range(2):  # the second reopen reads what the first wrote back
        loaded = await reopen(db)
        statuses = {e["executionId"]: e["status"] for e in loaded["s"].executions}
        assert statuses == {"done": "ok", "r": INTERRUPTED, "q": INTERRUPTED}
        assert all(e["fromBeforeRestart"] is True for e in loaded["s"].executions)
        stored = dict(rows(db, "SELECT execution_id, status FROM executions"))
        assert stored == {"done": "ok", "r": INTERRUPTED, "q": INTERRUPTED}

    # the flag is added on load, never stored
    for (text,) in rows(db, "SELECT snapshot FROM executions"):
        assert "fromBeforeRestart" not in json.loads(text)
    (text,) = rows(db, "SELECT snapshot FROM executions WHERE execution_id = 'r'")[0]
    assert json.loads(text)["status"] == INTERRUPTED


async def test_last_seq_keeps_the_maximum(db):
    store = SqliteExecutionStore(db, LOG)
    store.save_seq("s", 5)
    store.save_seq("s", 30)
    store.save_seq("s", 12)
    store.save_execution("s", snap("e"))  # creating the session row must not lower it
    await store.close()
    assert (await reopen(db))["s"].last_seq == 30


async def test_forget_session_deletes_only_that_session(db):
    store = SqliteExecutionStore(db, LOG)
    store.save_execution("gone", snap("g1"))
    store.save_seq("gone", 9)
    store.save_execution("kept", snap("k1"))
    store.forget_session("gone")
    await store.close()
    loaded = await reopen(db)
    assert set(loaded) == {"kept"}
    assert rows(db, "SELECT count(*) FROM executions WHERE session_id = 'gone'") == [(0,)]


async def test_prune_keeps_only_the_given_executions(db):
    store = SqliteExecutionStore(db, LOG)
    for eid in ("e1", "e2", "e3", "e4"):
        store.save_execution("s", snap(eid))
    store.save_execution("other", snap("e1"))
    store.prune("s", ["e2", "e4", "unknown"])
    await store.close()
    loaded = await reopen(db)
    assert [e["executionId"] for e in loaded["s"].executions] == ["e2", "e4"]
    assert [e["executionId"] for e in loaded["other"].executions] == ["e1"]


async def test_memory_path_gives_a_no_op_store(tmp_path):
    for path in (":memory:", ""):
        store = open_store(path, LOG)
        assert type(store) is ExecutionStore
        assert store.load() == {}
        store.save_execution("s", snap("e"))
        store.save_seq("s", 3)
        store.prune("s", [])
        store.forget_session("s")
        await store.flush()
        await store.close()
        await store.close()
    assert isinstance(open_store(str(tmp_path / "x.sqlite"), LOG), SqliteExecutionStore)


async def test_database_is_in_wal_mode_with_a_schema_version(db):
    store = SqliteExecutionStore(db, LOG)
    store.save_seq("s", 1)
    await store.flush()
    assert rows(db, "PRAGMA journal_mode") == [("wal",)]
    assert rows(db, "PRAGMA user_version") == [(1,)]
    await store.close()


async def test_saves_are_queued_and_committed_by_flush(db):
    # a long interval and a large batch: the writer commits nothing until the flush marker
    store = SqliteExecutionStore(db, LOG, batch_interval=600.0, max_batch=100_000)
    store.load()
    for i in range(5000):
        store.save_execution("s", snap(f"e{i:04d}"))
    # every call above has returned, yet the data is not committed
    assert count_executions(db) == 0
    await store.flush()
    assert count_executions(db) == 5000
    await store.close()


async def test_small_batches_commit_everything(db):
    store = SqliteExecutionStore(db, LOG, batch_interval=0.0, max_batch=7)
    for i in range(100):
        store.save_execution("s", snap(f"e{i:03d}"))
        store.save_seq("s", i)
    await store.flush()
    assert count_executions(db) == 100
    await store.close()
    assert (await reopen(db))["s"].last_seq == 99


async def test_snapshot_that_cannot_be_encoded_is_logged_and_skipped(db, caplog):
    store = SqliteExecutionStore(db, LOG)
    circular = snap("bad")
    circular["results"]["self"] = circular
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        store.save_execution("s", circular)
        store.save_execution("s", {"status": "ok"})  # no executionId
    assert len([r for r in caplog.records if r.exc_info]) == 2
    store.save_execution("s", snap("good"))
    await store.close()
    assert [e["executionId"] for e in (await reopen(db))["s"].executions] == ["good"]


async def test_failing_write_is_logged_and_the_rest_of_the_batch_committed(db, caplog):
    # everything below lands in one batch: nothing is committed before the flush
    store = SqliteExecutionStore(db, LOG, batch_interval=600.0, max_batch=100_000)
    store.load()
    store.save_execution("s", snap("before"))
    store.save_seq(cast(Any, ["not", "a", "session", "id"]), 3)  # sqlite cannot bind a list
    store.save_seq("s", 2**70)  # too large for an SQLite integer
    store.save_execution("s", snap("after"))
    store.save_seq("s", 8)
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        await store.flush()
    failures = [r for r in caplog.records if r.exc_info and "failed; skipped" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.levelno == logging.ERROR for r in failures)
    store.save_execution("s", snap("later"))
    await store.close()
    loaded = await reopen(db)
    assert [e["executionId"] for e in loaded["s"].executions] == ["before", "after", "later"]
    assert loaded["s"].last_seq == 8


async def test_close_is_idempotent_and_later_saves_are_ignored(db, caplog):
    store = SqliteExecutionStore(db, LOG)
    store.save_execution("s", snap("e1"))
    await store.close()
    await store.close()
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        store.save_execution("s", snap("e2"))
        store.save_seq("s", 50)
        store.prune("s", [])
        store.forget_session("s")
    assert len([r for r in caplog.records if "after close ignored" in r.getMessage()]) == 4
    await store.flush()  # returns at once
    loaded = await reopen(db)
    assert [e["executionId"] for e in loaded["s"].executions] == ["e1"]
    assert loaded["s"].last_seq == 0


async def test_close_without_writes_and_flush_before_any_write(db):
    store = SqliteExecutionStore(db, LOG)
    await store.flush()
    await store.close()
    await store.close()
    assert not db.exists()  # nothing was ever written or loaded


async def test_corrupt_row_is_skipped_on_load(db, caplog):
    store = SqliteExecutionStore(db, LOG)
    store.save_execution("s", snap("ok"))
    store.save_execution("s", snap("broken"))
    await store.close()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE executions SET snapshot = '{not json' WHERE execution_id = 'broken'")
    with caplog.at_level(logging.ERROR, logger=LOG.name):
        loaded = await reopen(db)
    assert [e["executionId"] for e in loaded["s"].executions] == ["ok"]
    assert any("not valid JSON" in r.getMessage() for r in caplog.records)


async def test_database_from_a_newer_gateway_is_refused(db):
    db.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        SqliteExecutionStore(db, LOG).load()
