"""evaluations (issue 12): blind adapter evaluations, their pairs and votes; the evaluation
a preference came from; a forced activation's reason on the adapter.

Every added column on an existing table is nullable, so on SQLite each is one ``ADD COLUMN``.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sqlmodel.sql.sqltypes.UTCDateTime
_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("baseline_id", sa.Integer(), nullable=True),
        sa.Column("status", _STR(length=16), nullable=False),
        sa.Column("pairs_total", sa.Integer(), nullable=False),
        sa.Column("pairs_ready", sa.Integer(), nullable=False),
        sa.Column("pairs_failed", sa.Integer(), nullable=False),
        sa.Column("votes_per_pair", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("candidate_wins", sa.Integer(), nullable=False),
        sa.Column("baseline_wins", sa.Integer(), nullable=False),
        sa.Column("ties", sa.Integer(), nullable=False),
        sa.Column("first_wins", sa.Integer(), nullable=False),
        sa.Column("verdict", _STR(length=16), nullable=True),
        sa.Column("win_rate", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("created_at", _TS(), nullable=False),
        sa.Column("updated_at", _TS(), nullable=False),
        sa.Column("finished_at", _TS(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_evaluation_candidate", "evaluation", ["candidate_id", "baseline_id", "status", "id"])
    op.create_index("ix_evaluation_baseline", "evaluation", ["baseline_id"])
    op.create_index("ix_evaluation_status", "evaluation", ["status", "id"])
    op.create_table(
        "evaluation_pair",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("candidate_job_id", sa.Integer(), nullable=False),
        sa.Column("baseline_job_id", sa.Integer(), nullable=False),
        sa.Column("candidate_audio_id", sa.Integer(), nullable=True),
        sa.Column("baseline_audio_id", sa.Integer(), nullable=True),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluation.id"]),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"]),
        sa.ForeignKeyConstraint(["candidate_job_id"], ["generation_job.id"]),
        sa.ForeignKeyConstraint(["baseline_job_id"], ["generation_job.id"]),
        sa.ForeignKeyConstraint(["candidate_audio_id"], ["audio_sample.id"]),
        sa.ForeignKeyConstraint(["baseline_audio_id"], ["audio_sample.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("evaluation_id", "position"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_evaluation_pair_ready", "evaluation_pair", ["evaluation_id", "ready"])
    op.create_index("ix_evaluation_pair_candidate_job_id", "evaluation_pair", ["candidate_job_id"])
    op.create_index("ix_evaluation_pair_baseline_job_id", "evaluation_pair", ["baseline_job_id"])
    op.create_table(
        "evaluation_vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("candidate_first", sa.Boolean(), nullable=False),
        sa.Column("choice", _STR(length=8), nullable=True),
        sa.Column("winner", _STR(length=16), nullable=True),
        sa.Column("preference_id", sa.Integer(), nullable=True),
        sa.Column("served_at", _TS(), nullable=False),
        sa.Column("voted_at", _TS(), nullable=True),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluation.id"]),
        sa.ForeignKeyConstraint(["pair_id"], ["evaluation_pair.id"]),
        sa.ForeignKeyConstraint(["rater_id"], ["rater.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pair_id", "rater_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_evaluation_vote_rater", "evaluation_vote", ["evaluation_id", "rater_id"])
    op.add_column("preference", sa.Column("evaluation_id", sa.Integer(), nullable=True))
    op.create_index("ix_preference_evaluation_id", "preference", ["evaluation_id"])
    op.add_column("adapter", sa.Column("forced_activation_reason", sa.Text(), nullable=True))
    op.add_column("adapter", sa.Column("forced_activation_at", _TS(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("adapter") as batch:
        batch.drop_column("forced_activation_at")
        batch.drop_column("forced_activation_reason")
    op.drop_index("ix_preference_evaluation_id", table_name="preference")
    with op.batch_alter_table("preference") as batch:
        batch.drop_column("evaluation_id")
    op.drop_index("ix_evaluation_vote_rater", table_name="evaluation_vote")
    op.drop_table("evaluation_vote")
    op.drop_index("ix_evaluation_pair_baseline_job_id", table_name="evaluation_pair")
    op.drop_index("ix_evaluation_pair_candidate_job_id", table_name="evaluation_pair")
    op.drop_index("ix_evaluation_pair_ready", table_name="evaluation_pair")
    op.drop_table("evaluation_pair")
    op.drop_index("ix_evaluation_status", table_name="evaluation")
    op.drop_index("ix_evaluation_baseline", table_name="evaluation")
    op.drop_index("ix_evaluation_candidate", table_name="evaluation")
    op.drop_table("evaluation")
