"""Prompt templates: everyone signed in lists and applies them; trainers create, edit and delete."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request, Response

from training_dashboard import schemas
from training_dashboard.api.deps import AS_RATER, DbDep, LimitQ, PageQ, TrainerDep, client_addr
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import templates

router = APIRouter(prefix="/templates", tags=["templates"], dependencies=AS_RATER)
IdPath = Path(ge=1, le=MAX_ID)


@router.get("", response_model=schemas.Page[schemas.TemplatePublic])
def read_templates(db: DbDep, page: PageQ = 1, limit: LimitQ = 200) -> schemas.Page[schemas.TemplatePublic]:
    """Every template, by name."""
    return templates.list_templates(db, page, limit)


@router.post("", status_code=201, response_model=schemas.TemplatePublic)
def create_template(body: schemas.TemplateCreate, request: Request, db: DbDep,
                    principal: TrainerDep) -> schemas.TemplatePublic:
    """Save a named template (409 when the name is taken, ignoring case; 422 for a bad ``{placeholder}``)."""
    return templates.create_template(db, principal, body, client_addr(request))


@router.patch("/{template_id}", response_model=schemas.TemplatePublic)
def update_template(body: schemas.TemplatePatch, request: Request, db: DbDep, principal: TrainerDep,
                    template_id: int = IdPath) -> schemas.TemplatePublic:
    """Rename a template or change its text or attributes (only the fields sent)."""
    return templates.update_template(db, principal, template_id, body, client_addr(request))


@router.delete("/{template_id}", status_code=204)
def delete_template(request: Request, db: DbDep, principal: TrainerDep, template_id: int = IdPath) -> Response:
    """Delete a template (built-in ones too)."""
    templates.delete_template(db, principal, template_id, client_addr(request))
    return Response(status_code=204)
