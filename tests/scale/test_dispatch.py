"""The app's outbox on a real Redis broker: queued work is sent once, as its id, to its queue;
a broker that is down leaves it queued (nothing lost) and it is sent when the broker is back."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from sqlalchemy import update

from tests.hardening.server import free_port
from training_dashboard import schemas
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade
from training_dashboard.db.models import GenerationJob, utcnow
from training_dashboard.services import dispatch, jobs, prompts
from training_dashboard.worker.dispatcher import Dispatcher


@pytest.fixture
def app_db(tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "data", base_model="tiny", worker=False)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    upgrade(db)
    yield settings, db
    db.dispose()


def queued_messages(broker_url: str, queue: str) -> list[dict]:
    raw = redis.Redis.from_url(broker_url).lrange(queue, 0, -1)
    return [json.loads(m)["headers"] for m in raw]


def test_queued_jobs_are_sent_once_as_their_id(app_db, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    settings, db = app_db
    prompt = prompts.create_prompt(db, schemas.PromptCreate(text="calm piano"))
    ids = [jobs.enqueue_job(db, prompt.id or 0, None, 1, {}, "tiny").id for _ in range(3)]
    dispatcher = Dispatcher(settings.model_copy(update={"broker_url": broker_url}), db)
    try:
        assert dispatcher.send_pending() == 3
        assert dispatcher.send_pending() == 0  # stamped: never sent twice
    finally:
        dispatcher.stop()
    headers = queued_messages(broker_url, "generate")
    assert sorted(h["argsrepr"] for h in headers) == sorted(f"[{i}]" for i in ids)
    assert {h["task"] for h in headers} == {"td.generate"}
    assert queued_messages(broker_url, "train") == []
    assert dispatch.pending(db) == []


def test_a_broker_that_is_down_loses_nothing(app_db, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    settings, db = app_db
    prompt = prompts.create_prompt(db, schemas.PromptCreate(text="dark synth"))
    job = jobs.enqueue_job(db, prompt.id or 0, None, 2, {}, "tiny")
    down = Dispatcher(settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"}), db)
    try:
        assert down.send_pending() == 0
        assert down.broker_error
    finally:
        down.stop()
    assert [p.id for p in dispatch.pending(db)] == [job.id]
    up = Dispatcher(settings.model_copy(update={"broker_url": broker_url}), db)
    try:
        assert up.send_pending() == 1
    finally:
        up.stop()
    assert [h["argsrepr"] for h in queued_messages(broker_url, "generate")] == [f"[{job.id}]"]


def test_a_cancelled_job_is_not_sent(app_db, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    settings, db = app_db
    prompt = prompts.create_prompt(db, schemas.PromptCreate(text="fast drums"))
    job = jobs.enqueue_job(db, prompt.id or 0, None, 1, {}, "tiny")
    jobs.cancel_job(db, job.id or 0)
    dispatcher = Dispatcher(settings.model_copy(update={"broker_url": broker_url}), db)
    try:
        assert dispatcher.send_pending() == 0
    finally:
        dispatcher.stop()
    assert queued_messages(broker_url, "generate") == []


def test_two_app_processes_send_each_job_once(app_db, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    settings, db = app_db
    prompt = prompts.create_prompt(db, schemas.PromptCreate(text="slow strings"))
    ids = [jobs.enqueue_job(db, prompt.id or 0, None, 1, {}, "tiny").id for _ in range(20)]
    configured = settings.model_copy(update={"broker_url": broker_url})
    first, second = Dispatcher(configured, db), Dispatcher(configured, db)
    import threading

    counts: list[int] = []
    threads = [threading.Thread(target=lambda d=d: counts.append(d.send_pending())) for d in (first, second)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        first.stop()
        second.stop()
    assert sum(counts) == 20
    assert sorted(h["argsrepr"] for h in queued_messages(broker_url, "generate")) == sorted(f"[{i}]" for i in ids)


def test_a_message_lost_by_the_broker_is_sent_again(app_db, broker_url: str) -> None:  # type: ignore[no-untyped-def]
    settings, db = app_db
    prompt = prompts.create_prompt(db, schemas.PromptCreate(text="lost and found"))
    lost, waiting = (jobs.enqueue_job(db, prompt.id or 0, None, 1, {}, "tiny").id for _ in range(2))
    dispatcher = Dispatcher(settings.model_copy(update={"broker_url": broker_url}), db)
    try:
        assert dispatcher.send_pending() == 2
        long_ago = utcnow() - timedelta(hours=1)
        db.write(lambda s: s.execute(update(GenerationJob).where(GenerationJob.id.in_([lost, waiting]))
                                     .values(dispatched_at=long_ago)))
        # Both messages still wait in the broker: nothing is sent again.
        assert dispatcher.resend_lost() == 0
        redis.Redis.from_url(broker_url).delete("generate")  # the broker lost them (a restart without persistence)
        jobs.cancel_job(db, waiting or 0)
        assert dispatcher.resend_lost() == 1
        assert dispatcher.resend_lost() == 0  # stamped again: not before another while
    finally:
        dispatcher.stop()
    assert [h["argsrepr"] for h in queued_messages(broker_url, "generate")] == [f"[{lost}]"]
