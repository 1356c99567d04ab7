"""Dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.schemas import MAX_PAGE


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
PageQ = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
LimitQ = Annotated[int, Query(ge=1, le=200, description="items per page")]
