"""Keeps SQLite's planner statistics current as a database grows (issue 9 item 3).

SQLite's query planner only has statistics once ANALYZE has run after the rows exist. A
database that grew from empty has none, and at 1M ratings the planner then picks a much
worse index for the feedback page (114 ms instead of ~1 ms). SQLite's answer is
``PRAGMA optimize`` with ``PRAGMA analysis_limit``; but before SQLite 3.46 ``optimize`` only
looks at tables whose statistics the *same connection* has already consulted, so at
start-up (a fresh connection, Debian 12 ships 3.40) it does nothing. This module runs the
same bounded analysis explicitly:

* at start-up (:func:`training_dashboard.db.migrate.upgrade` calls :meth:`refresh`), and
* in a background thread after every ``analyze_after_rows`` inserted or deleted rows.

Every table is analysed with ``analysis_limit`` (a sample of at most that many index
entries per index): a few milliseconds per table at any size, in its own short
transaction (taken in turn with the app's writers: the writer lock), so a writer waits at
most that long. A connection keeps the statistics it
loaded when it opened, so after an analysis the pooled connections are replaced, one by
one, the next time they are checked out.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import nullcontext

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from training_dashboard.db.writer_lock import WriterLock

log = logging.getLogger(__name__)

ANALYSIS_LIMIT = 1000  # index entries sampled per index (SQLite suggests 100..1000 for optimize)
ANALYZE_AFTER_ROWS = 10_000  # inserted + deleted rows between two background analyses
LOCK_WAIT_S = 5.0  # how long the analysis waits for a writer before trying again later


class PlannerStats:
    """Bounded ANALYZE of a SQLite database: at start-up and after large write volumes."""

    def __init__(self, engine: Engine, path: str, *, analyze_after_rows: int = ANALYZE_AFTER_ROWS,
                 lock: WriterLock | None = None) -> None:
        self.path = path
        self.writer_lock = lock
        self.analyze_after_rows = analyze_after_rows
        self.generation = 0  # bumped after each analysis; older connections are replaced
        self._written = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        event.listen(engine, "after_cursor_execute", self._count_writes)
        event.listen(engine, "connect", self._stamp)
        event.listen(engine, "checkout", self._replace_if_stale)

    def refresh(self) -> list[str]:
        """Analyse every table now (bounded by ``analysis_limit``); returns the tables analysed.

        Stops early, without raising, when a writer holds the database longer than
        ``LOCK_WAIT_S`` (the next write volume tries again).
        """
        if not self.path or self.path == ":memory:":
            return []
        done: list[str] = []
        conn = sqlite3.connect(self.path, timeout=LOCK_WAIT_S, isolation_level=None)
        try:
            conn.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            for table in tables:  # one short write transaction per table, in turn with the writers
                with self.writer_lock.hold(LOCK_WAIT_S) if self.writer_lock else nullcontext():
                    conn.execute(f'ANALYZE "{table}"')
                done.append(table)
        except sqlite3.OperationalError as exc:
            log.info("planner statistics: stopped after %d tables (%s); retrying after more writes", len(done), exc)
        finally:
            conn.close()
        if done:
            with self._lock:
                self.generation += 1
        return done

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for a running background analysis (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        self._closed = True
        self.wait()

    def _count_writes(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if context is None or not (context.isinsert or context.isdelete) or cursor.rowcount <= 0:
            return
        with self._lock:
            self._written += cursor.rowcount
            if self._written < self.analyze_after_rows or self._closed:
                return
            if self._thread is not None and self._thread.is_alive():
                return
            self._written = 0
            self._thread = threading.Thread(target=self.refresh, name="td-planner-stats", daemon=True)
            self._thread.start()

    def _stamp(self, dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        record.info["td_stats_generation"] = self.generation

    def _replace_if_stale(self, dbapi_conn, record, proxy) -> None:  # type: ignore[no-untyped-def]
        if record.info.get("td_stats_generation", self.generation) < self.generation:
            raise DisconnectionError("planner statistics changed; reconnecting to load them")
