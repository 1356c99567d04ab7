"""scale-out (issue 13): generation jobs and training runs handed to Celery workers.

Jobs gain the dispatch/lease columns (sent to the broker, current claim, holder, last heard
of, first seed); runs the dispatch time and the last uploaded checkpoint; ``worker_node``
holds each worker process as it last reported itself.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sqlmodel.sql.sqltypes.UTCDateTime
_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.add_column("generation_job", sa.Column("dispatched_at", _TS(), nullable=True))
    op.add_column("generation_job", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("generation_job", sa.Column("worker_name", _STR(length=255), nullable=True))
    op.add_column("generation_job", sa.Column("heartbeat_at", _TS(), nullable=True))
    op.add_column("generation_job", sa.Column("seed_start", sa.BigInteger(), nullable=True))
    op.add_column("training_run", sa.Column("dispatched_at", _TS(), nullable=True))
    op.add_column("training_run", sa.Column("checkpoint_step", sa.Integer(), nullable=True))
    op.create_table(
        "worker_node",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _STR(length=255), nullable=False),
        sa.Column("queues", _STR(length=255), nullable=False),
        sa.Column("base_model", _STR(length=1000), nullable=False),
        sa.Column("device", _STR(length=64), nullable=True),
        sa.Column("model_status", _STR(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("current", _STR(length=255), nullable=True),
        sa.Column("started_at", _TS(), nullable=False),
        sa.Column("last_seen_at", _TS(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("worker_node")
    with op.batch_alter_table("training_run") as batch:
        batch.drop_column("checkpoint_step")
        batch.drop_column("dispatched_at")
    with op.batch_alter_table("generation_job") as batch:
        for column in ("seed_start", "heartbeat_at", "worker_name", "attempts", "dispatched_at"):
            batch.drop_column(column)
