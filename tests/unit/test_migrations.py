from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import training_dashboard.db.models  # noqa: F401 - registers the tables
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade


def test_migrations_produce_exactly_the_models_schema(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(db)
    upgrade(db)  # idempotent: a second start-up changes nothing
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    db.dispose()
