"""listening (issue 19): what was heard before each judgement, the listen gate's import flag,
reasons, and each rater's listening figures.

``listening`` holds one row per clip per judgement (kind rating / preference / vote); the
judgement rows get ``decision_ms`` and ``heard_fraction`` (the least share heard of their
clips), so dataset filters and verdicts read one column. ``rater_listening`` and
``heard_count`` are the quality report's running figures; existing judgements count as
judgements without listening data (none was recorded before). Every added column on an
existing table is nullable or has a server default, so on SQLite each is one ``ADD COLUMN``.

Revision ID: 0010_listening
Revises: 0009
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010_listening"
down_revision = "0009"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "listening",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _STR(length=12), nullable=False),
        sa.Column("judgement_id", sa.Integer(), nullable=False),
        sa.Column("audio_id", sa.Integer(), nullable=False),
        sa.Column("slot", _STR(length=8), nullable=True),
        sa.Column("heard_s", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("plays", sa.Integer(), nullable=False),
        sa.Column("seeks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_listening_judgement", "listening", ["kind", "judgement_id"])
    op.create_table(
        "rater_listening",
        sa.Column("rater_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("judgements", sa.Integer(), nullable=False),
        sa.Column("listened", sa.Integer(), nullable=False),
        sa.Column("attentive", sa.Integer(), nullable=False),
        sa.Column("timed", sa.Integer(), nullable=False),
        sa.Column("fast", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("rater_id"),
    )
    op.create_table(
        "heard_count",
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("rater_id", "percent"),
    )
    for table in ("rating", "preference", "evaluation_vote"):
        op.add_column(table, sa.Column("decision_ms", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("heard_fraction", sa.Float(), nullable=True))
    op.add_column("rating", sa.Column("imported", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("preference", sa.Column("reason", sa.Text(), nullable=True))
    op.add_column("evaluation_vote", sa.Column("reason", sa.Text(), nullable=True))
    # Every judgement so far came without listening data.
    op.execute(
        "INSERT INTO rater_listening (rater_id, judgements, listened, attentive, timed, fast) "
        "SELECT r.id, (SELECT count(*) FROM rating WHERE rating.rater_id = r.id) "
        "+ (SELECT count(*) FROM preference WHERE preference.rater_id = r.id AND preference.evaluation_id IS NULL) "
        "+ (SELECT count(*) FROM evaluation_vote WHERE evaluation_vote.rater_id = r.id "
        "AND evaluation_vote.choice IS NOT NULL), 0, 0, 0, 0 FROM rater r"
    )
    op.execute("DELETE FROM rater_listening WHERE judgements = 0")


def downgrade() -> None:
    for table, columns in (("evaluation_vote", ("reason", "heard_fraction", "decision_ms")),
                           ("preference", ("reason", "heard_fraction", "decision_ms")),
                           ("rating", ("imported", "heard_fraction", "decision_ms"))):
        with op.batch_alter_table(table) as batch:  # SQLite before 3.35 cannot drop a column in place
            for column in columns:
                batch.drop_column(column)
    op.drop_table("heard_count")
    op.drop_table("rater_listening")
    op.drop_index("ix_listening_judgement", table_name="listening")
    op.drop_table("listening")
