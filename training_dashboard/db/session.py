"""Engine and sessions. SQLite gets WAL, a busy timeout and IMMEDIATE write transactions.

Write transactions on SQLite start with ``BEGIN IMMEDIATE`` so two writers queue on the
busy timeout instead of one failing with "database is locked" when it upgrades its lock.
Before that, the threads of one process queue in arrival order on a
:class:`~training_dashboard.db.writer_lock.WriterLock`: SQLite's busy handler is not
first-come-first-served (some writers starved for seconds under load), so it is left to
arbitrate only between processes.
SQLite's planner statistics are kept current by :class:`~training_dashboard.db.planner.PlannerStats`
(PostgreSQL's autovacuum does that by itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from training_dashboard.db.planner import PlannerStats
from training_dashboard.db.writer_lock import WriterLock, writer_lock

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000


class Database:
    """Owns the SQLAlchemy engine; hands out read and write sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.planner_stats: PlannerStats | None = None
        self.writer_lock: WriterLock | None = None
        if self.is_sqlite:
            db_path = url.split("///", 1)[-1]
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            self.writer_lock = writer_lock(str(Path(db_path).resolve()) if db_path and db_path != ":memory:"
                                           else url)
            self.engine: Engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
                pool_size=20, max_overflow=20,  # the server has 40 worker threads; avoid reconnect churn
            )
            _install_sqlite_pragmas(self.engine)
            self.planner_stats = PlannerStats(self.engine, db_path, lock=self.writer_lock)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        self._writer = self.engine.execution_options(td_write=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session (deferred transaction)."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A write session; commits on success, rolls back on error.

        On SQLite the process's writers take turns in arrival order (the writer lock, held
        until the transaction has ended and its connection is back in the pool).
        """
        if self.writer_lock is None:
            with self._session_for_write() as session:
                yield session
            return
        with self.writer_lock.hold(BUSY_TIMEOUT_MS / 1000), self._session_for_write() as session:
            yield session

    @contextmanager
    def _session_for_write(self) -> Iterator[Session]:
        with Session(self._writer, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def write(self, fn: Callable[[Session], T], attempts: int = 5) -> T:
        """Run ``fn`` in a write transaction, retrying when the database is briefly locked."""
        for attempt in range(attempts):
            try:
                with self.write_session() as session:
                    return fn(session)
            except OperationalError as exc:
                if "locked" not in str(exc).lower() and "deadlock" not in str(exc).lower():
                    raise
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def ping(self) -> bool:
        """Whether a pooled connection answers ``SELECT 1``.

        On the pool's DBAPI connection, without a SQLAlchemy ``Connection``: no transaction
        to begin and end, no events; a tenth of the cost (health is polled).
        """
        try:
            conn = self.engine.raw_connection()
            try:
                cursor = conn.cursor()
                cursor.execute("SELECT 1")
                cursor.fetchone()
                cursor.close()
            finally:
                conn.close()
            return True
        except Exception:  # noqa: BLE001 - health reports any failure as "unreachable"
            return False

    def refresh_planner_stats(self) -> None:
        """Bring SQLite's planner statistics up to date (bounded; a no-op on PostgreSQL)."""
        if self.planner_stats is not None:
            self.planner_stats.refresh()

    def dispose(self) -> None:
        if self.planner_stats is not None:
            self.planner_stats.close()
        self.engine.dispose()


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        immediate = conn.get_execution_options().get("td_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
