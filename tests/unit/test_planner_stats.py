"""SQLite planner statistics on a database that grew from empty (issue 9 item 3)."""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack
from datetime import UTC, datetime

from sqlalchemy import event, insert, text

from training_dashboard import schemas
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade
from training_dashboard.db.models import Adapter, AudioSample, Prompt, Rating
from training_dashboard.services.feedback import list_feedback

N_RATINGS = 12_000
ADAPTERS = 5


def _grow(db: Database) -> None:
    """Rows arrive after the schema exists, in many transactions, as in a user's database."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with db.engine.begin() as conn:
        conn.execute(insert(Prompt), [{"text": "p", "instruments": [], "created_at": now}])
        conn.execute(insert(Adapter), [{"name": f"a{i}", "version": "1.0.0", "base_model": "tiny", "path": f"/a{i}",
                                        "training_config": {}, "report": {}, "is_active": True, "created_at": now,
                                        "updated_at": now} for i in range(1, ADAPTERS + 1)])
        conn.execute(insert(AudioSample), [{"prompt_id": 1, "adapter_id": a or None, "seed": a, "duration": 1.0,
                                            "sample_rate": 32000, "file_path": "a.wav", "params": {},
                                            "created_at": now} for a in range(ADAPTERS + 1)])
    for start in range(0, N_RATINGS, 2_000):
        with db.engine.begin() as conn:
            conn.execute(insert(Rating), [{"audio_id": i % (ADAPTERS + 1) + 1, "prompt_id": 1,
                                           "adapter_id": i % (ADAPTERS + 1) or None, "rating": i % 5 + 1, "tags": [],
                                           "created_at": now} for i in range(start, start + 2_000)])


def _feedback_page_sql(db: Database) -> tuple[str, tuple]:  # type: ignore[type-arg]
    """The SELECT that GET /api/feedback?adapter_id=2&min_rating=4&page=2&limit=50 runs."""
    seen: list[tuple[str, tuple]] = []  # type: ignore[type-arg]

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "ORDER BY rating.id DESC" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        list_feedback(db, audio_id=None, prompt_id=None, flt=schemas.DatasetFilter(min_rating=4, adapter_id=2),
                      page=2, limit=50)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert len(seen) == 1
    return seen[0]


def _plans(db: Database, sql: str, params: tuple, n: int = 3) -> list[str]:  # type: ignore[type-arg]
    """The plan as seen by ``n`` pooled connections at once (each keeps the statistics it loaded)."""
    with ExitStack() as stack:
        sessions = [stack.enter_context(db.session()) for _ in range(n)]
        return [" | ".join(row[3] for row in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
                for s in sessions]


def _stat_rows(db: Database, table: str) -> int:
    with db.session() as s:
        return s.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}) or 0


def test_database_grown_while_running_gets_statistics_and_the_newest_first_plan(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'grown.db'}")
    upgrade(db)  # a new user's database: the schema first, empty
    assert _stat_rows(db, "rating") == 0
    sql, params = _feedback_page_sql(db)
    _plans(db, sql, params)  # pooled connections load the schema while there are no statistics
    _grow(db)
    assert db.planner_stats is not None
    db.planner_stats.wait()
    assert _stat_rows(db, "rating") > 0
    for plan in _plans(db, sql, params):
        assert "USING INDEX ix_rating_adapter_id" in plan and "TEMP B-TREE" not in plan, plan
    page = list_feedback(db, audio_id=None, prompt_id=None, flt=schemas.DatasetFilter(min_rating=4, adapter_id=2),
                         page=2, limit=50)
    expected = sorted((i + 1 for i in range(N_RATINGS) if i % (ADAPTERS + 1) == 2 and i % 5 + 1 >= 4), reverse=True)
    assert page.total == len(expected) and [r.id for r in page.items] == expected[50:100]
    db.dispose()


def test_start_up_analyses_a_database_that_grew_while_the_app_was_off(tmp_path):
    path = tmp_path / "offline.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    assert db.planner_stats is not None
    db.planner_stats.analyze_after_rows = 10**9  # rows written by some other program
    _grow(db)
    db.dispose()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'rating'").fetchone() == (0,)

    db = Database(f"sqlite:///{path}")
    upgrade(db)  # what the app and the worker run at start-up
    assert _stat_rows(db, "rating") > 0
    sql, params = _feedback_page_sql(db)
    for plan in _plans(db, sql, params):
        assert "USING INDEX ix_rating_adapter_id" in plan and "TEMP B-TREE" not in plan, plan
    db.dispose()
