"""The append-only audit log: who did what, when, from where. Rows are inserted in the same
transaction as what they record, and nothing updates or deletes them.

Failed sign-ins are audit rows too (``login.failed``, target ``user:<name>``), so the guessing
limit counts them from the one table every backend process shares.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import AuditEvent, utcnow
from training_dashboard.services.principal import Principal


def record(session: Session, actor: Principal | None, action: str, target: str | None = None,
           detail: dict[str, Any] | str | None = None, client_addr: str | None = None,
           actor_name: str | None = None) -> None:
    """Add one audit row in ``session`` (the caller's transaction)."""
    text = detail if isinstance(detail, str) or detail is None else json.dumps(detail, default=str)
    session.add(AuditEvent(actor_id=actor.user_id if actor else None,
                           actor_name=(actor.username if actor else actor_name),
                           action=action, target=(target or None) and target[:200], detail=text,
                           client_addr=(client_addr or None) and client_addr[:64]))


def write(db: Database, actor: Principal | None, action: str, target: str | None = None,
          detail: dict[str, Any] | str | None = None, client_addr: str | None = None,
          actor_name: str | None = None) -> None:
    """One audit row in a transaction of its own."""
    db.write(lambda session: record(session, actor, action, target, detail, client_addr, actor_name))


def failures_since(session: Session, since: datetime, *, username: str | None = None,
                   client_addr: str | None = None) -> list[datetime]:
    """Times of failed sign-ins since ``since`` for one username or one client address, newest first (100 at most)."""
    query = select(AuditEvent.at).where(AuditEvent.action == "login.failed", AuditEvent.at >= since)
    if username is not None:
        query = query.where(AuditEvent.target == f"user:{username}")
    if client_addr is not None:
        query = query.where(AuditEvent.client_addr == client_addr)
    return list(session.scalars(query.order_by(AuditEvent.at.desc()).limit(100)))  # type: ignore[attr-defined]


def audit_public(event: AuditEvent) -> schemas.AuditEventPublic:
    return schemas.AuditEventPublic.model_validate(event, from_attributes=True)


def list_events(db: Database, *, actor: str | None = None, action: str | None = None,
                since: datetime | None = None, until: datetime | None = None, page: int = 1,
                limit: int = 50) -> schemas.Page[schemas.AuditEventPublic]:
    """Audit rows newest first; ``actor`` a username (or a user id), ``action`` exact or a prefix ending in '.'."""
    query = select(AuditEvent)
    if actor:
        actor_id = schemas.parse_int(actor.strip())
        query = query.where(AuditEvent.actor_id == actor_id) if actor_id is not None \
            else query.where(AuditEvent.actor_name == actor.strip().lower())
    if action:
        query = query.where(AuditEvent.action.startswith(action)) if action.endswith(".") \
            else query.where(AuditEvent.action == action)  # type: ignore[attr-defined]
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())  # type: ignore[union-attr]
                               .offset((page - 1) * limit).limit(limit))
        return schemas.Page(items=[audit_public(r) for r in rows], total=total)


def window_start(minutes: float) -> datetime:
    return utcnow() - timedelta(minutes=minutes)
