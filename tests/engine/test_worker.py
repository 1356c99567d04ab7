"""The generation worker against the real database and the real tiny model."""

from __future__ import annotations

import threading
import time

import numpy as np
import soundfile as sf
from sqlalchemy import update

from tests.engine.conftest import make_peft_adapter
from training_dashboard import schemas
from training_dashboard.db.models import Adapter, GenerationJob
from training_dashboard.services import jobs
from training_dashboard.services.prompts import create_prompt
from training_dashboard.worker.embedded import EmbeddedWorker


def _prompt(db, text: str = "calm piano, soft rain") -> int:
    return create_prompt(db, schemas.PromptCreate(text=text, attributes={"mood": "calm", "tempo": 80})).id


def _enqueue(db, settings, prompt_id: int, n: int = 1, adapter_id: int | None = None, **params) -> int:
    params = {"seed": 7, "duration": 1.0, **params}
    return jobs.enqueue_job(db, prompt_id, adapter_id, n, params, settings.base_model).id


def _wait(db, job_id: int, statuses=jobs.TERMINAL, timeout: float = 120.0) -> GenerationJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job, _ = jobs.get_job(db, job_id)
        if job.status in statuses:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} still {job.status}")


def _worker(settings, db) -> EmbeddedWorker:
    worker = EmbeddedWorker(settings, db, poll_interval=0.05)
    assert worker.status().status == "not_loaded"
    return worker


def test_job_writes_16bit_wavs_of_the_requested_length(settings, db):
    worker = _worker(settings, db)
    job_id = _enqueue(db, settings, _prompt(db), n=2, duration=1.5, seed=11)
    assert worker.process_next_job()
    job, audio_ids = jobs.get_job(db, job_id)
    assert job.status == "completed" and job.progress == 1.0 and len(audio_ids) == 2
    assert worker.status().status == "ready" and worker.status().device == "cpu"
    files = sorted((settings.audio_dir / f"job-{job_id}").glob("*.wav"))
    assert [f.name for f in files] == ["0-seed11.wav", "1-seed12.wav"]
    for path in files:
        info = sf.info(str(path))
        assert (info.samplerate, info.frames, info.channels, info.subtype) == (32000, 48000, 1, "PCM_16")
    a, b = (sf.read(str(f), dtype="int16")[0] for f in files)
    assert np.abs(a).max() > 20000 and not np.array_equal(a, b)  # audible, and one clip per seed


def test_same_seed_same_audio(settings, db):
    worker = _worker(settings, db)
    pid = _prompt(db)
    first = _enqueue(db, settings, pid, n=2, seed=100)
    second = _enqueue(db, settings, pid, n=2, seed=100)
    single = _enqueue(db, settings, pid, n=1, seed=101)  # sample 1 of the batches above
    other = _enqueue(db, settings, pid, n=1, seed=5)
    while worker.process_next_job():
        pass

    def clips(job_id):
        return [sf.read(str(p), dtype="int16")[0].astype(int)
                for p in sorted((settings.audio_dir / f"job-{job_id}").glob("*.wav"))]

    assert all(np.array_equal(x, y) for x, y in zip(clips(first), clips(second), strict=True))
    assert np.abs(clips(single)[0] - clips(first)[1]).max() <= 1  # same seed alone: same audio (±1 LSB)
    assert np.abs(clips(other)[0] - clips(first)[0]).max() > 1000


def test_progress_moves_during_decoding(settings, db):
    worker = _worker(settings, db)
    worker.load_model()
    job_id = _enqueue(db, settings, _prompt(db), n=1, duration=8.0)
    seen = set()
    thread = threading.Thread(target=worker.process_next_job)
    thread.start()
    while thread.is_alive():
        seen.add(jobs.get_job(db, job_id)[0].progress)
        time.sleep(0.005)
    thread.join()
    assert any(0.0 < p < 1.0 for p in seen), seen
    assert jobs.get_job(db, job_id)[0].progress == 1.0


def test_cancel_stops_a_running_job_and_removes_its_files(settings, db):
    worker = _worker(settings, db)
    job_id = _enqueue(db, settings, _prompt(db), n=4, duration=30.0)
    worker.start()
    try:
        _wait(db, job_id, statuses=("processing",))
        while jobs.get_job(db, job_id)[0].progress == 0.0:
            time.sleep(0.005)
        jobs.cancel_job(db, job_id)
        job = _wait(db, job_id)
    finally:
        worker.stop()
    assert job.status == "cancelled" and job.progress < 0.95
    assert jobs.get_job(db, job_id)[1] == []
    assert not (settings.audio_dir / f"job-{job_id}").exists()


def test_jobs_left_processing_by_a_crash_are_recovered(settings, db):
    pid = _prompt(db)
    stuck = _enqueue(db, settings, pid)
    assert jobs.claim_next_job(db).id == stuck  # a worker claimed it, then the process died
    queued = _enqueue(db, settings, pid)
    worker = _worker(settings, db)
    worker.start()
    try:
        assert _wait(db, stuck).status == "completed"
        assert _wait(db, queued).status == "completed"
        assert worker.running
    finally:
        worker.stop()
    assert not worker.running


def test_unloadable_base_model_fails_jobs_fast_with_advice(settings, db):
    broken = settings.model_copy(update={"base_model": "/nonexistent/musicgen"})
    worker = EmbeddedWorker(broken, db)
    job_id = _enqueue(db, broken, _prompt(db))
    assert worker.process_next_job()
    status = worker.status()
    assert status.status == "failed" and "no such directory" in status.error and "TD_BASE_MODEL=tiny" in status.error
    job, _ = jobs.get_job(db, job_id)
    assert job.status == "failed" and "TD_BASE_MODEL=tiny" in job.error


def test_unknown_hub_model_fails_fast_offline(settings, db, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    worker = EmbeddedWorker(settings.model_copy(update={"base_model": "nobody/no-such-musicgen"}), db)
    started = time.monotonic()
    assert not worker.load_model()
    assert time.monotonic() - started < 30  # generous: it must not wait on the network
    assert "HF_HUB_OFFLINE" in worker.status().error and "hf download" in worker.status().error


def test_adapter_jobs_use_the_adapter_and_refuse_a_mismatched_one(settings, db, runtime):
    root = settings.default_adapter_root
    good = make_peft_adapter(runtime, root / "good", seed=4)
    alien = make_peft_adapter(runtime, root / "alien", seed=4, base_model="other/model")

    def register(name, path, base_model):
        def run(session):
            row = Adapter(name=name, version="1.0.0", base_model=base_model, path=str(path), is_active=True)
            session.add(row)
            session.flush()
            return row.id
        return db.write(run)

    good_id = register("good", good, "tiny")
    # Registered while the server ran another base model (the API refuses it for "tiny").
    alien_id = register("alien", alien, "other/model")
    pid = _prompt(db)
    base_job = _enqueue(db, settings, pid)
    adapter_job = _enqueue(db, settings, pid, adapter_id=good_id)
    alien_job = jobs.enqueue_job(db, pid, alien_id, 1, {"seed": 7, "duration": 1.0}, "other/model").id
    worker = _worker(settings, db)
    while worker.process_next_job():
        pass
    assert jobs.get_job(db, base_job)[0].status == "completed"
    assert jobs.get_job(db, adapter_job)[0].status == "completed"
    failed = jobs.get_job(db, alien_job)[0]
    assert failed.status == "failed" and "trained for base model 'other/model'" in failed.error
    base_wav = sf.read(str(settings.audio_dir / f"job-{base_job}" / "0-seed7.wav"), dtype="int16")[0]
    lora_wav = sf.read(str(settings.audio_dir / f"job-{adapter_job}" / "0-seed7.wav"), dtype="int16")[0]
    assert not np.array_equal(base_wav, lora_wav)


def test_cancel_requested_before_the_first_step_leaves_nothing(settings, db):
    job_id = _enqueue(db, settings, _prompt(db), n=2)
    with db.write_session() as session:  # a cancel that lands right after the worker claimed it
        session.execute(update(GenerationJob).where(GenerationJob.id == job_id).values(cancel_requested=True))
    worker = _worker(settings, db)
    assert worker.process_next_job()
    job, audio_ids = jobs.get_job(db, job_id)
    assert job.status == "cancelled" and audio_ids == []
    assert not (settings.audio_dir / f"job-{job_id}").exists()
