"""Storage: SQLModel tables, the engine/session factory and Alembic migrations."""

from training_dashboard.db.session import Database

__all__ = ["Database"]
