"""Apply Alembic migrations at start-up, so schema changes never lose a user's data."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from training_dashboard.db.session import BUSY_TIMEOUT_MS, Database

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_WAIT_MS = 600_000


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (the newest by default), then refresh planner statistics.

    On SQLite the migrations run with foreign keys off (a table rebuild drops and re-creates
    a parent table; with them on, the drop would first delete every row and check each
    child) and in a ``BEGIN IMMEDIATE`` transaction, so an app and a worker starting
    together queue on the busy timeout instead of both migrating. Statistics are refreshed
    at every start-up: a database that grew while the app was off (or a table a migration
    rebuilt) has none, and SQLite's planner then picks poor indexes.
    """
    cfg = alembic_config(db.url)
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection if db.is_sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # only takes effect outside a transaction: first
            # Another process may be migrating right now: 0003 rebuilds every table (~10 s of
            # CPU at 1M ratings, longer on a busy machine); wait for it, not 30 s.
            raw.execute(f"PRAGMA busy_timeout={MIGRATION_LOCK_WAIT_MS}")
            connection = connection.execution_options(td_write=True)
        try:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
        finally:
            if raw is not None:
                if connection.in_transaction():
                    connection.rollback()
                raw.execute("PRAGMA foreign_keys=ON")
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.refresh_planner_stats()
