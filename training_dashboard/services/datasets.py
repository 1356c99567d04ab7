"""Datasets: preview, frozen snapshots, their statistics, listing and deletion.

Export lives in :mod:`training_dashboard.services.exports`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, insert, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.models import (
    Adapter,
    Dataset,
    DatasetExport,
    DatasetMember,
    Preference,
    Rater,
    Rating,
    RatingTag,
)
from training_dashboard.services.counters import adapter_key, adapter_labels
from training_dashboard.services.dataset_lock import dataset_lock
from training_dashboard.services.dataset_runs import refuse_if_active_runs, stop_runs
from training_dashboard.services.errors import Conflict, NotFound
from training_dashboard.services.filters import count_of, items_query, query_for, rating_clauses, supervised_query

# How long a delete waits for a running export of the same dataset before answering 409.
DELETE_WAIT_S = 30.0


def preview_count(db: Database, kind: str, flt: schemas.DatasetFilter) -> int:
    """How many items a dataset with this filter would hold right now."""
    with db.session() as session:
        rating_level = flt.aggregate == "rating"
        if kind == "supervised" and rating_level and flt.required_tags and not _rating_level(flt):
            return session.scalar(_tags_only_count(flt)) or 0
        if kind == "supervised" and rating_level and flt.excluded_tags and not flt.required_tags:
            # count(A \ E) = count(A) - count(A ∩ E): two index-driven counts instead of an
            # anti-join that probes the excluded set once per rating of A (1M probes when A is
            # everything). With required tags A is already enumerated row by row, so the plain
            # NOT IN below costs less than enumerating it twice.
            # One statement, so both counts come from the same snapshot on PostgreSQL too.
            kept = supervised_query(flt.model_copy(update={"excluded_tags": []}))
            if _rating_level(flt):
                dropped = count_of(kept.where(
                    Rating.id.in_(select(RatingTag.rating_id).where(RatingTag.tag.in_(flt.excluded_tags)))))
            else:  # A is every rating: A ∩ E is read from rating_tag alone, no probe into rating
                dropped = select(func.count(func.distinct(RatingTag.rating_id))).where(
                    RatingTag.tag.in_(flt.excluded_tags))
            # A plain count(*) FROM rating (not over a subquery): SQLite counts a whole table
            # from its smallest index 2.5x faster that way.
            kept_count = select(func.count()).select_from(Rating).where(*rating_clauses(flt.model_copy(
                update={"excluded_tags": []})))
            return session.scalar(select(kept_count.scalar_subquery() - dropped.scalar_subquery())) or 0
        return session.scalar(count_of(items_query(kind, flt))) or 0


def _rating_level(flt: schemas.DatasetFilter) -> bool:
    """Whether the filter constrains columns of ``rating`` (not only its tags)."""
    return bool(flt.rater_ids) or any(v is not None for v in (
        flt.min_rating, flt.max_rating, flt.adapter_id, flt.start_date, flt.end_date, flt.min_raters))


def _tags_only_count(flt: schemas.DatasetFilter):  # type: ignore[no-untyped-def]
    """count(supervised_query(flt)) for a filter on tags alone, read from rating_tag only.

    Every rating_tag row belongs to a rating (foreign key) and (tag, rating_id) is its key,
    so the ratings carrying the first required tag are its rows in rating_tag: the count
    walks that key range instead of joining every rating (PostgreSQL hashed all 1M ratings
    for one tag: 0.45 s at 1M).
    """
    first, *rest = flt.required_tags
    query = select(func.count()).select_from(RatingTag).where(RatingTag.tag == first)
    for tag in rest:
        other = aliased(RatingTag)
        query = query.where(RatingTag.rating_id.in_(select(other.rating_id).where(other.tag == tag)))
    if flt.excluded_tags:
        other = aliased(RatingTag)
        query = query.where(RatingTag.rating_id.not_in(select(other.rating_id).where(other.tag.in_(flt.excluded_tags))))
    return query


def snapshot_dataset(db: Database, data: schemas.DatasetCreate, created_by: int | None = None) -> Dataset:
    """Create a dataset and freeze its members with the same query the preview counts; ``created_by`` a user id.

    Raises:
        Conflict: the name is taken.
        NotFound: the filter names an unknown adapter.
    """
    query = query_for(data.type, data.filter)

    def run(session: Session) -> Dataset:
        if isinstance(data.filter.adapter_id, int) and session.get(Adapter, data.filter.adapter_id) is None:
            raise NotFound(f"Adapter {data.filter.adapter_id} not found")
        if data.filter.rater_ids:
            known = set(session.scalars(select(Rater.id).where(Rater.id.in_(data.filter.rater_ids))))
            missing = [r for r in data.filter.rater_ids if r not in known]
            if missing:
                raise NotFound(f"Rater {missing[0]} not found")
        if session.scalar(select(Dataset.id).where(Dataset.name == data.name)) is not None:
            raise Conflict(f"A dataset named '{data.name}' already exists; choose another name")
        dataset = Dataset(name=data.name, description=data.description, type=data.type,
                          filter=data.filter.model_dump(mode="json"), created_by=created_by)
        session.add(dataset)
        session.flush()
        ids = query.subquery()
        # The insert's row count is the size (a second pass counted 500k fresh rows again).
        dataset.sample_count = session.execute(
            insert(DatasetMember).from_select(["dataset_id", "item_id"], select(literal(dataset.id), ids.c.id)),
            execution_options={"preserve_rowcount": True},
        ).rowcount
        if session.get_bind().dialect.name == "postgresql":
            # PostgreSQL's planner has never seen this dataset_id and estimates one member:
            # the statistics queries then probe rating once per member (22 s for 500k). ANALYZE
            # samples a bounded number of rows, and sees this transaction's own inserts.
            session.execute(text("ANALYZE dataset_member"))
        if data.type == "supervised" and data.filter.aggregate == "clip":  # one item per clip
            dataset.sample_count = session.scalar(
                select(func.count(func.distinct(Rating.audio_id))).join(
                    DatasetMember, (DatasetMember.item_id == Rating.id) & (DatasetMember.dataset_id == dataset.id))
            ) or 0
            dataset.stats = _clip_stats(session, dataset)
            return dataset
        dataset.stats = _compute_stats(session, dataset)
        return dataset

    try:
        return db.write(run)
    except IntegrityError as exc:  # a concurrent create took the name between check and insert
        raise Conflict(f"A dataset named '{data.name}' already exists; choose another name") from exc


def _compute_stats(session: Session, dataset: Dataset) -> dict:  # type: ignore[type-arg]
    members = select(DatasetMember.item_id).where(DatasetMember.dataset_id == dataset.id)
    if dataset.type == "supervised":
        member = (DatasetMember.item_id == Rating.id) & (DatasetMember.dataset_id == dataset.id)
        # One pass gives both the distribution and the per-adapter counts (was two passes,
        # each over a subquery selecting every column of rating).
        distribution: dict[int, int] = {}
        adapter_counts: dict[int | None, int] = {}
        for rating, adapter_id, n in session.execute(
            select(Rating.rating, Rating.adapter_id, func.count()).join(DatasetMember, member)
            .group_by(Rating.rating, Rating.adapter_id)
        ):
            distribution[rating] = distribution.get(rating, 0) + n
            adapter_counts[adapter_id] = adapter_counts.get(adapter_id, 0) + n
        per_adapter = list(adapter_counts.items())
        unique_prompts = session.scalar(
            select(func.count(func.distinct(Rating.prompt_id))).join(DatasetMember, member)
        ) or 0
        tags = session.execute(
            select(RatingTag.tag, func.count()).where(RatingTag.rating_id.in_(members))
            .group_by(RatingTag.tag).order_by(func.count().desc(), RatingTag.tag).limit(100)
        ).all()
    else:
        rows = select(Preference).where(Preference.id.in_(members)).subquery()
        distribution, tags = {}, []
        unique_prompts = session.scalar(select(func.count(func.distinct(rows.c.prompt_id)))) or 0
        per_adapter = session.execute(
            select(rows.c.chosen_adapter_id, func.count()).group_by(rows.c.chosen_adapter_id)
        ).all()
    return {
        "rating_distribution": {str(r): int(distribution.get(r, 0)) for r in range(1, 6)} if distribution else {},
        "unique_prompts": int(unique_prompts),
        "samples_by_adapter": {adapter_key(a): int(n) for a, n in per_adapter},
        "tag_frequencies": {t: int(n) for t, n in tags},
    }


def _clip_stats(session: Session, dataset: Dataset) -> dict:  # type: ignore[type-arg]
    """Statistics of a per-clip dataset: clips by rounded mean rating and by adapter."""
    member = (DatasetMember.item_id == Rating.id) & (DatasetMember.dataset_id == dataset.id)
    per_clip = (select(Rating.audio_id, Rating.adapter_id, Rating.prompt_id, func.sum(Rating.rating).label("s"),
                       func.count().label("n"))
                .join(DatasetMember, member).group_by(Rating.audio_id, Rating.adapter_id, Rating.prompt_id))
    distribution: dict[str, int] = {str(r): 0 for r in range(1, 6)}
    by_adapter: dict[str, int] = {}
    prompts = set()
    for _, adapter_id, prompt_id, total, n in session.execute(per_clip):
        star = str(min(5, max(1, int(total / n + 0.5))))  # half up, the way people round stars
        distribution[star] += 1
        by_adapter[adapter_key(adapter_id)] = by_adapter.get(adapter_key(adapter_id), 0) + 1
        prompts.add(prompt_id)
    tags = session.execute(
        select(RatingTag.tag, func.count(func.distinct(Rating.audio_id)))
        .join(Rating, Rating.id == RatingTag.rating_id).join(DatasetMember, member)
        .group_by(RatingTag.tag).order_by(func.count(func.distinct(Rating.audio_id)).desc(), RatingTag.tag).limit(100)
    ).all()
    return {"rating_distribution": distribution if by_adapter else {}, "unique_prompts": len(prompts),
            "samples_by_adapter": by_adapter, "tag_frequencies": {t: int(n) for t, n in tags}}


def dataset_stats(db: Database, dataset_id: int) -> schemas.DatasetStats:
    """Statistics of the frozen membership (computed at snapshot time)."""
    with db.session() as session:
        dataset = _get(session, dataset_id)
        stats = dict(dataset.stats)
        counts = stats.get("samples_by_adapter", {})
        labels = adapter_labels(session, counts)
    by_adapter = {labels[k]: n for k, n in counts.items()}
    return schemas.DatasetStats(
        dataset_id=dataset_id, sample_count=dataset.sample_count,
        rating_distribution=stats.get("rating_distribution", {}), unique_prompts=stats.get("unique_prompts", 0),
        samples_by_adapter=by_adapter, tag_frequencies=stats.get("tag_frequencies", {}),
    )


def _get(session: Session, dataset_id: int) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"Dataset {dataset_id} not found")
    return dataset


def dataset_public(dataset: Dataset, exports: list[DatasetExport], adapter_count: int) -> schemas.DatasetPublic:
    from training_dashboard.services.exports import export_public

    return schemas.DatasetPublic(
        id=dataset.id or 0, name=dataset.name, description=dataset.description, type=dataset.type,  # type: ignore[arg-type]
        filter=schemas.DatasetFilter.model_validate(dataset.filter), sample_count=dataset.sample_count,
        created_at=dataset.created_at, updated_at=dataset.updated_at,
        exports=[export_public(e, dataset) for e in exports], adapter_count=adapter_count,
        created_by=dataset.created_by,
    )


def _exports_of(session: Session, ids: list[int | None]) -> dict[int, list[DatasetExport]]:
    exports: dict[int, list[DatasetExport]] = {}
    # Plain rows (they quack like DatasetExport): no ORM identity-map work for a list page.
    for e in session.execute(select(*DatasetExport.__table__.columns).where(DatasetExport.dataset_id.in_(ids))
                             .order_by(DatasetExport.id)):
        exports.setdefault(e.dataset_id, []).append(e)  # type: ignore[arg-type]
    return exports


def _publics(session: Session, datasets: list[Dataset]) -> list[schemas.DatasetPublic]:
    ids = [d.id for d in datasets]
    exports = _exports_of(session, ids)
    counts = dict(session.execute(
        select(Adapter.dataset_id, func.count()).where(Adapter.dataset_id.in_(ids)).group_by(Adapter.dataset_id)
    ).all())
    return [dataset_public(d, exports.get(d.id or 0, []), counts.get(d.id, 0)) for d in datasets]


def get_dataset(db: Database, dataset_id: int) -> schemas.DatasetPublic:
    with db.session() as session:
        return _publics(session, [_get(session, dataset_id)])[0]


def list_datasets(db: Database, page: int, limit: int) -> schemas.Page[schemas.DatasetPublic]:
    """Newest first."""
    # Two queries instead of four: the page carries the total and each dataset's adapter
    # count; plain rows (no ORM objects, no stats column) quack like Dataset.
    adapter_count = select(func.count()).where(Adapter.dataset_id == Dataset.id).scalar_subquery()
    columns = [c for c in Dataset.__table__.columns if c.name != "stats"]
    with db.session() as session:
        rows = session.execute(
            select(*columns, func.count().over().label("total"), adapter_count.label("adapter_count"))
            .order_by(Dataset.id.desc()).offset((page - 1) * limit).limit(limit)
        ).all()
        total = rows[0].total if rows else session.scalar(select(func.count()).select_from(Dataset)) or 0
        exports = _exports_of(session, [r.id for r in rows])
    items = [dataset_public(r, exports.get(r.id, []), r.adapter_count) for r in rows]  # type: ignore[arg-type]
    return schemas.Page[schemas.DatasetPublic](items=items, total=total)


def delete_dataset(db: Database, exports_dir: Path, dataset_id: int, *, cancel_runs: bool = False,
                   stop_wait_s: float | None = None) -> None:
    """Delete a dataset, its snapshot and its export directories.

    A queued or running training run reads the dataset's export (when it starts, and again when
    it resumes on this or another worker), so a dataset with such runs is not deleted: that
    would fail them later with "export missing". With ``cancel_runs`` they are cancelled first,
    as the Cancel button does it (a queued run at once; a running one is asked to stop after its
    current step, keeping its checkpoint), and the delete waits up to ``stop_wait_s`` seconds
    (default ``dataset_runs.RUN_STOP_WAIT_S``) for the running ones to stop: the export goes only
    once nothing reads it any more. A run that finishes its last step before the cancel lands
    registers its adapter, and then the delete is refused as for any dataset an adapter was
    trained on.

    Holds the dataset's lock (the one an export and a run's creation hold), so it never
    interleaves with an export of the same dataset or a run queued on it: it waits for a running
    one, up to ``DELETE_WAIT_S`` seconds. The export directories are moved aside before the rows
    go and put back if the delete fails, so none outlives its dataset, even after a crash
    (start-up recovery removes what was moved aside).

    Raises:
        NotFound: unknown dataset.
        Conflict: an adapter was trained on it (its provenance would dangle); it has queued or running
            training runs (without ``cancel_runs``), or its cancelled runs were still stopping after
            ``stop_wait_s`` seconds; or an export of it kept running for ``DELETE_WAIT_S`` seconds.
    """
    from training_dashboard.services.exports import exports_set_aside

    busy = (f"Dataset {dataset_id} is being exported; delete it again when the export finishes "
            f"(waited {DELETE_WAIT_S:.0f} s)")
    with db.session() as session:
        _get(session, dataset_id)  # a cheap 404 before touching the lock directory
        _refuse_if_trained_on(session, dataset_id)  # before cancelling anything for a delete that cannot be
        if not cancel_runs:
            refuse_if_active_runs(session, dataset_id)
    if cancel_runs:
        stop_runs(db, dataset_id, stop_wait_s)
    with dataset_lock(exports_dir, dataset_id, DELETE_WAIT_S, busy):
        with db.session() as session:
            _get(session, dataset_id)
            _refuse_if_trained_on(session, dataset_id)
            refuse_if_active_runs(session, dataset_id)  # one queued since: no run is queued while we hold the lock
            recorded = list(session.scalars(select(DatasetExport.path).where(DatasetExport.dataset_id == dataset_id)))

        def run(session: Session) -> None:
            # FOR UPDATE (PostgreSQL): an export recording itself from a process without our file
            # lock finishes first, and its row is then deleted with the others below.
            if session.scalar(select(Dataset.id).where(Dataset.id == dataset_id).with_for_update()) is None:
                raise NotFound(f"Dataset {dataset_id} not found")
            _refuse_if_trained_on(session, dataset_id)
            refuse_if_active_runs(session, dataset_id)  # a run resumed meanwhile (resume checks the dataset too)
            session.execute(delete(DatasetExport).where(DatasetExport.dataset_id == dataset_id))
            session.execute(delete(DatasetMember).where(DatasetMember.dataset_id == dataset_id))
            session.execute(delete(Dataset).where(Dataset.id == dataset_id))

        try:
            with exports_set_aside(exports_dir, dataset_id, recorded):
                db.write(run)
        except IntegrityError as exc:  # PostgreSQL: an adapter naming it was registered meanwhile
            raise Conflict(f"Dataset {dataset_id} became the training data of an adapter; delete that first") from exc


def _refuse_if_trained_on(session: Session, dataset_id: int) -> None:
    adapters = session.scalars(select(Adapter).where(Adapter.dataset_id == dataset_id)).all()
    if adapters:
        names = ", ".join(f"{a.name}@{a.version}" for a in adapters[:5])
        raise Conflict(f"Dataset {dataset_id} is the training data of adapter(s) {names}; delete those first")
