"""The worker endpoints for generation jobs (/api/worker/jobs/*, /api/worker/adapters/*/archive)."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select, update

from tests.factories import make_lora_dir, wav_bytes
from training_dashboard.api.app import create_app
from training_dashboard.config import Settings
from training_dashboard.db.models import AudioSample, GenerationJob
from training_dashboard.services import dispatch, worker_jobs

TOKEN = "worker-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-TD-Worker": "box-1"}
AUTH2 = {"Authorization": f"Bearer {TOKEN}", "X-TD-Worker": "box-2"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker_token": TOKEN})


async def _job(client: httpx.AsyncClient, **params: object) -> int:
    pid = (await client.post("/prompts", json={"text": "ambient pads", "attributes": {"mood": "calm"}})).json()["id"]
    r = await client.post("/generate", json={"prompt_id": pid, "duration": 0.5, **params})
    assert r.status_code == 202, r.text
    return r.json()["id"]


async def _claim(client: httpx.AsyncClient, job_id: int, headers: dict[str, str] = AUTH) -> dict:
    r = await client.post(f"/worker/jobs/{job_id}/claim", json={}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _upload(client: httpx.AsyncClient, job_id: int, index: int, attempt: int, seed: int,
                  body: bytes | None = None) -> httpx.Response:
    return await client.put(f"/worker/jobs/{job_id}/clips/{index}", params={"attempt": attempt, "seed": seed},
                            content=wav_bytes(freq=220.0 * (index + 1)) if body is None else body, headers=AUTH)


def _rows(db, job_id: int) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(AudioSample).where(AudioSample.job_id == job_id))


def _files(settings: Settings, job_id: int) -> list[str]:
    directory = worker_jobs.job_dir(settings, job_id)
    return sorted(os.listdir(directory)) if directory.exists() else []


def _requeue(db, settings: Settings, job_id: int) -> None:  # type: ignore[no-untyped-def]
    """The app's lease watcher, with a lease that has already run out for the job's worker."""
    assert dispatch.expire_leases(db, 0.0, settings.resolved_data_dir) == (1, 0)
    assert (dispatch.pending(db)) == [dispatch.Pending(dispatch.GENERATE, job_id)]


async def test_worker_endpoints_need_the_worker_token(client, app, settings):
    job_id = await _job(client)
    calls = [("POST", f"/worker/jobs/{job_id}/claim", {"json": {}}),
             ("POST", f"/worker/jobs/{job_id}/progress", {"json": {"attempt": 1, "progress": 0.1}}),
             ("PUT", f"/worker/jobs/{job_id}/clips/0?attempt=1&seed=1", {"content": wav_bytes()}),
             ("POST", f"/worker/jobs/{job_id}/complete", {"json": {"attempt": 1}}),
             ("POST", f"/worker/jobs/{job_id}/fail", {"json": {"attempt": 1, "error": "x"}}),
             ("POST", f"/worker/jobs/{job_id}/cancelled", {"json": {"attempt": 1}}),
             ("GET", "/worker/adapters/1/archive", {})]
    for method, url, kwargs in calls:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            r = await client.request(method, url, headers=headers, **kwargs)
            assert r.status_code == 401, (method, url, headers, r.text)
            assert "worker token" in r.json()["detail"]
    off = create_app(settings.model_copy(update={"worker_token": None}), with_worker=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=off), base_url="http://test/api") as c:
            for method, url, kwargs in calls:
                r = await c.request(method, url, headers=AUTH, **kwargs)
                assert r.status_code == 403 and "TD_WORKER_TOKEN" in r.json()["detail"], (method, url)
    finally:
        off.state.db.dispose()
    assert (await client.get(f"/generate/{job_id}")).json()["status"] == "queued"


async def test_claim_progress_upload_complete(client, db, settings):
    job_id = await _job(client, num_samples=2, seed=7, temperature=0.9)
    claim = await _claim(client, job_id)
    assert claim["attempt"] == 1 and claim["job_id"] == job_id and claim["seeds"] == [7, 8]
    assert claim["prompt_text"] == "ambient pads" and claim["prompt_attributes"]["mood"] == "calm"
    assert claim["num_samples"] == 2 and claim["params"]["temperature"] == 0.9 and claim["params"]["duration"] == 0.5
    assert claim["base_model"] == "tiny" and claim["adapter"] is None
    job = (await client.get(f"/generate/{job_id}")).json()
    assert job["status"] == "processing" and job["worker_name"] == "box-1" and job["attempts"] == 1

    r = await client.post(f"/worker/jobs/{job_id}/progress", json={"attempt": 1, "progress": 0.5}, headers=AUTH)
    assert r.status_code == 200 and r.json() == {"cancel": False}
    assert (await client.get(f"/generate/{job_id}")).json()["progress"] == 0.5

    r = await _upload(client, job_id, 0, 1, 7)
    assert r.status_code == 200, r.text
    assert r.json() == {"file_path": f"audio/job-{job_id}/0-seed7.wav", "duration": 0.5, "sample_rate": 32000}
    r = await client.post(f"/worker/jobs/{job_id}/complete", json={"attempt": 1}, headers=AUTH)
    assert r.status_code == 409 and "clip(s) 1 of 2 not uploaded" in r.json()["detail"]
    assert _rows(db, job_id) == 0

    assert (await _upload(client, job_id, 1, 1, 8, wav_bytes(seconds=0.25))).status_code == 200
    r = await _upload(client, job_id, 1, 1, 8, wav_bytes(seconds=0.75, rate=16000))  # sent again: replaces
    assert r.status_code == 200 and r.json()["duration"] == 0.75 and r.json()["sample_rate"] == 16000
    assert _files(settings, job_id) == ["0-seed7.wav", "1-seed8.wav"]

    r = await client.post(f"/worker/jobs/{job_id}/complete", json={"attempt": 1}, headers=AUTH)
    assert r.status_code == 200, r.text
    ids = r.json()["audio_ids"]
    assert len(ids) == 2
    again = await client.post(f"/worker/jobs/{job_id}/complete", json={"attempt": 1}, headers=AUTH)
    assert again.status_code == 200 and again.json()["audio_ids"] == ids
    assert _rows(db, job_id) == 2 and _files(settings, job_id) == ["0-seed7.wav", "1-seed8.wav"]
    job = (await client.get(f"/generate/{job_id}")).json()
    assert job["status"] == "completed" and job["progress"] == 1 and job["audio_ids"] == ids
    clips = [(await client.get(f"/audio/{i}")).json() for i in ids]
    assert [(c["seed"], c["duration"], c["sample_rate"]) for c in clips] == [(7, 0.5, 32000), (8, 0.75, 16000)]
    assert clips[0]["params"]["temperature"] == 0.9 and clips[0]["params"]["base_model"] == "tiny"
    stream = await client.get(f"/audio/{ids[1]}/stream")
    assert stream.status_code == 200 and stream.content == wav_bytes(seconds=0.75, rate=16000)

    # Finished: every lease-holding call is refused, and a later claim too.
    for method, url, body in (("POST", "progress", {"attempt": 1, "progress": 1.0}),
                              ("POST", "fail", {"attempt": 1, "error": "late"}),
                              ("POST", "complete", {"attempt": 2})):
        r = await client.request(method, f"/worker/jobs/{job_id}/{url}", json=body, headers=AUTH)
        assert r.status_code == 409, (url, r.text)
    assert (await _upload(client, job_id, 0, 1, 7)).status_code == 409
    r = await client.post(f"/worker/jobs/{job_id}/claim", json={}, headers=AUTH2)
    assert r.status_code == 409 and "already completed" in r.json()["detail"]
    assert _rows(db, job_id) == 2 and _files(settings, job_id) == ["0-seed7.wav", "1-seed8.wav"]


async def test_a_redelivered_job_gets_a_new_attempt_with_the_same_seeds(client, db, settings):
    job_id = await _job(client, num_samples=3)  # no seed: the first claim draws one and keeps it
    assert dispatch.take_for_sending(db, dispatch.Pending(dispatch.GENERATE, job_id))
    first = await _claim(client, job_id)
    start = first["seeds"][0]
    assert first["seeds"] == [start, (start + 1) % 2**32, (start + 2) % 2**32]
    r = await client.post(f"/worker/jobs/{job_id}/claim", json={}, headers=AUTH2)
    assert r.status_code == 409 and "live lease" in r.json()["detail"] and "box-1" in r.json()["detail"]
    assert (await _upload(client, job_id, 0, 1, first["seeds"][0])).status_code == 200

    _requeue(db, settings, job_id)
    second = await _claim(client, job_id, AUTH2)
    assert second["attempt"] == 2 and second["seeds"] == first["seeds"]
    job = (await client.get(f"/generate/{job_id}")).json()
    assert job["worker_name"] == "box-2" and job["attempts"] == 2
    # The first attempt is stale everywhere: it drops the job.
    stale = [await client.post(f"/worker/jobs/{job_id}/progress", json={"attempt": 1, "progress": 0.9},
                               headers=AUTH),
             await _upload(client, job_id, 1, 1, first["seeds"][1]),
             await client.post(f"/worker/jobs/{job_id}/complete", json={"attempt": 1}, headers=AUTH),
             await client.post(f"/worker/jobs/{job_id}/fail", json={"attempt": 1, "error": "boom"}, headers=AUTH)]
    for r in stale:
        assert r.status_code == 409 and "attempt 2" in r.json()["detail"], r.text
    assert _files(settings, job_id) == [f"0-seed{start}.wav"]  # the refused upload left nothing behind

    for index, seed in enumerate(second["seeds"]):
        assert (await _upload(client, job_id, index, 2, seed)).status_code == 200
    (worker_jobs.job_dir(settings, job_id) / f"{worker_jobs.UPLOAD_PREFIX}crashed.part").write_bytes(b"half")
    r = await client.post(f"/worker/jobs/{job_id}/complete", json={"attempt": 2}, headers=AUTH2)
    assert r.status_code == 200 and len(r.json()["audio_ids"]) == 3
    assert _rows(db, job_id) == 3
    assert _files(settings, job_id) == sorted(f"{i}-seed{s}.wav" for i, s in enumerate(first["seeds"]))


async def test_concurrent_claims_give_the_job_to_exactly_one_worker(client):
    job_id = await _job(client)
    results = await asyncio.gather(*(client.post(f"/worker/jobs/{job_id}/claim", json={},
                                                 headers={**AUTH, "X-TD-Worker": f"box-{i}"}) for i in range(6)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 5, [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()
    assert winner["attempt"] == 1
    assert (await client.get(f"/generate/{job_id}")).json()["attempts"] == 1


async def test_fail_drops_the_clips_and_is_idempotent(client, db, settings):
    job_id = await _job(client, num_samples=2, seed=3)
    await _claim(client, job_id)
    assert (await _upload(client, job_id, 0, 1, 3)).status_code == 200
    r = await client.post(f"/worker/jobs/{job_id}/fail", json={"attempt": 1, "error": "Generation failed: OOM"},
                          headers=AUTH)
    assert r.status_code == 200 and r.json() == {"status": "failed"}
    job = (await client.get(f"/generate/{job_id}")).json()
    assert job["status"] == "failed" and job["error"] == "Generation failed: OOM" and job["finished_at"]
    assert not worker_jobs.job_dir(settings, job_id).exists() and _rows(db, job_id) == 0
    again = await client.post(f"/worker/jobs/{job_id}/fail", json={"attempt": 1, "error": "again"}, headers=AUTH)
    assert again.status_code == 200 and (await client.get(f"/generate/{job_id}")).json()["error"] == \
        "Generation failed: OOM"
    assert (await client.post(f"/worker/jobs/{job_id}/cancelled", json={"attempt": 1},
                              headers=AUTH)).status_code == 409


async def test_cancel_reaches_the_worker(client, db, settings):
    job_id = await _job(client, seed=1)
    await _claim(client, job_id)
    r = await client.post(f"/worker/jobs/{job_id}/cancelled", json={"attempt": 1}, headers=AUTH)
    assert r.status_code == 409 and "not asked to cancel" in r.json()["detail"]
    assert (await _upload(client, job_id, 0, 1, 1)).status_code == 200
    assert (await client.delete(f"/generate/{job_id}")).json()["status"] == "processing"
    r = await client.post(f"/worker/jobs/{job_id}/progress", json={"attempt": 1, "progress": 0.3}, headers=AUTH)
    assert r.json() == {"cancel": True}
    r = await client.post(f"/worker/jobs/{job_id}/cancelled", json={"attempt": 1}, headers=AUTH)
    assert r.status_code == 200 and r.json() == {"status": "cancelled"}
    assert (await client.post(f"/worker/jobs/{job_id}/cancelled", json={"attempt": 1},
                              headers=AUTH)).status_code == 200
    assert (await client.get(f"/generate/{job_id}")).json()["status"] == "cancelled"
    assert not worker_jobs.job_dir(settings, job_id).exists() and _rows(db, job_id) == 0


async def test_a_job_cancelled_before_its_claim_is_refused(client, db):
    job_id = await _job(client)
    await client.delete(f"/generate/{job_id}")
    r = await client.post(f"/worker/jobs/{job_id}/claim", json={}, headers=AUTH)
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]
    other = await _job(client)
    with db.write_session() as session:  # cancel asked while it waited in the broker (still queued)
        session.execute(update(GenerationJob).where(GenerationJob.id == other).values(cancel_requested=True))
    r = await client.post(f"/worker/jobs/{other}/claim", json={}, headers=AUTH)
    assert r.status_code == 409 and "cancelled before a worker started it" in r.json()["detail"]
    job = (await client.get(f"/generate/{other}")).json()
    assert job["status"] == "cancelled" and job["attempts"] == 0


async def test_unknown_ids_are_404_and_bad_ids_422(client):
    for method, path, kwargs in (("POST", "jobs/{}/claim", {"json": {}}),
                                 ("POST", "jobs/{}/progress", {"json": {"attempt": 1, "progress": 0.5}}),
                                 ("PUT", "jobs/{}/clips/0?attempt=1&seed=0", {"content": wav_bytes()}),
                                 ("POST", "jobs/{}/complete", {"json": {"attempt": 1}}),
                                 ("POST", "jobs/{}/fail", {"json": {"attempt": 1, "error": "x"}}),
                                 ("POST", "jobs/{}/cancelled", {"json": {"attempt": 1}}),
                                 ("GET", "adapters/{}/archive", {})):
        r = await client.request(method, "/worker/" + path.format(4242), headers=AUTH, **kwargs)
        assert r.status_code == 404 and "4242 not found" in r.json()["detail"], (path, r.text)
        for bad in (0, -1, 2**31, "abc"):
            r = await client.request(method, "/worker/" + path.format(bad), headers=AUTH, **kwargs)
            assert r.status_code == 422 and r.json()["detail"], (path, bad)


async def test_bad_bodies_and_clips_are_4xx(client, db, settings, monkeypatch):
    job_id = await _job(client, num_samples=2, seed=100)
    r = await client.post(f"/worker/jobs/{job_id}/claim", json={"attempt": 1}, headers=AUTH)
    assert r.status_code == 422
    await _claim(client, job_id)
    url = f"/worker/jobs/{job_id}"
    for body in ({"attempt": 1, "progress": 1.5}, {"attempt": 1, "progress": -0.1}, {"attempt": 0, "progress": 0.1},
                 {"attempt": "1", "progress": 0.1}, {"attempt": 1}, {"attempt": 1, "progress": 0.1, "x": 1}):
        r = await client.post(f"{url}/progress", json=body, headers=AUTH)
        assert r.status_code == 422 and r.json()["detail"], body
    r = await client.post(f"{url}/progress", content=b'{"attempt": 1, "progress": NaN}',
                          headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 422
    for body in ({"attempt": 1}, {"attempt": 1, "error": ""}, {"attempt": 1, "error": "x" * 4001},
                 {"attempt": 1, "error": "bell\x07"}):
        r = await client.post(f"{url}/fail", json=body, headers=AUTH)
        assert r.status_code == 422, body
    r = await client.post(f"{url}/complete", json={"attempt": 2**31}, headers=AUTH)
    assert r.status_code == 422

    checks = [((2, 1, 102), 400, "out of range"), ((0, 1, 101), 400, "has seed 100, not 101"),
              ((0, 2, 100), 409, "attempt 1"), ((-1, 1, 100), 422, "index"), ((0, 1, -5), 422, "seed"),
              ((0, 1, 2**32), 422, "seed"), ((0, 0, 100), 422, "attempt")]
    for (index, attempt, seed), code, words in checks:
        r = await _upload(client, job_id, index, attempt, seed)
        assert r.status_code == code and words in r.json()["detail"], (index, attempt, seed, r.text)
    r = await client.put(f"{url}/clips/0", params={"seed": 100}, content=wav_bytes(), headers=AUTH)
    assert r.status_code == 422 and "attempt" in r.json()["detail"]

    import soundfile as sf

    flac = io.BytesIO()
    sf.write(flac, np.zeros(1600, np.float32), 16000, format="FLAC")
    silent_header = wav_bytes(seconds=0.0)
    for body, words in ((b"", "not a readable WAV"), (b"RIFF\x00\x00junk" * 10, "not a readable WAV"),
                        (wav_bytes()[:30], "not a readable WAV"), (flac.getvalue(), "must be a WAV"),
                        (silent_header, "no audio")):
        r = await _upload(client, job_id, 0, 1, 100, body)
        assert r.status_code == 400 and words in r.json()["detail"], (words, r.text)
    monkeypatch.setattr(worker_jobs, "MAX_CLIP_BYTES", 4096)
    r = await _upload(client, job_id, 0, 1, 100, wav_bytes(seconds=1.0))
    assert r.status_code == 413 and "at most 4096 bytes" in r.json()["detail"]
    assert _files(settings, job_id) == []  # nothing refused was kept, not even a temp file
    assert (await client.get(f"/generate/{job_id}")).json()["status"] == "processing"


async def test_adapter_archive_carries_the_files_and_a_key_that_follows_them(client, settings):
    root = settings.resolved_adapter_roots[0]
    directory = make_lora_dir(root, "warm")
    (directory / "README.md").write_text("not needed by a worker")
    adapter = (await client.post("/adapters", json={"name": "warm", "version": "1.0.0", "path": str(directory),
                                                    "is_active": True})).json()
    job_id = await _job(client, adapter_id=adapter["id"])
    claim = await _claim(client, job_id)
    assert claim["adapter"]["id"] == adapter["id"] and claim["adapter"]["base_model"] == "tiny"
    key = claim["adapter"]["key"]
    assert key and len(key) == 32

    r = await client.get(f"/worker/adapters/{adapter['id']}/archive", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-tar"
    assert r.headers["x-td-adapter-key"] == key
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        members = tar.getmembers()
        assert sorted(m.name for m in members) == ["adapter_config.json", "adapter_model.safetensors"]
        assert all(m.isfile() for m in members)
        for m in members:
            assert tar.extractfile(m).read() == (directory / m.name).read_bytes()  # type: ignore[union-attr]

    # Re-saved: the key changes. Deactivated: still served (evaluations use candidates).
    weights = directory / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes())
    os.utime(weights, ns=(1, 1))
    assert (await client.patch(f"/adapters/{adapter['id']}", json={"is_active": False})).status_code == 200
    r = await client.get(f"/worker/adapters/{adapter['id']}/archive", headers=AUTH)
    assert r.status_code == 200 and r.headers["x-td-adapter-key"] not in (key, "")

    weights.unlink()
    r = await client.get(f"/worker/adapters/{adapter['id']}/archive", headers=AUTH)
    assert r.status_code == 409 and "adapter_model.safetensors cannot be read" in r.json()["detail"]
    os.mkfifo(weights)  # not a regular file: refused without opening it (opening a FIFO blocks)
    r = await client.get(f"/worker/adapters/{adapter['id']}/archive", headers=AUTH)
    assert r.status_code == 409 and "is not a regular file" in r.json()["detail"]
    other = await _job(client, adapter_id=None)
    assert (await _claim(client, other))["adapter"] is None
