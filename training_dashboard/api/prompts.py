from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from training_dashboard import schemas
from training_dashboard.api import blinding
from training_dashboard.api.deps import AS_RATER, DbDep, RaterDep, require_role
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import library, prompts

router = APIRouter(prefix="/prompts", tags=["prompts"], dependencies=AS_RATER)
IdPath = Path(ge=1, le=MAX_ID)


@router.post("", status_code=201, response_model=schemas.PromptPublic, dependencies=[Depends(require_role("trainer"))])
def create_prompt(body: schemas.PromptCreate, db: DbDep) -> schemas.PromptPublic:
    """Create a prompt."""
    return prompts.prompt_public(prompts.create_prompt(db, body))


@router.get("", response_model=schemas.Page[schemas.PromptHit])
def read_prompts(db: DbDep, principal: RaterDep,
                 query: Annotated[schemas.PromptQuery, Query()]) -> schemas.Page[schemas.PromptHit]:
    """Search every prompt (the prompt library): full text with prefixes (``q``), filters, sorts.

    Without ``q`` (or with ``sort`` other than relevance) the order is the sort's (relevance
    without ``q`` is newest first). ``favourite`` means the asking person's stars. The
    ``adapter_id`` filter and each hit's ``last_generation`` name adapters: trainers only.
    """
    trainer = principal.has("trainer")
    if query.adapter_id is not None and not trainer:
        raise HTTPException(403, "needs the trainer role: filtering by adapter would show which model made a clip")
    return library.search_prompts(db, query, principal.user_id, with_generation=trainer)


@router.get("/facets", response_model=schemas.PromptFacets)
def read_prompt_facets(db: DbDep) -> schemas.PromptFacets:
    """The most used styles and moods, with how many prompts have each (the search's filter chips)."""
    return library.facets(db)


@router.get("/{prompt_id}", response_model=schemas.PromptDetail)
def read_prompt(request: Request, db: DbDep, principal: RaterDep, prompt_id: int = IdPath) -> schemas.PromptDetail:
    """A prompt with its generated clips (for a rater, the adapter only of clips they have rated)."""
    detail = prompts.get_prompt(db, prompt_id, request.app.state.signer.url)
    return detail.model_copy(update={"samples": blinding.briefs(db, principal, detail.samples)})


@router.put("/{prompt_id}/favourite", response_model=schemas.FavouriteState)
def star_prompt(db: DbDep, principal: RaterDep, prompt_id: int = IdPath) -> schemas.FavouriteState:
    """Make the prompt a favourite of the signed-in person (again: no change)."""
    return library.set_favourite(db, principal.user_id, prompt_id, True)


@router.delete("/{prompt_id}/favourite", response_model=schemas.FavouriteState)
def unstar_prompt(db: DbDep, principal: RaterDep, prompt_id: int = IdPath) -> schemas.FavouriteState:
    """Take the prompt out of the signed-in person's favourites (not one: no change)."""
    return library.set_favourite(db, principal.user_id, prompt_id, False)
