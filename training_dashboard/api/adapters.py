from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from training_dashboard import schemas
from training_dashboard.api.deps import (
    AS_TRAINER,
    DbDep,
    LimitQ,
    PageQ,
    SettingsDep,
    TrainerDep,
    actor_id,
    client_addr,
    require_role,
)
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import adapters, audit, evaluation_gate
from training_dashboard.services.errors import Conflict, Forbidden

router = APIRouter(prefix="/adapters", tags=["adapters"], dependencies=AS_TRAINER)
AS_ADMIN_ROUTE = [Depends(require_role("admin"))]
IdPath = Path(ge=1, le=MAX_ID)


@router.post("", status_code=201, response_model=schemas.AdapterPublic)
def register_adapter(body: schemas.AdapterCreate, request: Request, db: DbDep, settings: SettingsDep,
                     principal: TrainerDep) -> schemas.AdapterPublic:
    """Register a PEFT LoRA directory inside the adapter roots (active at once: admins only)."""
    if body.is_active and not principal.has("admin"):
        raise Forbidden("needs the admin role (register it inactive; an admin activates it)")
    if body.is_active and settings.require_evaluation:
        raise Conflict("TD_REQUIRE_EVALUATION is on: register the adapter inactive, evaluate it against the base "
                       "model, then activate it")
    adapter = adapters.register_adapter(db, body, settings.resolved_adapter_roots, created_by=actor_id(principal))
    if body.is_active:
        audit.write(db, principal, "adapter.activate", f"adapter:{adapter.id}", {"at": "register"},
                    client_addr(request))
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
def update_adapter(body: schemas.AdapterUpdate, request: Request, db: DbDep, settings: SettingsDep,
                   principal: TrainerDep, adapter_id: int = IdPath) -> schemas.AdapterDetail:
    """Change an adapter's description, or (admins) its active flag (activation passes the evaluation gate)."""
    if body.is_active is not None and not principal.has("admin"):
        raise Forbidden("needs the admin role (to activate or deactivate)")
    if body.is_active and settings.require_evaluation:
        evaluation_gate.require_gate(db, adapter_id)
    adapters.update_adapter(db, adapter_id, body, actor_id=actor_id(principal))
    if body.is_active is not None:
        audit.write(db, principal, "adapter.activate" if body.is_active else "adapter.deactivate",
                    f"adapter:{adapter_id}", None, client_addr(request))
    return adapters.get_adapter(db, adapter_id, settings.base_model)


@router.post("/{adapter_id}/activate", response_model=schemas.AdapterDetail, dependencies=AS_ADMIN_ROUTE)
def activate_adapter(request: Request, db: DbDep, settings: SettingsDep, principal: TrainerDep,
                     adapter_id: int = IdPath,
                     body: Annotated[schemas.ActivateRequest | None, Body()] = None) -> schemas.AdapterDetail:
    """Make an adapter selectable for generation (409 from the evaluation gate unless forced with a reason)."""
    body = body or schemas.ActivateRequest()
    forced = evaluation_gate.activate_adapter(db, adapter_id, require_evaluation=settings.require_evaluation,
                                              force=body.force, reason=body.reason, actor_id=actor_id(principal))
    audit.write(db, principal, "adapter.force_activate" if forced else "adapter.activate", f"adapter:{adapter_id}",
                {"reason": body.reason} if forced else None, client_addr(request))
    return adapters.get_adapter(db, adapter_id, settings.base_model)


@router.post("/{adapter_id}/deactivate", response_model=schemas.AdapterDetail, dependencies=AS_ADMIN_ROUTE)
def deactivate_adapter(request: Request, db: DbDep, settings: SettingsDep, principal: TrainerDep,
                       adapter_id: int = IdPath) -> schemas.AdapterDetail:
    """Hide an adapter from generation."""
    adapters.update_adapter(db, adapter_id, schemas.AdapterUpdate(is_active=False))
    audit.write(db, principal, "adapter.deactivate", f"adapter:{adapter_id}", None, client_addr(request))
    return adapters.get_adapter(db, adapter_id, settings.base_model)


@router.delete("/{adapter_id}", status_code=204, response_class=Response, dependencies=AS_ADMIN_ROUTE)
def delete_adapter(request: Request, db: DbDep, principal: TrainerDep, adapter_id: int = IdPath) -> Response:
    """Remove an adapter from the registry (409 while a queued or running job uses it)."""
    adapters.delete_adapter(db, adapter_id)
    audit.write(db, principal, "adapter.delete", f"adapter:{adapter_id}", None, client_addr(request))
    return Response(status_code=204)
