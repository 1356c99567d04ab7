"""password sign-ins in flight count against the guessing limit (``login_attempt``).

The limit (5 failures a username, 20 an address, in 15 minutes) counted ``login.failed`` audit
rows, written after the password check (~0.1 s of Argon2): guesses sent at once all passed
the count before the first failure landed. Each attempt now takes a row here first, in a
short serialised transaction that counts failures and attempts together; the row goes with
the attempt's outcome.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", _STR(length=64), nullable=False),
        sa.Column("client_addr", _STR(length=64), nullable=True),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_login_attempt_username", "login_attempt", ["username"])
    op.create_index("ix_login_attempt_client_addr", "login_attempt", ["client_addr"])


def downgrade() -> None:
    op.drop_index("ix_login_attempt_client_addr", table_name="login_attempt")
    op.drop_index("ix_login_attempt_username", table_name="login_attempt")
    op.drop_table("login_attempt")
