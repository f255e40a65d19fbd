"""The event log: sequencing, bounds, replay windows."""

from __future__ import annotations

import json
from datetime import datetime

from pdit_gateway.eventlog import EventLog, LogBudget
from pdit_gateway.timestamps import isoformat, utcnow


def test_seq_starts_at_one_and_grows():
    log = EventLog(max_events=10)
    entries = [log.append({"type": "x", "n": i}) for i in range(3)]
    assert [e.seq for e in entries] == [1, 2, 3]
    assert json.loads(entries[1].text) == entries[1].event
    assert entries[0].event["ts"].endswith("Z")


def test_count_bound_drops_oldest_and_reports_gaps():
    log = EventLog(max_events=3)
    for i in range(5):
        log.append({"type": "x", "n": i})
    assert len(log) == 3 and log.first_seq == 3 and log.last_seq == 5
    assert [e.seq for e in log.since(2)] == [3, 4, 5]
    assert log.since(1) is None  # seq 2 is gone: a gap
    assert log.since(5) == []
    assert log.since(9) is None  # beyond the newest: the client is confused
    assert [e.seq for e in log.since(2, limit=2)] == [3, 4]


def test_byte_bound_keeps_the_newest_event():
    log = EventLog(max_events=0, max_bytes=200)
    for _ in range(10):
        log.append({"type": "x", "pad": "p" * 50})
    assert log.nbytes <= 200 and len(log) >= 1
    log.append({"type": "x", "pad": "q" * 1000})
    assert len(log) == 1 and log.last_seq == 11


def test_drop_oldest_frees_bytes():
    log = EventLog(max_events=0)
    for _ in range(5):
        log.append({"type": "x"})
    before = log.nbytes
    freed = log.drop_oldest(1)
    assert freed > 0 and log.nbytes == before - freed and log.first_seq == 2


def test_utc_times_are_aware_and_formatted():
    moment = utcnow()
    assert isinstance(moment, datetime) and moment.utcoffset().total_seconds() == 0
    text = isoformat(moment)
    assert text is not None and text.endswith("Z") and len(text) == len("2026-01-01T00:00:00.000Z")
    assert isoformat(None) is None


def test_shared_budget_trims_the_largest_log_first():
    budget = LogBudget(max_bytes=3000)
    small, large = EventLog(max_events=0), EventLog(max_events=0)
    budget.add(small)
    budget.add(large)
    for _ in range(5):
        small.append({"type": "x", "pad": "s" * 20})
    for _ in range(200):
        large.append({"type": "x", "pad": "l" * 50})
    assert budget.used == small.nbytes + large.nbytes
    assert budget.used <= 3000
    assert len(small) == 5  # the small log was never touched
    assert large.last_seq == 200 and large.since(199) is not None
    budget.remove(large)
    assert budget.used == small.nbytes


def test_budget_never_empties_a_log():
    budget = LogBudget(max_bytes=10)
    log = EventLog(max_events=0)
    budget.add(log)
    log.append({"type": "x", "pad": "p" * 100})
    log.append({"type": "x", "pad": "p" * 100})
    assert len(log) == 1 and log.last_seq == 2
