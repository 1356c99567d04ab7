"""The audit log (admin): read-only; nothing updates or deletes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from training_dashboard import schemas
from training_dashboard.api.deps import AS_ADMIN, DbDep, LimitQ, PageQ
from training_dashboard.services import audit

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=AS_ADMIN)


@router.get("", response_model=schemas.Page[schemas.AuditEventPublic])
def read_audit(db: DbDep, page: PageQ = 1, limit: LimitQ = 50,
               actor: Annotated[str | None, Query(max_length=64, description="a username or user id")] = None,
               action: Annotated[str | None, Query(max_length=32,
                                                   description="exact, or a prefix ending in '.' (login.)")] = None,
               since: datetime | None = None, until: datetime | None = None) -> schemas.Page[schemas.AuditEventPublic]:
    """Audit events newest first, by actor, action and time."""
    return audit.list_events(db, actor=actor, action=action, since=since, until=until, page=page, limit=limit)
