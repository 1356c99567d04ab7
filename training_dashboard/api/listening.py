from __future__ import annotations

from fastapi import APIRouter

from training_dashboard import schemas
from training_dashboard.api.deps import SettingsDep
from training_dashboard.services import listening

router = APIRouter(prefix="/listening", tags=["listening"])


@router.get("/policy", response_model=schemas.ListeningPolicy)
async def read_listening_policy(settings: SettingsDep) -> schemas.ListeningPolicy:
    """The listen gate (TD_MIN_LISTEN): how long each clip must be heard before a rating or vote."""
    return listening.policy(settings)
