"""training runs (issue 10): runs launched from the dashboard and their per-step metrics.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("dataset_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("task", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("export_path", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("output_dir", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=False),
        sa.Column("best_eval_loss", sa.Float(), nullable=True),
        sa.Column("eta_seconds", sa.Float(), nullable=True),
        sa.Column("adapter_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("resume", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker_host", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("worker_pid", sa.Integer(), nullable=True),
        sa.Column("child_pid", sa.Integer(), nullable=True),
        sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_training_run_status_id", "training_run", ["status", "id"])
    op.create_index("ix_training_run_dataset_id", "training_run", ["dataset_id"])
    op.create_index("ix_training_run_adapter_id", "training_run", ["adapter_id"])
    op.create_table(
        "training_run_metric",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["training_run.id"]),
        sa.PrimaryKeyConstraint("run_id", "chunk"),
    )


def downgrade() -> None:
    op.drop_table("training_run_metric")
    op.drop_index("ix_training_run_adapter_id", table_name="training_run")
    op.drop_index("ix_training_run_dataset_id", table_name="training_run")
    op.drop_index("ix_training_run_status_id", table_name="training_run")
    op.drop_table("training_run")
