from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response

from training_dashboard import schemas
from training_dashboard.api import audio
from training_dashboard.api.deps import (
    DbDep,
    LimitQ,
    PageQ,
    RaterDep,
    SettingsDep,
    TrainerDep,
    actor_id,
    principal_or_none,
    require_role,
    required_rater,
    signed_or_role,
)
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import evaluation_votes, evaluations

router = APIRouter(prefix="/evaluations", tags=["evaluations"])
IdPath = Path(ge=1, le=MAX_ID)
RaterQ = Annotated[int | None, Query(ge=1, le=MAX_ID,
                                     description="who is listening (sign-in on: yourself, the default)")]
AS_TRAINER = [Depends(require_role("trainer"))]


def slot_url(request: Request):  # type: ignore[no-untyped-def]
    """Stream URLs that name a pair and a slot, never a clip: ``/api/audio/{id}`` would tell the model."""
    signer = request.app.state.signer

    def build(evaluation_id: int, pair_id: int, rater_id: int, slot: str) -> str:
        return signer.path_url(f"/api/evaluations/{evaluation_id}/pairs/{pair_id}/{slot}/stream?rater_id={rater_id}")

    return build


@router.post("", status_code=202, response_model=schemas.EvaluationDetail)
def create_evaluation(body: schemas.EvaluationCreate, db: DbDep, settings: SettingsDep,
                      principal: TrainerDep) -> schemas.EvaluationDetail:
    """Start a blind evaluation: held-out prompts, both sides generated through the job queue."""
    evaluation_id = evaluations.create_evaluation(db, body, settings.base_model, created_by=actor_id(principal))
    return evaluations.get_evaluation(db, evaluation_id)


@router.get("", response_model=schemas.Page[schemas.EvaluationPublic], dependencies=AS_TRAINER)
def read_evaluations(db: DbDep, page: PageQ = 1, limit: LimitQ = 20,
                     adapter_id: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                                             description="candidate or baseline")] = None,
                     status: schemas.EvaluationStatus | None = None) -> schemas.Page[schemas.EvaluationPublic]:
    """Evaluations newest first, by adapter and status."""
    return evaluations.list_evaluations(db, adapter_id=adapter_id, status=status, page=page, limit=limit)


@router.get("/{evaluation_id}", response_model=schemas.EvaluationDetail, dependencies=AS_TRAINER)
def read_evaluation(db: DbDep, evaluation_id: int = IdPath) -> schemas.EvaluationDetail:
    """Progress and result: win rate (ties excluded), Wilson 95% interval, sign-test p-value, verdict."""
    return evaluations.get_evaluation(db, evaluation_id)


@router.post("/{evaluation_id}/cancel", response_model=schemas.EvaluationDetail, dependencies=AS_TRAINER)
def cancel_evaluation(db: DbDep, evaluation_id: int = IdPath) -> schemas.EvaluationDetail:
    """Cancel: pending generation jobs are cancelled and no more votes are taken."""
    evaluations.cancel_evaluation(db, evaluation_id)
    return evaluations.get_evaluation(db, evaluation_id)


@router.get("/{evaluation_id}/next", response_model=schemas.EvaluationPairBlind,
            responses={204: {"description": "Nothing left for this rater"}})
def read_next_pair(request: Request, db: DbDep, principal: RaterDep, rater_id: RaterQ = None,
                   evaluation_id: int = IdPath) -> Response | schemas.EvaluationPairBlind:
    """The next pair for this rater, blind: First and Second, nothing naming either model."""
    rater_id = required_rater(principal, rater_id)
    pair = evaluation_votes.next_pair(db, evaluation_id, rater_id, slot_url(request))
    if pair is None:
        return Response(status_code=204)
    return pair


@router.get("/{evaluation_id}/progress", response_model=schemas.RaterProgress)
def read_rater_progress(db: DbDep, principal: RaterDep, rater_id: RaterQ = None,
                        evaluation_id: int = IdPath) -> schemas.RaterProgress:
    """How many pairs this rater has voted on, of how many are ready."""
    rater_id = required_rater(principal, rater_id)
    return evaluation_votes.rater_progress(db, evaluation_id, rater_id)


@router.post("/{evaluation_id}/votes", status_code=201, response_model=schemas.EvaluationVotePublic)
def create_vote(body: schemas.EvaluationVoteCreate, db: DbDep, principal: RaterDep,
                evaluation_id: int = IdPath) -> schemas.EvaluationVotePublic:
    """One vote per rater and pair (409 on a repeat); a non-tie vote is also a preference pair."""
    body = body.model_copy(update={"rater_id": required_rater(principal, body.rater_id)})
    vote = evaluation_votes.cast_vote(db, evaluation_id, body)
    return schemas.EvaluationVotePublic(id=vote.id or 0, evaluation_id=evaluation_id, pair_id=vote.pair_id,
                                        rater_id=vote.rater_id, choice=vote.choice,  # type: ignore[arg-type]
                                        voted_at=vote.voted_at)  # type: ignore[arg-type]


@router.get("/{evaluation_id}/pairs/{pair_id}/{slot}/stream", response_class=Response,
            responses={200: {"content": {"audio/wav": {}}}, 206: {"content": {"audio/wav": {}}}},
            dependencies=[Depends(signed_or_role("rater"))])
def stream_slot(request: Request, db: DbDep, settings: SettingsDep, slot: Literal["first", "second"],
                rater_id: RaterQ = None,
                evaluation_id: int = IdPath, pair_id: int = Path(ge=1, le=MAX_ID),
                range_header: str | None = Header(default=None, alias="Range")) -> Response:
    """The clip a rater hears as First or Second of a pair served to them (Range supported)."""
    rater_id = required_rater(principal_or_none(request), rater_id)
    audio_id = evaluation_votes.slot_clip(db, evaluation_id, pair_id, rater_id, slot)
    return audio.stream_audio(db, settings, audio_id, range_header)
