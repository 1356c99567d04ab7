"""What every table module shares."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC timestamp (SQLModel stores UTC on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC)
