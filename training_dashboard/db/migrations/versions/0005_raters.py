"""raters (issue 11): who rated what, the listening queue, coverage counts.

Adds the ``rater`` table (with running agreement figures), ``rater_id`` on ratings and
preferences (plain indexed integers, NULL for feedback given before raters existed),
``audio_sample.rater_count`` (distinct named raters per clip), ``coincidence_count``
(Krippendorff coincidences; empty, as no rating had a rater before) and ``coverage_count``
(ratings per style / mood / tag / adapter and star), back-filled from the existing ratings. Every added column is nullable or has a
default, so on SQLite each is one ``ADD COLUMN`` (no table rebuild at a million rows).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _bucket(value):  # the same rule as services.coverage.bucket
    value = (value or "").strip().lower()[:200]
    return value or None


def upgrade() -> None:
    op.create_table(
        "rater",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rating_sum", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("preference_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("shared_clips", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pair_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pair_distance", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("prefs_checked", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("contradictions", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("triads", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "coverage_count",
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", "rating"),
    )
    op.create_table(
        "coincidence_count",
        sa.Column("m", sa.Integer(), nullable=False),
        sa.Column("c", sa.Integer(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("m", "c", "k"),
    )
    op.add_column("rating", sa.Column("rater_id", sa.Integer(), nullable=True))
    op.add_column("preference", sa.Column("rater_id", sa.Integer(), nullable=True))
    op.add_column("audio_sample", sa.Column("rater_count", sa.Integer(), nullable=False, server_default="0"))
    # The queue walks clips fewest ratings first, oldest first; quality and min_raters read
    # clips with several raters; per-rater lookups (has this rater rated the clip? today's
    # count) use the rater indexes.
    op.create_index("ix_audio_sample_rating_count_id", "audio_sample", ["rating_count", "id"])
    op.create_index("ix_audio_sample_rater_count", "audio_sample", ["rater_count"])
    op.create_index("ix_rating_rater_audio", "rating", ["rater_id", "audio_id"])
    op.create_index("ix_rating_rater_created", "rating", ["rater_id", "created_at"])
    op.create_index("ix_preference_rater_prompt", "preference", ["rater_id", "prompt_id"])
    _backfill_coverage()
    op.execute("ANALYZE")


def _backfill_coverage() -> None:
    conn = op.get_bind()
    counts: dict[tuple[str, str, int], int] = {}

    def add(kind, value, rating, n):  # type: ignore[no-untyped-def]
        if value is not None:
            key = (kind, value, int(rating))
            counts[key] = counts.get(key, 0) + int(n)

    for style, mood, rating, n in conn.execute(sa.text(
        "SELECT p.style, p.mood, r.rating, count(*) FROM rating r JOIN prompt p ON p.id = r.prompt_id "
        "GROUP BY p.style, p.mood, r.rating"
    )):
        add("style", _bucket(style), rating, n)
        add("mood", _bucket(mood), rating, n)
    for adapter_id, rating, n in conn.execute(sa.text(
        "SELECT adapter_id, rating, count(*) FROM rating GROUP BY adapter_id, rating"
    )):
        add("adapter", "base" if adapter_id is None else str(adapter_id), rating, n)
    for tag, rating, n in conn.execute(sa.text(
        "SELECT t.tag, r.rating, count(*) FROM rating_tag t JOIN rating r ON r.id = t.rating_id "
        "GROUP BY t.tag, r.rating"
    )):
        add("tag", tag, rating, n)
    if counts:
        table = sa.table("coverage_count", sa.column("kind"), sa.column("value"), sa.column("rating"),
                         sa.column("count"))
        op.bulk_insert(table, [{"kind": k, "value": v, "rating": r, "count": n} for (k, v, r), n in counts.items()])


def downgrade() -> None:
    op.drop_index("ix_preference_rater_prompt", table_name="preference")
    op.drop_index("ix_rating_rater_created", table_name="rating")
    op.drop_index("ix_rating_rater_audio", table_name="rating")
    op.drop_index("ix_audio_sample_rater_count", table_name="audio_sample")
    op.drop_index("ix_audio_sample_rating_count_id", table_name="audio_sample")
    with op.batch_alter_table("audio_sample") as batch:
        batch.drop_column("rater_count")
    with op.batch_alter_table("preference") as batch:
        batch.drop_column("rater_id")
    with op.batch_alter_table("rating") as batch:
        batch.drop_column("rater_id")
    op.drop_table("coincidence_count")
    op.drop_table("coverage_count")
    op.drop_table("rater")
