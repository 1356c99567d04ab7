"""queue leases (issue 21): the listening queue reserves the clip it served a rater for a while.

``queue_lease`` holds at most one row per rater (the clip last served and until when it is
reserved), so racing raters are not all served the clip that needs one more rating.
``queue_rated`` counts, per rater, the clips they rated by the clips' current number of
ratings, so the queue summary no longer probes the rater's ratings once per open clip.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sqlmodel.sql.sqltypes.UTCDateTime
BACKFILL = (
    "INSERT INTO queue_rated (rater_id, rating_count, clips) "
    "SELECT r.rater_id, s.rating_count, count(DISTINCT r.audio_id) FROM rating r "
    "JOIN audio_sample s ON s.id = r.audio_id WHERE r.rater_id IS NOT NULL AND s.rating_count < 100 "
    "GROUP BY r.rater_id, s.rating_count"
)


def upgrade() -> None:
    op.create_table(
        "queue_lease",
        sa.Column("rater_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("audio_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", _TS(), nullable=False),
        sa.PrimaryKeyConstraint("rater_id"),
    )
    op.create_index("ix_queue_lease_audio", "queue_lease", ["audio_id", "expires_at"])
    op.create_index("ix_queue_lease_expires", "queue_lease", ["expires_at"])
    op.create_table(
        "queue_rated",
        sa.Column("rater_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rating_count", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("clips", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("rater_id", "rating_count"),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table("queue_rated")
    op.drop_index("ix_queue_lease_expires", table_name="queue_lease")
    op.drop_index("ix_queue_lease_audio", table_name="queue_lease")
    op.drop_table("queue_lease")
