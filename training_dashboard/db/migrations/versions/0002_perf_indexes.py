"""perf indexes from the benchmark (issue 6): newest-first feedback pages per adapter,
covering indexes for adapter win/loss counts, and planner statistics.


Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # GET /api/feedback?adapter_id=..&min_rating=.. ORDER BY id DESC LIMIT 50: walk one
    # adapter's ratings newest first instead of sorting all of them (68 ms -> 0.2 ms at 1M).
    op.create_index("ix_rating_adapter_id", "rating", ["adapter_id", "id"])
    # GET /api/adapters/{id}: wins and losses counted from covering indexes (27 / 37 ms ->
    # ~1.3 ms each at 200k preferences); losses previously scanned the whole table.
    op.drop_index("ix_preference_adapters", table_name="preference")
    op.create_index("ix_preference_adapters", "preference", ["chosen_adapter_id", "rejected_adapter_id", "tie"])
    op.create_index("ix_preference_rejected_adapter", "preference",
                    ["rejected_adapter_id", "chosen_adapter_id", "tie"])
    # SQLite has no statistics until ANALYZE runs; without them it sorts instead of using
    # ix_rating_adapter_id. PostgreSQL's autovacuum analyzes by itself; this is harmless there.
    op.execute("ANALYZE")


def downgrade() -> None:
    op.drop_index("ix_preference_rejected_adapter", table_name="preference")
    op.drop_index("ix_preference_adapters", table_name="preference")
    op.create_index("ix_preference_adapters", "preference", ["chosen_adapter_id", "rejected_adapter_id"])
    op.drop_index("ix_rating_adapter_id", table_name="rating")
