"""Migration 0010_listening: judgements made before listening data existed count as made without
it (the running figures equal a recomputation), and the downgrade removes what it added."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, select

from tests.factories import make_clips
from training_dashboard import schemas
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.migrate import alembic_config, upgrade
from training_dashboard.db.models import RaterListening
from training_dashboard.services import feedback, prompts, raters
from training_dashboard.services.quality import compute_quality, feedback_quality


def test_0010_backfills_judgements_and_downgrades(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", base_model="tiny", worker=False)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    upgrade(db)
    pid = prompts.create_prompt(db, schemas.PromptCreate(text="old feedback")).id or 0
    clips = make_clips(db, settings, pid, n=2)
    a, b = (raters.create_rater(db, schemas.RaterCreate(name=n)).id for n in "AB")
    heard = schemas.Listening(clips=[schemas.ClipHeard(audio_id=clips[0], heard_s=0.5, duration_s=0.5)])
    feedback.create_rating(db, schemas.FeedbackCreate(audio_id=clips[0], rating=4, rater_id=a, listening=heard))
    feedback.create_rating(db, schemas.FeedbackCreate(audio_id=clips[1], rating=2, rater_id=a))
    feedback.create_preference(db, schemas.PreferenceCreate(chosen_id=clips[0], rejected_id=clips[1], rater_id=b,
                                                            reason="warmer"))
    cfg = alembic_config(db.url)
    with db.engine.connect() as connection:  # as db.migrate.upgrade runs them: foreign keys off for table rebuilds
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        cfg.attributes["connection"] = connection.execution_options(td_write=True)
        command.downgrade(cfg, "0009")
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    with db.engine.connect() as connection:
        inspector = inspect(connection)
        assert not {"listening", "rater_listening", "heard_count"} & set(inspector.get_table_names())
        assert not {"decision_ms", "heard_fraction", "imported"} & {c["name"] for c in inspector.get_columns("rating")}
        assert "reason" not in {c["name"] for c in inspector.get_columns("preference")}
    db.dispose()
    db = Database(settings.db_url)
    upgrade(db)  # the feedback is now "from before": no listening data anywhere
    with db.session() as session:
        rows = {r.rater_id: (r.judgements, r.listened) for r in session.scalars(select(RaterListening))}
        assert rows == {a: (2, 0), b: (1, 0)}
        assert feedback_quality(db, 4) == compute_quality(session, 4)
    assert all(r.unattentive for r in feedback_quality(db, 4).raters)
    db.dispose()
