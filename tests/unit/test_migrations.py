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
        # prompt_fts and its shadow tables are SQLite's full-text index (migration 0012), not models
        context = MigrationContext.configure(conn, opts={"include_name": lambda name, kind, _: not (
            kind == "table" and name.startswith("prompt_fts"))})
        assert compare_metadata(context, SQLModel.metadata) == []
    db.dispose()


def test_existing_raters_become_passwordless_users_of_their_own_rater_row(tmp_path):
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(db, "0009")
    zeros = "0, 0, 0, 0, 0, 0, 0, 0, 0, 0"
    with db.engine.begin() as conn:
        for name in ("José Ana", "jose ana", "!!"):
            conn.execute(text("INSERT INTO rater (name, rating_count, rating_sum, preference_count, shared_clips, "
                              "pair_count, pair_distance, prefs_checked, contradictions, triads, clip_count, "
                              f"created_at) VALUES (:name, {zeros}, '2025-01-01 00:00:00.000000')"), {"name": name})
    upgrade(db)
    with db.engine.connect() as conn:
        users = conn.execute(text("SELECT username, display_name, role, password_hash, rater_id FROM user_account "
                                  "ORDER BY rater_id")).all()
    assert [tuple(u) for u in users] == [("jose-ana", "José Ana", "rater", None, 1),
                                         ("jose-ana-2", "jose ana", "rater", None, 2),
                                         ("rater", "!!", "rater", None, 3)]
    db.dispose()
