"""The session's sequenced, bounded event log: every event is recorded here before it is sent."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from .protocol import encode
from .timestamps import isoformat, utcnow


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One recorded event: the payload (with ``seq`` and ``ts``) and its encoded frame."""

    seq: int
    event: dict[str, Any]
    text: str

    @property
    def size(self) -> int:
        """Return the encoded size in characters (a cheap stand-in for bytes)."""
        return len(self.text)


class LogBudget:
    """One byte budget shared by every session's event log (0 = no budget).

    When the logs together pass it, the oldest events of the largest log are dropped
    first; every log keeps at least its newest event. A client that needed a dropped
    event gets a ``resync`` snapshot.
    """

    def __init__(self, max_bytes: int = 0) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.logs: set[EventLog] = set()

    def charge(self, nbytes: int) -> None:
        """Account ``nbytes`` more, and reclaim if the budget is exceeded."""
        self.used += nbytes
        if self.max_bytes and self.used > self.max_bytes:
            self._reclaim()

    def _reclaim(self) -> None:
        while self.used > self.max_bytes:
            largest = max(self.logs, key=lambda log: log.nbytes, default=None)
            if largest is None or len(largest) <= 1:
                return
            # free a slice of the largest log at a time, so the others are asked next
            target = max(self.used - self.max_bytes, largest.nbytes // 4)
            if not largest.drop_oldest(target):
                return

    def add(self, log: EventLog) -> None:
        """Put a log under this budget."""
        self.logs.add(log)
        log.budget = self
        self.used += log.nbytes

    def remove(self, log: EventLog) -> None:
        """Take a log (of a closed session) out of the budget."""
        if log in self.logs:
            self.logs.discard(log)
            self.used -= log.nbytes
            log.budget = None


@dataclass(slots=True, eq=False)
class EventLog:
    """Sequenced events of one session, bounded by count and by encoded size.

    ``seq`` starts at 1 and only grows; the oldest events are dropped first when a
    bound is passed. ``max_events`` 0 means no count bound, ``max_bytes`` 0 no size bound.
    """

    max_events: int = 10_000
    max_bytes: int = 0
    last_seq: int = 0
    budget: LogBudget | None = None
    _events: deque[LoggedEvent] = field(default_factory=deque)
    _bytes: int = 0

    def append(self, payload: dict[str, Any]) -> LoggedEvent:
        """Stamp ``payload`` with the next ``seq`` and ``ts``, record it and return it."""
        self.last_seq += 1
        payload["seq"] = self.last_seq
        payload["ts"] = isoformat(utcnow())
        entry = LoggedEvent(self.last_seq, payload, encode(payload))
        self._events.append(entry)
        self._bytes += entry.size
        self._trim()
        if self.budget is not None:
            self.budget.charge(entry.size)
        return entry

    def _trim(self) -> None:
        events = self._events
        freed = 0
        while events and (
            (self.max_events and len(events) > self.max_events)
            or (self.max_bytes and self._bytes - freed > self.max_bytes and len(events) > 1)
        ):
            freed += events.popleft().size
        self._release(freed)

    def _release(self, freed: int) -> None:
        self._bytes -= freed
        if self.budget is not None:
            self.budget.used -= freed

    def drop_oldest(self, nbytes: int) -> int:
        """Drop the oldest events until ``nbytes`` are freed (never the newest one)."""
        freed = 0
        while freed < nbytes and len(self._events) > 1:
            entry = self._events.popleft()
            freed += entry.size
        self._release(freed)
        return freed

    @property
    def first_seq(self) -> int:
        """Return the oldest retained ``seq`` (``last_seq + 1`` when the log is empty)."""
        return self._events[0].seq if self._events else self.last_seq + 1

    @property
    def nbytes(self) -> int:
        """Return the encoded size of the retained events."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._events)

    def since(self, last_seq: int, limit: int = 0) -> list[LoggedEvent] | None:
        """Return the retained events with ``seq > last_seq`` in order.

        Returns ``None`` when ``last_seq + 1`` is no longer retained (a gap: the
        caller must resync), or when ``last_seq`` lies beyond the newest event.
        ``limit`` caps how many are returned (0: all).
        """
        if last_seq > self.last_seq:
            return None
        if last_seq == self.last_seq:
            return []
        if last_seq + 1 < self.first_seq:
            return None
        events = self._events
        start = last_seq + 1 - self.first_seq
        after = len(events) - start
        if start <= after:
            return list(islice(events, start, start + limit if limit else None))
        # a client near the live end (the usual case): walk from the right, not past the
        # whole log, so following a long log costs what is new, not what is retained
        tail = list(islice(reversed(events), after))
        tail.reverse()
        return tail[:limit] if limit else tail
