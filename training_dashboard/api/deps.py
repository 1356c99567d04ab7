"""Dependency aliases shared by the routers.

The dependencies are ``async def`` although they do no I/O: FastAPI runs a plain ``def``
dependency in the thread pool, one thread hand-off per dependency per request (about
0.1 ms of CPU each, measured with ``bench.request_cost``); coroutines run inline.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.schemas import MAX_PAGE, Role
from training_dashboard.services.principal import Principal


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> Database:
    return request.app.state.db


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
PageQ = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
LimitQ = Annotated[int, Query(ge=1, le=200, description="items per page")]


WORKER_PREFIX = "/api/worker"


async def require_worker(request: Request) -> str:
    """Only the worker token (``TD_WORKER_TOKEN``) may call /api/worker/*. Returns the worker's name header."""
    token = request.app.state.settings.worker_token
    if not token:
        raise HTTPException(403, "Worker endpoints are off: set the same TD_WORKER_TOKEN on the app and on "
                                 "each worker")
    scheme, _, supplied = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(supplied.strip().encode(), token.encode()):
        raise HTTPException(401, "Missing or wrong worker token (send Authorization: Bearer <TD_WORKER_TOKEN>)",
                            headers={"WWW-Authenticate": "Bearer"})
    return request.headers.get("x-td-worker", "")[:255]


WorkerDep = Annotated[str, Depends(require_worker)]


def principal_or_none(request: Request) -> Principal | None:
    return request.scope.get("state", {}).get("principal")


async def get_principal(request: Request) -> Principal:
    """Who this request acts as (set by ``access.Authenticate``); 401 when nobody."""
    principal = principal_or_none(request)
    if principal is None:
        raise HTTPException(401, "Sign in first", headers={"WWW-Authenticate": "Bearer"})
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_role(role: Role):  # type: ignore[no-untyped-def]
    """A dependency that lets ``role`` (or a higher one) through: 403 naming the role otherwise."""

    async def check(principal: CurrentUser) -> Principal:
        if not principal.has(role):
            raise HTTPException(403, f"needs the {role} role")
        return principal

    check.__name__ = f"require_{role}"
    return check


RaterDep = Annotated[Principal, Depends(require_role("rater"))]
TrainerDep = Annotated[Principal, Depends(require_role("trainer"))]
AdminDep = Annotated[Principal, Depends(require_role("admin"))]
AS_RATER = [Depends(require_role("rater"))]
AS_TRAINER = [Depends(require_role("trainer"))]
AS_ADMIN = [Depends(require_role("admin"))]


def signed_or_role(role: Role):  # type: ignore[no-untyped-def]
    """:func:`require_role`, or nobody when ``access.Authenticate`` let the request in by its stream signature."""
    checker = require_role(role)

    async def check(request: Request) -> Principal | None:
        principal = principal_or_none(request)
        return None if principal is None else await checker(principal)

    check.__name__ = f"signed_or_{role}"
    return check


def client_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


def actor_id(principal: Principal) -> int | None:
    """The user id to record as creator/activator (None for the local admin of ``TD_AUTH=off``)."""
    return principal.user_id or None


def acting_rater(principal: Principal | None, rater_id: int | None) -> int | None:
    """The rater a request rates, votes or listens as.

    Sign-in on: always the signed-in user's own rater; naming another is 403. ``TD_AUTH=off`` (and a
    signed stream URL, which carries its rater): ``rater_id`` as given.
    """
    if principal is None or principal.via == "off":
        return rater_id
    if rater_id is not None and rater_id != principal.rater_id:
        raise HTTPException(403, "You can only rate, vote and listen as yourself: this names another rater")
    return principal.rater_id


def required_rater(principal: Principal | None, rater_id: int | None) -> int:
    """:func:`acting_rater`, which must name someone (``TD_AUTH=off`` needs ``rater_id``)."""
    acting = acting_rater(principal, rater_id)
    if acting is None:
        raise HTTPException(422, "rater_id: Field required (who is listening?)")
    return acting
