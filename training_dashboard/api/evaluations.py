from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import Response

from training_dashboard import schemas
from training_dashboard.api import audio
from training_dashboard.api.deps import DbDep, LimitQ, PageQ, SettingsDep
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import evaluation_listening, evaluation_plan, evaluation_votes, evaluations, listening

router = APIRouter(prefix="/evaluations", tags=["evaluations"])
IdPath = Path(ge=1, le=MAX_ID)
RaterQ = Annotated[int, Query(ge=1, le=MAX_ID, description="who is listening")]


def slot_url(request: Request):  # type: ignore[no-untyped-def]
    """Stream URLs that name a pair and a slot, never a clip: ``/api/audio/{id}`` would tell the model."""
    signer = request.app.state.signer

    def build(evaluation_id: int, pair_id: int, rater_id: int, slot: str) -> str:
        return signer.path_url(f"/api/evaluations/{evaluation_id}/pairs/{pair_id}/{slot}/stream?rater_id={rater_id}")

    return build


@router.post("", status_code=202, response_model=schemas.EvaluationDetail)
def create_evaluation(body: schemas.EvaluationCreate, db: DbDep, settings: SettingsDep) -> schemas.EvaluationDetail:
    """Start a blind evaluation: held-out prompts, both sides generated through the job queue."""
    evaluation_id = evaluations.create_evaluation(db, body, settings.base_model)
    return evaluations.get_evaluation(db, evaluation_id)


@router.get("", response_model=schemas.Page[schemas.EvaluationPublic])
def read_evaluations(db: DbDep, page: PageQ = 1, limit: LimitQ = 20,
                     adapter_id: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                                             description="candidate or baseline")] = None,
                     status: schemas.EvaluationStatus | None = None) -> schemas.Page[schemas.EvaluationPublic]:
    """Evaluations newest first, by adapter and status."""
    return evaluations.list_evaluations(db, adapter_id=adapter_id, status=status, page=page, limit=limit)


@router.get("/plan", response_model=schemas.EvaluationPlan)
def read_evaluation_plan(
    db: DbDep,
    pairs: Annotated[int, Query(ge=1, le=evaluation_plan.MAX_PAIRS, description="pairs in the evaluation")],
    expected_win_rate: Annotated[float | None, Query(ge=0, le=1, description="the win rate you expect")] = None,
) -> schemas.EvaluationPlan:
    """What N pairs detect (exact sign test, 80% power, two-sided 5%) and the pairs an expected win rate needs."""
    return evaluation_plan.plan_evaluation(db, pairs, expected_win_rate)


@router.get("/{evaluation_id}", response_model=schemas.EvaluationDetail)
def read_evaluation(
    db: DbDep, evaluation_id: int = IdPath,
    min_heard: Annotated[float | None, Query(ge=0, le=1, description="also the verdict from votes whose "
                                             "least-heard clip reached this share")] = None,
) -> schemas.EvaluationDetail:
    """Progress and result: win rate (ties excluded), Wilson 95% interval, sign-test p-value, verdict."""
    return evaluations.get_evaluation(db, evaluation_id, min_heard)


@router.get("/{evaluation_id}/pairs", response_model=list[schemas.EvaluationPairDetail])
def read_evaluation_pairs(db: DbDep, evaluation_id: int = IdPath) -> list[schemas.EvaluationPairDetail]:
    """Each pair's votes unblinded, with reasons and listening (409 until the evaluation is complete)."""
    return evaluation_listening.pair_details(db, evaluation_id)


@router.post("/{evaluation_id}/cancel", response_model=schemas.EvaluationDetail)
def cancel_evaluation(db: DbDep, evaluation_id: int = IdPath) -> schemas.EvaluationDetail:
    """Cancel: pending generation jobs are cancelled and no more votes are taken."""
    evaluations.cancel_evaluation(db, evaluation_id)
    return evaluations.get_evaluation(db, evaluation_id)


@router.get("/{evaluation_id}/next", response_model=schemas.EvaluationPairBlind,
            responses={204: {"description": "Nothing left for this rater"}})
def read_next_pair(request: Request, db: DbDep, rater_id: RaterQ,
                   evaluation_id: int = IdPath) -> Response | schemas.EvaluationPairBlind:
    """The next pair for this rater, blind: First and Second, nothing naming either model."""
    pair = evaluation_votes.next_pair(db, evaluation_id, rater_id, slot_url(request))
    if pair is None:
        return Response(status_code=204)
    return pair


@router.get("/{evaluation_id}/progress", response_model=schemas.RaterProgress)
def read_rater_progress(db: DbDep, rater_id: RaterQ, evaluation_id: int = IdPath) -> schemas.RaterProgress:
    """How many pairs this rater has voted on, of how many are ready."""
    return evaluation_votes.rater_progress(db, evaluation_id, rater_id)


@router.post("/{evaluation_id}/votes", status_code=201, response_model=schemas.EvaluationVotePublic)
def create_vote(body: schemas.EvaluationVoteCreate, db: DbDep, settings: SettingsDep,
                evaluation_id: int = IdPath) -> schemas.EvaluationVotePublic:
    """One vote per rater and pair (409 on a repeat); a non-tie vote is also a preference pair."""
    vote = evaluation_votes.cast_vote(db, evaluation_id, body, listening.gate_of(settings))
    return schemas.EvaluationVotePublic(id=vote.id or 0, evaluation_id=evaluation_id, pair_id=vote.pair_id,
                                        rater_id=vote.rater_id, choice=vote.choice,  # type: ignore[arg-type]
                                        voted_at=vote.voted_at, reason=vote.reason,  # type: ignore[arg-type]
                                        listening=listening.echo(body.listening, vote))


@router.get("/{evaluation_id}/pairs/{pair_id}/{slot}/stream", response_class=Response,
            responses={200: {"content": {"audio/wav": {}}}, 206: {"content": {"audio/wav": {}}}})
def stream_slot(db: DbDep, settings: SettingsDep, rater_id: RaterQ, slot: Literal["first", "second"],
                evaluation_id: int = IdPath, pair_id: int = Path(ge=1, le=MAX_ID),
                range_header: str | None = Header(default=None, alias="Range")) -> Response:
    """The clip a rater hears as First or Second of a pair served to them (Range supported)."""
    audio_id = evaluation_votes.slot_clip(db, evaluation_id, pair_id, rater_id, slot)
    return audio.stream_audio(db, settings, audio_id, range_header)
