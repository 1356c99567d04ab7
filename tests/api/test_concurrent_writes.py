"""Raters writing at once through the services: every write succeeds, every aggregate adds up
(issue 21 item 8; SQLite's writer lock, PostgreSQL's row locks and the multi-row upserts)."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from tests.factories import make_clips, run_concurrently
from training_dashboard import schemas
from training_dashboard.db.models import Preference, Rating
from training_dashboard.services import feedback, prompts, raters
from training_dashboard.services.agreement import rebuild_agreement
from training_dashboard.services.counters import read_counters, rebuild_counters
from training_dashboard.services.quality import compute_quality, feedback_quality

THREADS = 8
WRITES = 12


def test_concurrent_raters_all_succeed_and_aggregates_add_up(db, settings):
    prompt = prompts.create_prompt(db, schemas.PromptCreate(text="racing raters",
                                                           attributes={"style": "jazz", "mood": "calm"}))
    clips = make_clips(db, settings, prompt.id or 0, n=4)
    rater_ids = [raters.create_rater(db, schemas.RaterCreate(name=f"r{i}")).id for i in range(THREADS)]
    start = threading.Barrier(THREADS)

    def rater(index: int) -> None:
        start.wait(30)
        for n in range(WRITES):
            clip = clips[(index + n) % len(clips)]
            if n % 4 == 3:
                other = clips[(index + n + 1) % len(clips)]
                feedback.create_preference(db, schemas.PreferenceCreate(
                    chosen_id=clip, rejected_id=other, rater_id=rater_ids[index]))
            else:
                feedback.create_rating(db, schemas.FeedbackCreate(
                    audio_id=clip, rating=1 + (index + n) % 5, rater_id=rater_ids[index], tags=["warm", "dark"]))

    errors = run_concurrently(rater, THREADS)
    assert errors == []
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == THREADS * WRITES * 3 // 4
        assert session.scalar(select(func.count()).select_from(Preference)) == THREADS * WRITES // 4
        counters = read_counters(session)
        direct = compute_quality(session, settings.readiness_min_rating)
    served = feedback_quality(db, settings.readiness_min_rating)  # from the incremental agreement tables
    assert served == direct
    assert served.agreement.clips > 0
    assert counters["preferences.pairs"] == THREADS * WRITES // 4
    with db.write_session() as session:
        rebuild_counters(session)
        rebuild_agreement(session)
    with db.session() as session:
        assert read_counters(session) == counters
    assert feedback_quality(db, settings.readiness_min_rating) == served
