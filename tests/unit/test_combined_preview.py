"""The preview with every filter at once (issue 21 item 5): one covering index range of an
adapter's ratings in the date range, excluded tags probed per candidate, and the count is
still what the snapshot stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event, insert

from training_dashboard import schemas
from training_dashboard.db.models import Adapter, AudioSample, Prompt, Rating, RatingTag
from training_dashboard.services import datasets
from training_dashboard.services.filters import supervised_query

N_RATINGS = 6_000
TAGS = ["warm", "noisy", "bright"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def _row(i: int) -> dict:  # type: ignore[type-arg]
    return {"audio_id": i % 12 + 1, "prompt_id": 1, "adapter_id": i % 3 or None, "rating": i % 5 + 1, "tags": [],
            "created_at": START + timedelta(days=i % 90, seconds=i)}


def _tags(i: int) -> list[str]:
    return [t for k, t in enumerate(TAGS) if i % (k + 2) == 0]


def _grow(db) -> None:  # type: ignore[no-untyped-def]
    """Rows arrive after the schema exists, in several transactions (the app's own statistics)."""
    with db.engine.begin() as conn:
        conn.execute(insert(Prompt), [{"text": "p", "instruments": [], "created_at": START}])
        conn.execute(insert(Adapter), [{"name": f"a{i}", "version": "1.0.0", "base_model": "tiny", "path": f"/a{i}",
                                        "training_config": {}, "report": {}, "is_active": True, "created_at": START,
                                        "updated_at": START} for i in (1, 2)])
        conn.execute(insert(AudioSample), [{"prompt_id": 1, "adapter_id": a % 3 or None, "seed": a, "duration": 1.0,
                                            "sample_rate": 32000, "file_path": "a.wav", "params": {},
                                            "created_at": START} for a in range(12)])
    for start in range(0, N_RATINGS, 2_000):
        with db.engine.begin() as conn:
            conn.execute(insert(Rating), [_row(i) for i in range(start, start + 2_000)])
            conn.execute(insert(RatingTag), [{"rating_id": i + 1, "tag": t} for i in range(start, start + 2_000)
                                             for t in _tags(i)])
    db.refresh_planner_stats()


def _expected(flt: schemas.DatasetFilter) -> list[int]:
    first, last = START.date() + timedelta(days=30), START.date() + timedelta(days=59)
    assert (flt.start_date, flt.end_date) == (first, last)
    kept = []
    for i in range(N_RATINGS):
        row, tags = _row(i), set(_tags(i))
        if (row["adapter_id"] == flt.adapter_id and first <= row["created_at"].date() <= last
                and set(flt.required_tags) <= tags and not set(flt.excluded_tags) & tags):
            kept.append(i)
    if flt.aggregate == "rating":
        return [i + 1 for i in kept if _row(i)["rating"] >= (flt.min_rating or 1)]
    by_clip: dict[int, list[int]] = {}
    for i in kept:
        by_clip.setdefault(_row(i)["audio_id"], []).append(i)
    return [i + 1 for ids in by_clip.values() if sum(_row(i)["rating"] for i in ids) >= (flt.min_rating or 1) * len(ids)
            for i in ids]


def _combined(**extra) -> schemas.DatasetFilter:  # type: ignore[no-untyped-def]
    fields = {"min_rating": 4, "required_tags": ["warm"], "excluded_tags": ["noisy"], "adapter_id": 1,
              "start_date": date(2026, 1, 31), "end_date": date(2026, 3, 1)}
    return schemas.DatasetFilter(**{**fields, **extra})


def test_combined_preview_counts_what_the_snapshot_stores(db):
    _grow(db)
    for i, flt in enumerate([_combined(), _combined(aggregate="clip", min_rating=3),
                             _combined(excluded_tags=["noisy", "bright"], min_rating=3)]):
        expected = _expected(flt)
        assert expected, flt  # the data exercises every clause
        items = len({_row(r - 1)["audio_id"] for r in expected}) if flt.aggregate == "clip" else len(expected)
        assert datasets.preview_count(db, "supervised", flt) == items, flt
        snapshot = datasets.snapshot_dataset(db, schemas.DatasetCreate(name=f"c{i}", type="supervised", filter=flt))
        with db.session() as s:
            assert sorted(s.scalars(supervised_query(flt))) == expected
        assert snapshot.sample_count == items, flt


def test_combined_preview_reads_one_index_range_and_probes_excluded_tags(db):
    if not db.is_sqlite:
        return  # the plan below is SQLite's; PostgreSQL's is in bench/README.md (EXPLAIN ANALYZE)
    _grow(db)
    seen: list[tuple[str, tuple]] = []  # type: ignore[type-arg]

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "rating_tag" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        datasets.preview_count(db, "supervised", _combined())
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert len(seen) == 1
    with db.session() as s:
        plan = " | ".join(row[3] for row in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {seen[0][0]}",
                                                                           seen[0][1]))
    assert "COVERING INDEX ix_rating_adapter_created (adapter_id=? AND created_at>? AND created_at<?)" in plan, plan
    # The excluded tag is a per-candidate key probe, not a temporary list of all its ratings.
    assert "(tag=? AND rating_id=?)" in plan and plan.count("LIST SUBQUERY") <= 1, plan
