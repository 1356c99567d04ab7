"""ids are never reused: AUTOINCREMENT on every SQLite table with an integer id (issue 9).

Without AUTOINCREMENT SQLite gives the next row max(rowid) + 1, so deleting the newest row
hands its id to the next insert. Each table is rebuilt (batch "recreate": copy, drop,
rename, re-index) with ``sqlite_autoincrement``; its rows and ids are kept, and
``sqlite_sequence`` is seeded with the highest id the table has or that other rows still
refer to: a deleted adapter's id lives on in the feedback of its clips (adapter ids are
plain integers there, no foreign key), so a new adapter must not inherit that feedback.
PostgreSQL sequences never hand out an id twice: nothing to do there.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Parents before children does not matter (foreign keys are off while migrating, see
# db/migrate.py), but the big tables last keeps a failure early and cheap.
TABLES = ("dataset", "adapter", "dataset_export", "prompt", "generation_job", "audio_sample", "preference", "rating")

# Integer columns that refer to a table's id without a foreign key (the referenced row may
# be gone): the sequence starts above them too.
REFERENCES = {
    "adapter": (("audio_sample", "adapter_id"), ("rating", "adapter_id"), ("generation_job", "adapter_id"),
                ("preference", "chosen_adapter_id"), ("preference", "rejected_adapter_id")),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(autoincrement=True)
    conn = op.get_bind()
    for table in TABLES:
        floor = conn.scalar(sa.text(f'SELECT MAX(id) FROM "{table}"')) or 0
        for ref_table, column in REFERENCES.get(table, ()):
            floor = max(floor, conn.scalar(sa.text(f'SELECT MAX("{column}") FROM "{ref_table}"')) or 0)
        seq = conn.scalar(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table})
        if seq is None and floor:
            conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :n)"), {"t": table, "n": floor})
        elif seq is not None and seq < floor:
            conn.execute(sa.text("UPDATE sqlite_sequence SET seq = :n WHERE name = :t"), {"t": table, "n": floor})


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    # A large page cache keeps the copy and the index builds in memory (1M ratings: the
    # sorter spills to temp files with the default 2 MB); restored afterwards.
    conn = op.get_bind()
    cache = conn.scalar(sa.text("PRAGMA cache_size"))
    conn.execute(sa.text("PRAGMA cache_size=-262144"))
    try:
        for table in TABLES:
            with op.batch_alter_table(table, recreate="always",
                                      table_kwargs={"sqlite_autoincrement": autoincrement}):
                pass
    finally:
        conn.execute(sa.text(f"PRAGMA cache_size={int(cache)}"))
