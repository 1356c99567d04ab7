"""accounts (issue 18): users, sign-in sessions, personal access tokens, setup links, the audit log,
and who created / activated / forced what.

Every existing rater becomes a user without a password, role ``rater``, username derived from
the rater's name (lower-case ``[a-z0-9._-]``, made unique with ``-2``, ``-3`` …) and the name
kept as display name: their ratings, preferences and votes keep pointing at the same rater row,
so nothing is re-attributed. An admin sets their password (or they sign in by single sign-on).
The ``*_by`` columns are nullable plain integers (one ``ADD COLUMN`` each; NULL for rows made
before accounts).

Revision ID: 0010
Revises: 0009
"""

import re
import unicodedata

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TS = sqlmodel.sql.sqltypes.UTCDateTime
_STR = sqlmodel.sql.sqltypes.AutoString


def _username(name, taken):  # the same rule as services.accounts.username_for
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9._-]+", "-", ascii_name).strip("-.")[:56] or "rater"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", _STR(length=64), nullable=False),
        sa.Column("display_name", _STR(length=100), nullable=False),
        sa.Column("role", _STR(length=16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("password_hash", _STR(length=255), nullable=True),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS(), nullable=False),
        sa.Column("last_login_at", _TS(), nullable=True),
        sa.ForeignKeyConstraint(["rater_id"], ["rater.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
        sa.UniqueConstraint("rater_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "auth_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", _STR(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS(), nullable=False),
        sa.Column("last_seen_at", _TS(), nullable=False),
        sa.Column("expires_at", _TS(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_auth_session_user_id", "auth_session", ["user_id"])
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", _STR(length=100), nullable=False),
        sa.Column("secret_hash", _STR(length=64), nullable=False),
        sa.Column("prefix", _STR(length=16), nullable=False),
        sa.Column("created_at", _TS(), nullable=False),
        sa.Column("expires_at", _TS(), nullable=True),
        sa.Column("last_used_at", _TS(), nullable=True),
        sa.Column("revoked_at", _TS(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_api_token_user_id", "api_token", ["user_id"])
    op.create_table(
        "setup_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", _STR(length=64), nullable=False),
        sa.Column("created_at", _TS(), nullable=False),
        sa.Column("expires_at", _TS(), nullable=False),
        sa.Column("used_at", _TS(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _TS(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", _STR(length=64), nullable=True),
        sa.Column("action", _STR(length=32), nullable=False),
        sa.Column("target", _STR(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("client_addr", _STR(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_index("ix_audit_event_actor_at", "audit_event", ["actor_id", "at"])
    op.create_index("ix_audit_event_action_at", "audit_event", ["action", "at"])
    for table in ("dataset", "training_run", "evaluation"):
        op.add_column(table, sa.Column("created_by", sa.Integer(), nullable=True))
    for column in ("created_by", "activated_by", "forced_by"):
        op.add_column("adapter", sa.Column(column, sa.Integer(), nullable=True))

    bind = op.get_bind()
    users = sa.table("user_account", sa.column("username"), sa.column("display_name"), sa.column("role"),
                     sa.column("disabled", sa.Boolean()), sa.column("rater_id"), sa.column("created_at", _TS()))
    raters = sa.table("rater", sa.column("id"), sa.column("name"), sa.column("created_at", _TS()))
    taken: set[str] = set()
    rows = [{"username": _username(name, taken), "display_name": name, "role": "rater", "disabled": False,
             "rater_id": rater_id, "created_at": created_at}
            for rater_id, name, created_at in bind.execute(
                sa.select(raters.c.id, raters.c.name, raters.c.created_at).order_by(raters.c.id))]
    if rows:
        op.bulk_insert(users, rows)


def downgrade() -> None:
    for column in ("forced_by", "activated_by", "created_by"):
        with op.batch_alter_table("adapter") as batch:
            batch.drop_column(column)
    for table in ("evaluation", "training_run", "dataset"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("created_by")
    op.drop_table("audit_event")
    op.drop_table("setup_link")
    op.drop_table("api_token")
    op.drop_table("auth_session")
    op.drop_table("user_account")
