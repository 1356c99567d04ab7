"""read paths (issue 21): an index for previews by adapter and date, and each rater's count
of distinct clips rated.

``ix_rating_adapter_created`` (adapter_id, created_at, rating, id) lets a dataset filter on an
adapter and a date range (and a rating range) read exactly its rating ids from one covering
index range (the id is implicit in SQLite's indexes, not in PostgreSQL's): the combined
preview at 1M ratings drove from its tag's 75k ratings (SQLite) or visited 10k heap pages of
one adapter's ratings (PostgreSQL) instead.

``rater.clip_count`` (distinct clips a rater has rated) is kept in each rating's transaction
like the rater's other totals, so ``GET /api/audio?not_rated_by=`` subtracts a number instead
of counting the rater's ratings (62k index entries for a busy rater at 1M ratings).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_rating_adapter_created", "rating", ["adapter_id", "created_at", "rating", "id"])
    op.add_column("rater", sa.Column("clip_count", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE rater SET clip_count = (SELECT count(DISTINCT rating.audio_id) FROM rating "
               "WHERE rating.rater_id = rater.id)")


def downgrade() -> None:
    with op.batch_alter_table("rater") as batch:  # SQLite before 3.35 cannot drop a column in place
        batch.drop_column("clip_count")
    op.drop_index("ix_rating_adapter_created", table_name="rating")
