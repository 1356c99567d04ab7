"""Blind evaluations: is a candidate adapter better than a baseline (the base model or another
adapter)?

An evaluation draws held-out prompts (none in the dataset either side was trained on, by id
or by text), queues one generation job per prompt and side through the normal job queue
(same seed and parameters for both sides), and serves each ready pair to each rater with
the side played first drawn per pair and rater and recorded before the rater hears it. A
vote counts for the candidate, the baseline or neither (tie); every non-tie vote is also a
preference pair (``preference.evaluation_id``), so it feeds DPO datasets and the
leaderboard. The result is the win rate with ties excluded, its Wilson interval and the
sign-test p-value (``services.stats``); it is frozen when the evaluation completes.

This module creates, reads and cancels evaluations; listening and voting are in
``services.evaluation_votes``, the status machine (``generating`` -> ``voting`` ->
``completed``, or ``cancelled``) in ``services.evaluation_progress``, and the activation
gate in ``services.evaluation_gate``.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, union_all, update
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import (
    Adapter,
    Dataset,
    DatasetMember,
    Evaluation,
    EvaluationPair,
    EvaluationVote,
    GenerationJob,
    Preference,
    Prompt,
    Rater,
    Rating,
    utcnow,
)
from training_dashboard.services import jobs, stats
from training_dashboard.services.counters import adapter_key, adapter_labels
from training_dashboard.services.errors import BadRequest, Conflict, NotFound
from training_dashboard.services.evaluation_listening import attentive_result, listener_fields
from training_dashboard.services.evaluation_progress import OPEN, lock_evaluation, refresh_evaluations

GENERATION_DEFAULTS = {"temperature": 1.0, "top_k": 250, "top_p": 0.0, "guidance_scale": 3.0}


def normalise_text(text: str) -> str:
    """How prompt texts are compared for hold-out: case and runs of whitespace do not count."""
    return " ".join(text.split()).casefold()


def training_prompts(session: Session, adapter: Adapter) -> tuple[set[int], set[str]]:
    """Prompt ids and normalised texts of the dataset an adapter was trained on (empty if unknown)."""
    if adapter.dataset_id is None:
        return set(), set()
    dataset = session.get(Dataset, adapter.dataset_id)
    if dataset is None:
        return set(), set()
    source: Any = Preference if dataset.type == "preference" else Rating
    rows = session.execute(
        select(Prompt.id, Prompt.text).where(Prompt.id.in_(
            select(source.prompt_id).join(DatasetMember, (DatasetMember.item_id == source.id)
                                          & (DatasetMember.dataset_id == dataset.id))
        ))
    ).all()
    return {pid for pid, _ in rows}, {normalise_text(text) for _, text in rows}


def _adapter(session: Session, adapter_id: int, role: str, base_model: str) -> Adapter:
    adapter = session.get(Adapter, adapter_id)
    if adapter is None:
        raise NotFound(f"Adapter {adapter_id} ({role}) not found")
    if adapter.base_model != base_model:
        raise BadRequest(f"Adapter '{adapter.name}' {adapter.version} ({role}) was trained for base model "
                         f"'{adapter.base_model}', but this server runs '{base_model}'")
    return adapter


def _held_out(session: Session, data: schemas.EvaluationCreate, sides: list[Adapter], seed: int) -> list[int]:
    excluded_ids: set[int] = set()
    excluded_texts: set[str] = set()
    for adapter in sides:
        ids, texts = training_prompts(session, adapter)
        excluded_ids |= ids
        excluded_texts |= texts
    names = " and ".join(f"'{a.name}' {a.version}" for a in sides)
    if data.prompt_ids is not None:
        found = dict(session.execute(select(Prompt.id, Prompt.text).where(Prompt.id.in_(data.prompt_ids))).all())
        missing = [pid for pid in data.prompt_ids if pid not in found]
        if missing:
            raise NotFound(f"Prompt(s) not found: {', '.join(map(str, missing[:20]))}")
        trained = [pid for pid in data.prompt_ids
                   if pid in excluded_ids or normalise_text(found[pid]) in excluded_texts]
        if trained:
            raise BadRequest(f"Prompt(s) {', '.join(map(str, trained[:20]))} appear (by id or text) in the dataset "
                             f"{names} was trained on; an evaluation uses held-out prompts only")
        return list(data.prompt_ids)
    pool: list[int] = []
    seen: set[str] = set()
    # One pass over the prompt table; the first prompt of each distinct text stands for it.
    for pid, text in session.execute(select(Prompt.id, Prompt.text).order_by(Prompt.id)):
        key = normalise_text(text)
        if pid in excluded_ids or key in excluded_texts or key in seen:
            continue
        seen.add(key)
        pool.append(pid)
    if len(pool) < data.num_prompts:
        raise BadRequest(f"Only {len(pool)} held-out prompt(s) exist (distinct texts not in the dataset {names} "
                         f"was trained on); the evaluation needs {data.num_prompts}: add prompts or ask for fewer")
    return random.Random(seed).sample(pool, data.num_prompts)


def create_evaluation(db: Database, data: schemas.EvaluationCreate, base_model: str,
                      created_by: int | None = None) -> int:
    """Draw held-out prompts and queue both sides of every pair (``created_by`` a user id). Returns the evaluation id.

    Raises:
        NotFound: unknown adapter or prompt.
        BadRequest: an adapter for another base model, a training prompt among ``prompt_ids``,
            or too few held-out prompts (the message says how many exist).
    """
    seed = data.seed if data.seed is not None else secrets.randbelow(schemas.MAX_SEED + 1)

    def run(session: Session) -> int:
        candidate = _adapter(session, data.candidate_id, "candidate", base_model)
        sides = [candidate]
        if data.baseline_id is not None:
            sides.append(_adapter(session, data.baseline_id, "baseline", base_model))
        prompt_ids = _held_out(session, data, sides, seed)
        params = {"duration": data.duration, **GENERATION_DEFAULTS}
        evaluation = Evaluation(candidate_id=data.candidate_id, baseline_id=data.baseline_id, status="generating",
                                pairs_total=len(prompt_ids), votes_per_pair=data.votes_per_pair, seed=seed,
                                params=params, created_by=created_by)
        session.add(evaluation)
        session.flush()
        pair_seeds = random.Random(f"{seed}:pairs")
        for position, prompt_id in enumerate(prompt_ids):
            pair_seed = pair_seeds.randrange(schemas.MAX_SEED + 1)
            job_params = {**params, "seed": pair_seed}
            cand = jobs.queue_in_session(session, prompt_id, data.candidate_id, 1, job_params)
            base = jobs.queue_in_session(session, prompt_id, data.baseline_id, 1, job_params)
            session.add(EvaluationPair(evaluation_id=evaluation.id or 0, position=position, prompt_id=prompt_id,
                                       seed=pair_seed, candidate_job_id=cand.id or 0, baseline_job_id=base.id or 0))
        return evaluation.id or 0

    return db.write(run)


def _clips_ready(session: Session, evaluation: Evaluation) -> int:
    if evaluation.status != "generating":
        return 2 * evaluation.pairs_ready
    job_ids = union_all(
        select(EvaluationPair.candidate_job_id).where(EvaluationPair.evaluation_id == evaluation.id),
        select(EvaluationPair.baseline_job_id).where(EvaluationPair.evaluation_id == evaluation.id),
    ).subquery()
    return session.scalar(select(func.count()).select_from(GenerationJob).where(
        GenerationJob.id.in_(select(job_ids.c[0])), GenerationJob.status == "completed")) or 0


def _public(session: Session, evaluation: Evaluation, labels: dict[str, str]) -> dict[str, Any]:
    return dict(
        id=evaluation.id or 0, candidate_id=evaluation.candidate_id, baseline_id=evaluation.baseline_id,
        candidate_label=labels[adapter_key(evaluation.candidate_id)],
        baseline_label=labels[adapter_key(evaluation.baseline_id)], status=evaluation.status,
        pairs_total=evaluation.pairs_total, pairs_ready=evaluation.pairs_ready, pairs_failed=evaluation.pairs_failed,
        clips_ready=_clips_ready(session, evaluation), votes=evaluation.votes,
        votes_per_pair=evaluation.votes_per_pair, seed=evaluation.seed, params=evaluation.params,
        verdict=evaluation.verdict, win_rate=evaluation.win_rate, ci_low=evaluation.ci_low,
        ci_high=evaluation.ci_high, p_value=evaluation.p_value, candidate_wins=evaluation.candidate_wins,
        baseline_wins=evaluation.baseline_wins, ties=evaluation.ties, created_at=evaluation.created_at,
        finished_at=evaluation.finished_at, created_by=evaluation.created_by,
    )


def _labels(session: Session, evaluations: Iterable[Evaluation]) -> dict[str, str]:
    keys = {adapter_key(a) for e in evaluations for a in (e.candidate_id, e.baseline_id)}
    return adapter_labels(session, keys)


def _result(session: Session, evaluation: Evaluation) -> schemas.EvaluationResult:
    win = stats.win_rate(evaluation.candidate_wins, evaluation.baseline_wins, evaluation.ties)
    decided = evaluation.candidate_wins + evaluation.baseline_wins
    first = stats.first_side_share(evaluation.first_wins, decided - evaluation.first_wins)
    tallies: dict[int, dict[str, Any]] = {}
    for rater_id, name, winner, n in session.execute(
        select(EvaluationVote.rater_id, Rater.name, EvaluationVote.winner, func.count())
        .join(Rater, Rater.id == EvaluationVote.rater_id)
        .where(EvaluationVote.evaluation_id == evaluation.id, EvaluationVote.winner.is_not(None))
        .group_by(EvaluationVote.rater_id, Rater.name, EvaluationVote.winner)
    ).all():
        tally = tallies.setdefault(rater_id, {"rater_id": rater_id, "name": name, "candidate_wins": 0,
                                              "baseline_wins": 0, "ties": 0})
        tally["ties" if winner == "tie" else f"{winner}_wins"] += n
    for rater_id, fields in listener_fields(session, evaluation.id or 0).items():
        if rater_id in tallies:
            tallies[rater_id].update(fields)
    return schemas.EvaluationResult(
        **stats.verdict_fields(win), final=evaluation.status == "completed",
        first_side_share=first.rate, first_side_ci_low=first.ci_low, first_side_ci_high=first.ci_high,
        per_rater=[schemas.RaterTally(**t) for t in sorted(tallies.values(), key=lambda t: t["name"])],
    )


def get_evaluation(db: Database, evaluation_id: int, min_heard: float | None = None) -> schemas.EvaluationDetail:
    """An evaluation with its progress and result (provisional until completed); with
    ``min_heard``, also the result from attentive votes only (``services.evaluation_listening``)."""
    with db.session() as session:
        status = session.scalar(select(Evaluation.status).where(Evaluation.id == evaluation_id))
    if status is None:
        raise NotFound(f"Evaluation {evaluation_id} not found")
    if status in OPEN:
        refresh_evaluations(db, [evaluation_id])
    with db.session() as session:
        evaluation = session.get(Evaluation, evaluation_id)
        assert evaluation is not None
        prompt_ids = list(session.scalars(select(EvaluationPair.prompt_id)
                                          .where(EvaluationPair.evaluation_id == evaluation_id)
                                          .order_by(EvaluationPair.position)))
        return schemas.EvaluationDetail(
            **_public(session, evaluation, _labels(session, [evaluation])), prompt_ids=prompt_ids,
            result=_result(session, evaluation),
            attentive=None if min_heard is None else attentive_result(session, evaluation_id, min_heard))


def list_evaluations(db: Database, *, adapter_id: int | None, status: str | None, page: int,
                     limit: int) -> schemas.Page[schemas.EvaluationPublic]:
    """Evaluations newest first; ``adapter_id`` matches the candidate or the baseline."""
    clauses = []
    if adapter_id is not None:
        clauses.append((Evaluation.candidate_id == adapter_id) | (Evaluation.baseline_id == adapter_id))
    if status is not None:
        clauses.append(Evaluation.status == status)
    query = select(Evaluation.id, Evaluation.status).where(*clauses).order_by(Evaluation.id.desc())
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Evaluation).where(*clauses)) or 0
        page_rows = session.execute(query.offset((page - 1) * limit).limit(limit)).all()
    refresh_evaluations(db, [eid for eid, st in page_rows if st in OPEN])
    with db.session() as session:
        rows = list(session.scalars(select(Evaluation).where(Evaluation.id.in_([eid for eid, _ in page_rows]))
                                    .order_by(Evaluation.id.desc())))
        if status is not None:  # a refresh may have moved one on
            rows = [e for e in rows if e.status == status]
        labels = _labels(session, rows)
        items = [schemas.EvaluationPublic(**_public(session, e, labels)) for e in rows]
    return schemas.Page[schemas.EvaluationPublic](items=items, total=total)


def cancel_evaluation(db: Database, evaluation_id: int) -> None:
    """Stop an evaluation: queued jobs are cancelled, running ones asked to stop; votes stop.

    Raises:
        NotFound: unknown evaluation.
        Conflict: it already completed or was cancelled.
    """

    def run(session: Session) -> None:
        evaluation = lock_evaluation(session, evaluation_id)
        if evaluation.status not in OPEN:
            raise Conflict(f"Evaluation {evaluation_id} is already {evaluation.status}")
        job_ids = [j for row in session.execute(
            select(EvaluationPair.candidate_job_id, EvaluationPair.baseline_job_id)
            .where(EvaluationPair.evaluation_id == evaluation_id)
        ).all() for j in row]
        now = utcnow()
        session.execute(update(GenerationJob)
                        .where(GenerationJob.id.in_(job_ids), GenerationJob.status == "queued")
                        .values(status="cancelled", cancel_requested=True, finished_at=now, updated_at=now))
        session.execute(update(GenerationJob)
                        .where(GenerationJob.id.in_(job_ids), GenerationJob.status == "processing")
                        .values(cancel_requested=True, updated_at=now))
        evaluation.status, evaluation.finished_at, evaluation.updated_at = "cancelled", now, now

    db.write(run)
