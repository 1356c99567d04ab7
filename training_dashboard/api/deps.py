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
from training_dashboard.schemas import MAX_PAGE


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
