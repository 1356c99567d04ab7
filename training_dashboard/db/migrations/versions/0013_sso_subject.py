"""single sign-on binds a user to the provider's subject, not to a username.

``user_account.sso_subject`` holds ``<issuer>|<sub>`` of the identity that first signed the
user in (OpenID Connect says only the issuer and ``sub`` together name a person; a
``preferred_username`` may be chosen, changed or reused). Existing single sign-on users are
bound at their next sign-in. Nullable, so on SQLite one ``ADD COLUMN``.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("user_account", sa.Column("sso_subject", sqlmodel.sql.sqltypes.AutoString(length=600),
                                            nullable=True))
    op.create_index("ix_user_account_sso_subject", "user_account", ["sso_subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_user_account_sso_subject", table_name="user_account")
    op.drop_column("user_account", "sso_subject")
