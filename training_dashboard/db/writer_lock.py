"""A first-come-first-served lock for SQLite's single writer, one per database file and process.

SQLite lets one transaction write at a time; the others wait in its busy handler, which
sleeps and retries with growing pauses and is not first-come-first-served: under 16
concurrent writers some waited seconds while later ones went straight through. Threads of
this process therefore queue here, in arrival order, before ``BEGIN IMMEDIATE``, so the busy
handler only arbitrates between processes (the training CLI, several backend processes).

The lock is handed from the releasing thread straight to the longest waiter (no barging).
It is re-entrant per thread, so a write opened inside another write of the same thread
meets SQLite's own lock as before instead of deadlocking here. A waiter gives up after
``timeout`` seconds and goes on without the lock (SQLite's busy timeout then applies).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class WriterLock:
    """FIFO, re-entrant, with direct hand-off to the next waiter."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiters: deque[tuple[int, threading.Lock]] = deque()

    @contextmanager
    def hold(self, timeout: float) -> Iterator[bool]:
        """Hold the lock for the block; yields whether it was acquired (False after ``timeout``)."""
        acquired = self.acquire(timeout)
        try:
            yield acquired
        finally:
            if acquired:
                self.release()

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None and not self._waiters:
                self._owner, self._depth = me, 1
                return True
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append((me, gate))
        if gate.acquire(timeout=timeout):
            return True  # the releasing thread made us the owner
        with self._mutex:
            try:
                self._waiters.remove((me, gate))
            except ValueError:
                return True  # handed to us just as we gave up: we own it
        return False

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("WriterLock released by a thread that does not hold it")
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:
                self._owner, gate = self._waiters.popleft()
                self._depth = 1
                gate.release()
            else:
                self._owner = None

    @property
    def held(self) -> bool:
        """Whether some thread holds the lock (tests, diagnostics)."""
        return self._owner is not None

    @property
    def waiting(self) -> int:
        return len(self._waiters)


_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def writer_lock(path: str) -> WriterLock:
    """The process-wide lock of the SQLite file at ``path`` (shared by every engine on it)."""
    with _locks_guard:
        return _locks.setdefault(path, WriterLock())
