from __future__ import annotations

from fastapi import APIRouter, Path, Request

from training_dashboard import schemas
from training_dashboard.api.deps import DbDep, LimitQ, PageQ
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import prompts

router = APIRouter(prefix="/prompts", tags=["prompts"])
IdPath = Path(ge=1, le=MAX_ID)


@router.post("", status_code=201, response_model=schemas.PromptPublic)
def create_prompt(body: schemas.PromptCreate, db: DbDep) -> schemas.PromptPublic:
    """Create a prompt."""
    return prompts.prompt_public(prompts.create_prompt(db, body))


@router.get("", response_model=schemas.Page[schemas.PromptPublic])
def read_prompts(db: DbDep, page: PageQ = 1, limit: LimitQ = 20) -> schemas.Page[schemas.PromptPublic]:
    """List prompts, newest first."""
    return prompts.list_prompts(db, page, limit)


@router.get("/{prompt_id}", response_model=schemas.PromptDetail)
def read_prompt(request: Request, db: DbDep, prompt_id: int = IdPath) -> schemas.PromptDetail:
    """A prompt with its generated clips."""
    return prompts.get_prompt(db, prompt_id, request.app.state.signer.url)
