"""``EventLog.since`` from either end of a long log: the same events, in order."""

from __future__ import annotations

import pytest

from pdit_gateway.eventlog import EventLog


@pytest.fixture
def log() -> EventLog:
    log = EventLog(max_events=1000)
    for i in range(1500):  # the first 500 are dropped: seq 501..1500 retained
        log.append({"type": "e", "i": i})
    return log


@pytest.mark.parametrize("last_seq", [500, 501, 999, 1000, 1001, 1400, 1498, 1499])
@pytest.mark.parametrize("limit", [0, 1, 3, 512, 2000])
def test_since_returns_the_next_events_from_any_position(log, last_seq, limit):
    expected = list(range(last_seq + 1, 1501))
    if limit:
        expected = expected[:limit]
    assert [entry.seq for entry in log.since(last_seq, limit)] == expected


def test_since_still_reports_gaps_and_the_end(log):
    assert log.since(499) is None
    assert log.since(1500) == []
    assert log.since(1501) is None
