"""Prompt templates (issue 20): named starting points shared by the team, with ``{placeholders}``.

Names are unique ignoring case (``name_key``; a clash is 409). Each change is an audit row
in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import PromptTemplate, UserAccount, utcnow
from training_dashboard.services import audit
from training_dashboard.services.errors import Conflict, NotFound
from training_dashboard.services.principal import Principal

T = PromptTemplate


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _public(template: PromptTemplate, creator: str | None) -> schemas.TemplatePublic:
    return schemas.TemplatePublic(
        id=template.id or 0, name=template.name, text=template.text,
        attributes=schemas.PromptAttributes(style=template.style, tempo=template.tempo, mood=template.mood,
                                            instruments=list(template.instruments or [])),
        placeholders=schemas.placeholders(template.text), builtin=template.builtin, created_by=creator,
        created_at=template.created_at, updated_at=template.updated_at)


def list_templates(db: Database, page: int, limit: int) -> schemas.Page[schemas.TemplatePublic]:
    """Every template by name."""
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(T)) or 0
        rows = session.execute(select(T, UserAccount.username).outerjoin(UserAccount, UserAccount.id == T.created_by)
                               .order_by(T.name_key, T.id).offset((page - 1) * limit).limit(limit)).all()
        return schemas.Page[schemas.TemplatePublic](items=[_public(t, u) for t, u in rows], total=total)


def _attribute_values(attributes: schemas.PromptAttributes) -> dict[str, Any]:
    return {"style": attributes.style, "tempo": attributes.tempo, "mood": attributes.mood,
            "instruments": list(attributes.instruments)}


def _taken(session, key: str, but: int | None = None) -> bool:  # type: ignore[no-untyped-def]
    query = select(T.id).where(T.name_key == key)
    if but is not None:
        query = query.where(T.id != but)
    return session.scalar(query) is not None


def _conflict(name: str) -> Conflict:
    return Conflict(f"A template named {name!r} already exists (names are unique, ignoring case): pick another name")


def create_template(db: Database, actor: Principal, body: schemas.TemplateCreate,
                    client_addr: str | None = None) -> schemas.TemplatePublic:
    key = name_key(body.name)

    def run(session) -> PromptTemplate:  # type: ignore[no-untyped-def]
        if _taken(session, key):
            raise _conflict(body.name)
        template = T(name=body.name, name_key=key, text=body.text, created_by=actor.user_id or None,
                     **_attribute_values(body.attributes))
        session.add(template)
        session.flush()
        audit.record(session, actor, "template.create", f"template:{template.id}", {"name": body.name}, client_addr)
        return template

    try:
        template = db.write(run)
    except IntegrityError as exc:  # a racing create of the same name
        raise _conflict(body.name) from exc
    return _public(template, actor.username if actor.user_id else None)


def update_template(db: Database, actor: Principal, template_id: int, body: schemas.TemplatePatch,
                    client_addr: str | None = None) -> schemas.TemplatePublic:
    changes = body.model_dump(exclude_unset=True)

    def run(session) -> PromptTemplate:  # type: ignore[no-untyped-def]
        template = session.get(T, template_id)
        if template is None:
            raise NotFound(f"Template {template_id} not found")
        if changes.get("name") is not None:
            key = name_key(body.name or "")
            if _taken(session, key, but=template_id):
                raise _conflict(body.name or "")
            template.name, template.name_key = body.name, key
        if changes.get("text") is not None:
            template.text = body.text
        if changes.get("attributes") is not None and body.attributes is not None:
            for column, value in _attribute_values(body.attributes).items():
                setattr(template, column, value)
        template.updated_at = utcnow()
        session.add(template)
        session.flush()
        audit.record(session, actor, "template.update", f"template:{template_id}",
                     {"fields": sorted(k for k, v in changes.items() if v is not None)}, client_addr)
        return template

    try:
        template = db.write(run)
    except IntegrityError as exc:
        raise _conflict(body.name or "") from exc
    with db.session() as session:
        creator = session.scalar(select(UserAccount.username).where(UserAccount.id == template.created_by)) \
            if template.created_by else None
    return _public(template, creator)


def delete_template(db: Database, actor: Principal, template_id: int, client_addr: str | None = None) -> None:
    def run(session) -> None:  # type: ignore[no-untyped-def]
        template = session.get(T, template_id)
        if template is None:
            raise NotFound(f"Template {template_id} not found")
        audit.record(session, actor, "template.delete", f"template:{template_id}", {"name": template.name}, client_addr)
        session.delete(template)

    db.write(run)
