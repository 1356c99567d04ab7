from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from training_dashboard import schemas
from training_dashboard.api.deps import DbDep, LimitQ, PageQ, SettingsDep
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import adapters, evaluation_gate
from training_dashboard.services.errors import Conflict

router = APIRouter(prefix="/adapters", tags=["adapters"])
IdPath = Path(ge=1, le=MAX_ID)


@router.post("", status_code=201, response_model=schemas.AdapterPublic)
def register_adapter(body: schemas.AdapterCreate, db: DbDep, settings: SettingsDep) -> schemas.AdapterPublic:
    """Register a PEFT LoRA directory inside the adapter roots."""
    if body.is_active and settings.require_evaluation:
        raise Conflict("TD_REQUIRE_EVALUATION is on: register the adapter inactive, evaluate it against the base "
                       "model, then activate it")
    adapter = adapters.register_adapter(db, body, settings.resolved_adapter_roots)
    return adapters.get_adapter(db, adapter.id or 0, settings.base_model)


@router.get("", response_model=schemas.Page[schemas.AdapterPublic])
def read_adapters(
    db: DbDep, settings: SettingsDep, page: PageQ = 1, limit: LimitQ = 50,
    status: schemas.AdapterStatus = "all",
    base_model: Annotated[str | None, Query(max_length=500)] = None,
) -> schemas.Page[schemas.AdapterPublic]:
    """List adapters, newest first."""
    return adapters.list_adapters(db, status, base_model, page, limit, settings.base_model)


@router.get("/{adapter_id}", response_model=schemas.AdapterDetail)
def read_adapter(db: DbDep, settings: SettingsDep, adapter_id: int = IdPath) -> schemas.AdapterDetail:
    """One adapter with its usage statistics."""
    return adapters.get_adapter(db, adapter_id, settings.base_model)


@router.patch("/{adapter_id}", response_model=schemas.AdapterDetail)
def update_adapter(body: schemas.AdapterUpdate, db: DbDep, settings: SettingsDep,
                   adapter_id: int = IdPath) -> schemas.AdapterDetail:
    """Change an adapter's description or active flag (activation passes the evaluation gate)."""
    if body.is_active and settings.require_evaluation:
        evaluation_gate.require_gate(db, adapter_id)
    adapters.update_adapter(db, adapter_id, body)
    return adapters.get_adapter(db, adapter_id, settings.base_model)


@router.post("/{adapter_id}/activate", response_model=schemas.AdapterDetail)
def activate_adapter(db: DbDep, settings: SettingsDep, adapter_id: int = IdPath,
                     body: Annotated[schemas.ActivateRequest | None, Body()] = None) -> schemas.AdapterDetail:
    """Make an adapter selectable for generation (409 from the evaluation gate unless forced with a reason)."""
    body = body or schemas.ActivateRequest()
    evaluation_gate.activate_adapter(db, adapter_id, require_evaluation=settings.require_evaluation, force=body.force,
                                     reason=body.reason)
    return adapters.get_adapter(db, adapter_id, settings.base_model)


@router.post("/{adapter_id}/deactivate", response_model=schemas.AdapterDetail)
def deactivate_adapter(db: DbDep, settings: SettingsDep, adapter_id: int = IdPath) -> schemas.AdapterDetail:
    """Hide an adapter from generation."""
    adapters.update_adapter(db, adapter_id, schemas.AdapterUpdate(is_active=False))
    return adapters.get_adapter(db, adapter_id, settings.base_model)


@router.delete("/{adapter_id}", status_code=204, response_class=Response)
def delete_adapter(db: DbDep, adapter_id: int = IdPath) -> Response:
    """Remove an adapter from the registry (409 while a queued or running job uses it)."""
    adapters.delete_adapter(db, adapter_id)
    return Response(status_code=204)
