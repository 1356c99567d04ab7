from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request

from training_dashboard import schemas
from training_dashboard.api import blinding
from training_dashboard.api.deps import AS_RATER, DbDep, LimitQ, PageQ, RaterDep, require_role
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import prompts

router = APIRouter(prefix="/prompts", tags=["prompts"], dependencies=AS_RATER)
IdPath = Path(ge=1, le=MAX_ID)


@router.post("", status_code=201, response_model=schemas.PromptPublic, dependencies=[Depends(require_role("trainer"))])
def create_prompt(body: schemas.PromptCreate, db: DbDep) -> schemas.PromptPublic:
    """Create a prompt."""
    return prompts.prompt_public(prompts.create_prompt(db, body))


@router.get("", response_model=schemas.Page[schemas.PromptPublic])
def read_prompts(db: DbDep, page: PageQ = 1, limit: LimitQ = 20) -> schemas.Page[schemas.PromptPublic]:
    """List prompts, newest first."""
    return prompts.list_prompts(db, page, limit)


@router.get("/{prompt_id}", response_model=schemas.PromptDetail)
def read_prompt(request: Request, db: DbDep, principal: RaterDep, prompt_id: int = IdPath) -> schemas.PromptDetail:
    """A prompt with its generated clips (for a rater, the adapter only of clips they have rated)."""
    detail = prompts.get_prompt(db, prompt_id, request.app.state.signer.url)
    return detail.model_copy(update={"samples": blinding.briefs(db, principal, detail.samples)})
