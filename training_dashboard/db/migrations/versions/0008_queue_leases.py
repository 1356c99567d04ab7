"""queue leases (issue 21): the listening queue reserves the clip it served a rater for a while.

``queue_lease`` holds at most one row per rater (the clip last served and until when it is
reserved), so racing raters are not all served the clip that needs one more rating.
``ix_audio_sample_open`` (ratings, named raters) lets the queue summary count open clips
without probing the rater's ratings for clips no named rater has rated.

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
    op.create_index("ix_audio_sample_open", "audio_sample", ["rating_count", "rater_count"])


def downgrade() -> None:
    op.drop_index("ix_audio_sample_open", table_name="audio_sample")
    op.drop_index("ix_queue_lease_expires", table_name="queue_lease")
    op.drop_index("ix_queue_lease_audio", table_name="queue_lease")
    op.drop_table("queue_lease")
