from __future__ import annotations

from fastapi import APIRouter

from training_dashboard import schemas
from training_dashboard.api.deps import AS_TRAINER, DbDep
from training_dashboard.services import leaderboard

router = APIRouter(prefix="/leaderboard", tags=["leaderboard"], dependencies=AS_TRAINER)


@router.get("", response_model=schemas.Leaderboard)
def read_leaderboard(db: DbDep, include_deleted: bool = False) -> schemas.Leaderboard:
    """The base model and every adapter ranked by Bradley–Terry strength from preference pairs."""
    return leaderboard.read_leaderboard(db, include_deleted)
