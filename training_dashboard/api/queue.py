from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from training_dashboard import schemas
from training_dashboard.api.deps import AS_RATER, DbDep, RaterDep, SettingsDep, required_rater
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import queue
from training_dashboard.services.errors import Forbidden

router = APIRouter(prefix="/queue", tags=["queue"], dependencies=AS_RATER)
RaterQ = Annotated[int | None, Query(ge=1, le=MAX_ID,
                                     description="who is listening (sign-in on: yourself, the default)")]
AdapterQ = Annotated[str | None, Query(max_length=20, description="an adapter id or 'base'")]
PromptQ = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get("/next", response_model=schemas.QueueClipRevealed | schemas.QueueClip,
            responses={204: {"description": "Nothing left for this rater"}})
def read_next_clip(request: Request, db: DbDep, settings: SettingsDep, principal: RaterDep, rater_id: RaterQ = None,
                   blind: bool = True,
                   adapter_id: AdapterQ = None, prompt_id: PromptQ = None,
                   exclude: Annotated[list[int], Query(max_length=100, description="clips skipped")] = [],  # noqa: B006
                   ) -> Response | schemas.QueueClip:
    """The next clip this rater has not rated, reserved for them a while (fewest ratings first, blind by default;
    revealed only for trainers)."""
    rater_id = required_rater(principal, rater_id)
    if not blind and not principal.has("trainer"):
        raise Forbidden("needs the trainer role (to hear clips unblinded)")
    clip = queue.next_clip(db, rater_id, settings.ratings_per_clip, lease_s=settings.queue_lease_s, blind=blind,
                           adapter_id=queue.adapter_filter(adapter_id), prompt_id=prompt_id, exclude=exclude,
                           stream_url=request.app.state.signer.url)
    if clip is None:
        return Response(status_code=204)
    # Serialise by the concrete class: a blind answer must not carry adapter fields.
    return Response(clip.model_dump_json(), media_type="application/json")


@router.get("/summary", response_model=schemas.QueueSummary)
def read_queue_summary(db: DbDep, settings: SettingsDep, principal: RaterDep, rater_id: RaterQ = None,
                       adapter_id: AdapterQ = None, prompt_id: PromptQ = None) -> schemas.QueueSummary:
    """How many clips are left for this rater, and how many they rated today and in all."""
    rater_id = required_rater(principal, rater_id)
    return queue.queue_summary(db, rater_id, settings.ratings_per_clip, adapter_id=queue.adapter_filter(adapter_id),
                               prompt_id=prompt_id)
