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

Status: ``generating`` while any job is queued or running, ``voting`` once every job
finished (pairs whose job failed are left out), ``completed`` when every ready pair has
``votes_per_pair`` votes (votes stop then), ``cancelled`` on request. Progress is brought
up to date lazily by whoever reads the evaluation (:func:`_refresh`), so the worker needs
no knowledge of evaluations.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import exists, func, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import (
    Adapter,
    AudioSample,
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
from training_dashboard.services import jobs, raters, stats
from training_dashboard.services.counters import adapter_key, adapter_labels, bump
from training_dashboard.services.errors import BadRequest, Conflict, NotFound

OPEN = ("generating", "voting")
PENDING_JOBS = ("queued", "processing")
GENERATION_DEFAULTS = {"temperature": 1.0, "top_k": 250, "top_p": 0.0, "guidance_scale": 3.0}
SlotUrl = Callable[[int, int, int, str], str]  # (evaluation_id, pair_id, rater_id, "first"|"second") -> URL


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


def create_evaluation(db: Database, data: schemas.EvaluationCreate, base_model: str) -> int:
    """Draw held-out prompts and queue both sides of every pair. Returns the evaluation id.

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
                                params=params)
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


# --- progress ------------------------------------------------------------------------------


def _lock(session: Session, evaluation_id: int) -> Evaluation:
    """The evaluation row, locked for this transaction on PostgreSQL (SQLite writes are serial)."""
    evaluation = session.scalars(
        select(Evaluation).where(Evaluation.id == evaluation_id).with_for_update()
    ).first()
    if evaluation is None:
        raise NotFound(f"Evaluation {evaluation_id} not found")
    return evaluation


def _refresh(session: Session, evaluation: Evaluation) -> None:
    """Link finished clips to their pairs, move generating -> voting -> completed."""
    if evaluation.status not in OPEN:
        return
    cand_job, base_job = aliased(GenerationJob), aliased(GenerationJob)
    rows = session.execute(
        select(EvaluationPair, cand_job.status, base_job.status)
        .join(cand_job, cand_job.id == EvaluationPair.candidate_job_id)
        .join(base_job, base_job.id == EvaluationPair.baseline_job_id)
        .where(EvaluationPair.evaluation_id == evaluation.id, EvaluationPair.ready.is_(False))
    ).all()
    done = [pair for pair, a, b in rows if a == "completed" and b == "completed"]
    pending = sum(1 for _, a, b in rows if a in PENDING_JOBS or b in PENDING_JOBS)
    failed = len(rows) - len(done) - pending
    if done:
        job_ids = [j for p in done for j in (p.candidate_job_id, p.baseline_job_id)]
        clip_of = dict(session.execute(
            select(AudioSample.job_id, func.min(AudioSample.id)).where(AudioSample.job_id.in_(job_ids))
            .group_by(AudioSample.job_id)
        ).all())
        for pair in done:
            pair.candidate_audio_id = clip_of.get(pair.candidate_job_id)
            pair.baseline_audio_id = clip_of.get(pair.baseline_job_id)
            pair.ready = pair.candidate_audio_id is not None and pair.baseline_audio_id is not None
        evaluation.pairs_ready += sum(1 for p in done if p.ready)
        failed += sum(1 for p in done if not p.ready)
    changed = bool(done) or evaluation.pairs_failed != failed
    evaluation.pairs_failed = failed
    if pending == 0 and evaluation.status == "generating":
        evaluation.status, changed = "voting", True
    if evaluation.status == "voting" and not session.scalar(select(exists().where(
        EvaluationPair.evaluation_id == evaluation.id, EvaluationPair.ready.is_(True),
        EvaluationPair.votes < evaluation.votes_per_pair,
    ))):
        _freeze(evaluation)
        changed = True
    if changed:
        evaluation.updated_at = utcnow()
        session.flush()


def _freeze(evaluation: Evaluation) -> None:
    result = stats.win_rate(evaluation.candidate_wins, evaluation.baseline_wins, evaluation.ties)
    evaluation.status, evaluation.finished_at = "completed", utcnow()
    evaluation.verdict, evaluation.win_rate = result.verdict, result.win_rate
    evaluation.ci_low, evaluation.ci_high, evaluation.p_value = result.ci_low, result.ci_high, result.p_value


def _refreshed(db: Database, evaluation_ids: Iterable[int]) -> None:
    ids = list(evaluation_ids)
    if not ids:
        return

    def run(session: Session) -> None:
        for evaluation_id in ids:
            _refresh(session, _lock(session, evaluation_id))

    db.write(run)


# --- reading --------------------------------------------------------------------------------


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
        finished_at=evaluation.finished_at,
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
    return schemas.EvaluationResult(
        candidate_wins=win.wins, baseline_wins=win.losses, ties=win.ties, win_rate=win.win_rate, ci_low=win.ci_low,
        ci_high=win.ci_high, p_value=win.p_value, verdict=win.verdict, final=evaluation.status == "completed",
        first_side_share=first.rate, first_side_ci_low=first.ci_low, first_side_ci_high=first.ci_high,
        per_rater=[schemas.RaterTally(**t) for t in sorted(tallies.values(), key=lambda t: t["name"])],
    )


def get_evaluation(db: Database, evaluation_id: int) -> schemas.EvaluationDetail:
    """An evaluation with its progress and result (provisional until completed)."""
    with db.session() as session:
        status = session.scalar(select(Evaluation.status).where(Evaluation.id == evaluation_id))
    if status is None:
        raise NotFound(f"Evaluation {evaluation_id} not found")
    if status in OPEN:
        _refreshed(db, [evaluation_id])
    with db.session() as session:
        evaluation = session.get(Evaluation, evaluation_id)
        assert evaluation is not None
        prompt_ids = list(session.scalars(select(EvaluationPair.prompt_id)
                                          .where(EvaluationPair.evaluation_id == evaluation_id)
                                          .order_by(EvaluationPair.position)))
        return schemas.EvaluationDetail(**_public(session, evaluation, _labels(session, [evaluation])),
                                        prompt_ids=prompt_ids, result=_result(session, evaluation))


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
    _refreshed(db, [eid for eid, st in page_rows if st in OPEN])
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
        evaluation = _lock(session, evaluation_id)
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


# --- listening and voting -------------------------------------------------------------------


def rater_sides(seed: int, rater_id: int, n: int) -> list[bool]:
    """Whether the candidate plays first, per pair position, for one rater: exactly half of the
    pairs each way (the odd one drawn), shuffled with a generator seeded by the evaluation and
    the rater, so two raters hear the same pair in independent orders."""
    rng = random.Random(f"{seed}:{rater_id}:sides")
    sides = [True] * (n // 2) + [False] * (n // 2)
    if n % 2:
        sides.append(rng.random() < 0.5)
    rng.shuffle(sides)
    return sides


def rater_order(seed: int, rater_id: int, n: int) -> list[int]:
    """The order in which one rater hears the pairs (positions), shuffled per rater."""
    order = list(range(n))
    random.Random(f"{seed}:{rater_id}:order").shuffle(order)
    return order


def next_pair(db: Database, evaluation_id: int, rater_id: int, slot_url: SlotUrl) -> schemas.EvaluationPairBlind | None:
    """The next ready pair this rater has not voted on, sides assigned and recorded; None when
    there is none (every ready pair voted, or the evaluation completed or was cancelled).

    Raises:
        NotFound: unknown evaluation or rater.
    """

    def run(session: Session) -> schemas.EvaluationPairBlind | None:
        evaluation = _lock(session, evaluation_id)
        raters.get_rater(session, rater_id)
        _refresh(session, evaluation)
        if evaluation.status not in OPEN:
            return None
        views = {v.pair_id: v for v in session.scalars(select(EvaluationVote).where(
            EvaluationVote.evaluation_id == evaluation_id, EvaluationVote.rater_id == rater_id))}
        ready = {p.position: p for p in session.scalars(select(EvaluationPair).where(
            EvaluationPair.evaluation_id == evaluation_id, EvaluationPair.ready.is_(True)))}
        voted = sum(1 for v in views.values() if v.choice is not None)
        chosen = None
        for position in rater_order(evaluation.seed, rater_id, evaluation.pairs_total):
            pair = ready.get(position)
            if pair is None:
                continue
            view = views.get(pair.id or 0)
            if view is None or view.choice is None:
                chosen = pair
                break
        if chosen is None:
            return None
        if chosen.id not in views:
            side = rater_sides(evaluation.seed, rater_id, evaluation.pairs_total)[chosen.position]
            session.add(EvaluationVote(evaluation_id=evaluation_id, pair_id=chosen.id or 0, rater_id=rater_id,
                                       candidate_first=side))
            session.flush()
        prompt = session.get(Prompt, chosen.prompt_id)
        assert prompt is not None
        return schemas.EvaluationPairBlind(
            evaluation_id=evaluation_id, pair_id=chosen.id or 0, prompt_text=prompt.text,
            first=schemas.EvaluationClip(stream_url=slot_url(evaluation_id, chosen.id or 0, rater_id, "first")),
            second=schemas.EvaluationClip(stream_url=slot_url(evaluation_id, chosen.id or 0, rater_id, "second")),
            voted=voted, ready=len(ready),
        )

    try:
        return db.write(run)
    except IntegrityError:  # the same rater asked twice at once: the other request recorded the sides
        return db.write(run)


def rater_progress(db: Database, evaluation_id: int, rater_id: int) -> schemas.RaterProgress:
    """How many pairs this rater has voted on, of how many ready."""
    with db.session() as session:
        evaluation = session.get(Evaluation, evaluation_id)
        if evaluation is None:
            raise NotFound(f"Evaluation {evaluation_id} not found")
        raters.get_rater(session, rater_id)
        voted = session.scalar(select(func.count()).select_from(EvaluationVote).where(
            EvaluationVote.evaluation_id == evaluation_id, EvaluationVote.rater_id == rater_id,
            EvaluationVote.choice.is_not(None))) or 0
        return schemas.RaterProgress(evaluation_id=evaluation_id, rater_id=rater_id,
                                     status=evaluation.status, voted=voted,  # type: ignore[arg-type]
                                     ready=evaluation.pairs_ready, pairs_total=evaluation.pairs_total)


def slot_clip(db: Database, evaluation_id: int, pair_id: int, rater_id: int, slot: str) -> int:
    """The clip a rater hears in ``slot`` ("first" or "second") of a pair served to them.

    Raises:
        NotFound: unknown pair, or the pair was never served to this rater.
    """
    with db.session() as session:
        row = session.execute(
            select(EvaluationVote.candidate_first, EvaluationPair.candidate_audio_id, EvaluationPair.baseline_audio_id)
            .join(EvaluationPair, EvaluationPair.id == EvaluationVote.pair_id)
            .where(EvaluationVote.pair_id == pair_id, EvaluationVote.rater_id == rater_id,
                   EvaluationVote.evaluation_id == evaluation_id)
        ).first()
    if row is None or row.candidate_audio_id is None or row.baseline_audio_id is None:
        raise NotFound(f"Pair {pair_id} of evaluation {evaluation_id} was not served to rater {rater_id}")
    candidate_heard = row.candidate_first == (slot == "first")
    return row.candidate_audio_id if candidate_heard else row.baseline_audio_id


def cast_vote(db: Database, evaluation_id: int, data: schemas.EvaluationVoteCreate) -> EvaluationVote:
    """Record one rater's vote on one pair (once), count it, store a non-tie vote as a preference.

    Raises:
        NotFound: unknown evaluation, pair (of this evaluation) or rater.
        Conflict: the evaluation is not open, the pair was not served to this rater, or the
            rater already voted on it.
    """

    def run(session: Session) -> EvaluationVote:
        evaluation = _lock(session, evaluation_id)
        pair = session.get(EvaluationPair, data.pair_id)
        if pair is None or pair.evaluation_id != evaluation_id:
            raise NotFound(f"Pair {data.pair_id} not found in evaluation {evaluation_id}")
        rater = raters.get_rater(session, data.rater_id)
        if evaluation.status not in OPEN:
            raise Conflict(f"Evaluation {evaluation_id} is {evaluation.status}: it takes no more votes")
        view = session.scalars(select(EvaluationVote).where(EvaluationVote.pair_id == pair.id,
                                                            EvaluationVote.rater_id == rater.id)).first()
        if view is None:
            raise Conflict(f"Pair {pair.id} was not served to rater {rater.id}: "
                           f"GET /api/evaluations/{evaluation_id}/next first")
        now = utcnow()
        claimed = session.execute(update(EvaluationVote).where(EvaluationVote.id == view.id,
                                                               EvaluationVote.choice.is_(None))
                                  .values(choice=data.choice, voted_at=now)).rowcount
        if not claimed:
            raise Conflict(f"Rater {rater.id} already voted on pair {pair.id}")
        first_is_candidate = view.candidate_first
        if data.choice == "tie":
            winner = "tie"
        else:
            winner = "candidate" if (data.choice == "first") == first_is_candidate else "baseline"
        preference_id = None
        if winner != "tie":
            chosen, rejected = ((pair.candidate_audio_id, pair.baseline_audio_id) if winner == "candidate"
                                else (pair.baseline_audio_id, pair.candidate_audio_id))
            chosen_adapter, rejected_adapter = ((evaluation.candidate_id, evaluation.baseline_id)
                                                if winner == "candidate"
                                                else (evaluation.baseline_id, evaluation.candidate_id))
            preference = Preference(prompt_id=pair.prompt_id, chosen_id=chosen or 0, rejected_id=rejected or 0,
                                    chosen_adapter_id=chosen_adapter, rejected_adapter_id=rejected_adapter, tie=False,
                                    rater=rater.name, rater_id=rater.id, evaluation_id=evaluation_id, created_at=now)
            session.add(preference)
            session.flush()
            preference_id = preference.id
            raters.note_preferences(session, rater.id or 0, 1)
            bump(session, {"preferences.pairs": 1})
        session.execute(update(EvaluationVote).where(EvaluationVote.id == view.id)
                        .values(winner=winner, preference_id=preference_id))
        pair.votes += 1
        evaluation.votes += 1
        if winner == "tie":
            evaluation.ties += 1
        else:
            evaluation.candidate_wins += winner == "candidate"
            evaluation.baseline_wins += winner == "baseline"
            evaluation.first_wins += data.choice == "first"
        evaluation.updated_at = now
        session.flush()
        _refresh(session, evaluation)
        session.refresh(view)
        return view

    return db.write(run)


# --- the verdict on adapters and the activation gate ---------------------------------------


def latest_verdicts(session: Session, adapter_ids: Iterable[int]) -> dict[int, schemas.AdapterVerdict]:
    """Each adapter's latest completed evaluation against the base model, in one query."""
    ids = list(set(adapter_ids))
    if not ids:
        return {}
    latest = (select(func.max(Evaluation.id)).where(
        Evaluation.candidate_id.in_(ids), Evaluation.baseline_id.is_(None), Evaluation.status == "completed")
        .group_by(Evaluation.candidate_id))
    return {
        e.candidate_id: schemas.AdapterVerdict(
            verdict=e.verdict or "inconclusive", evaluation_id=e.id, win_rate=e.win_rate, ci_low=e.ci_low,
            ci_high=e.ci_high, p_value=e.p_value, votes=e.votes)
        for e in session.scalars(select(Evaluation).where(Evaluation.id.in_(latest)))
    }


def gate_reason(session: Session, adapter: Adapter) -> str | None:
    """Why the evaluation gate refuses to activate this adapter; None when it may be activated."""
    verdict = latest_verdicts(session, [adapter.id or 0]).get(adapter.id or 0)
    label = f"Adapter '{adapter.name}' {adapter.version}"
    how = ("evaluate it against the base model, or activate with force and a reason "
           '({"force": true, "reason": "..."})')
    if verdict is None:
        return f"{label} has no completed evaluation against the base model (TD_REQUIRE_EVALUATION is on): {how}"
    if verdict.verdict != "better":
        interval = (f", 95% CI {verdict.ci_low:.2f}-{verdict.ci_high:.2f}"
                    if verdict.ci_low is not None and verdict.ci_high is not None else "")
        rate = f"win rate {verdict.win_rate:.2f}" if verdict.win_rate is not None else "no decisive votes"
        return (f"{label}: its latest evaluation against the base model (#{verdict.evaluation_id}) is "
                f"'{verdict.verdict}' ({rate}{interval}), not 'better' (TD_REQUIRE_EVALUATION is on): {how}")
    return None


def activate_adapter(db: Database, adapter_id: int, *, require_evaluation: bool, force: bool = False,
                     reason: str | None = None) -> None:
    """Activate an adapter. With ``require_evaluation`` the latest completed evaluation against
    the base model must say "better", unless ``force`` with a ``reason`` (kept on the adapter).

    Raises:
        NotFound: unknown adapter.
        Conflict: the gate refuses (the message says why).
    """

    def run(session: Session) -> None:
        adapter = session.get(Adapter, adapter_id)
        if adapter is None:
            raise NotFound(f"Adapter {adapter_id} not found")
        now = utcnow()
        if require_evaluation:
            refused = gate_reason(session, adapter)
            if refused and not force:
                raise Conflict(refused)
            if refused:
                adapter.forced_activation_reason, adapter.forced_activation_at = reason, now
            else:  # earned: an earlier override no longer describes this activation
                adapter.forced_activation_reason, adapter.forced_activation_at = None, None
        adapter.is_active, adapter.updated_at = True, now

    db.write(run)


def require_gate(db: Database, adapter_id: int) -> None:
    """Raise Conflict when the evaluation gate refuses this adapter (for other activation routes)."""
    with db.session() as session:
        adapter = session.get(Adapter, adapter_id)
        if adapter is None:
            raise NotFound(f"Adapter {adapter_id} not found")
        if adapter.is_active:
            return
        refused = gate_reason(session, adapter)
    if refused:
        raise Conflict(refused)
