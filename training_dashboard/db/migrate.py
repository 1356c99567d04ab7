"""Apply Alembic migrations at start-up, so schema changes never lose a user's data."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from training_dashboard.db.session import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(db: Database) -> None:
    """Bring the database schema to the newest revision."""
    cfg = alembic_config(db.url)
    with db.engine.connect() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
