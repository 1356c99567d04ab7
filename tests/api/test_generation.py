from __future__ import annotations

from tests.factories import make_lora_dir
from training_dashboard.services import jobs


async def _prompt(client) -> int:
    return (await client.post("/prompts", json={"text": "ambient pads"})).json()["id"]


async def test_generate_queues_a_job_with_params(client):
    pid = await _prompt(client)
    r = await client.post("/generate", json={"prompt_id": pid, "num_samples": 3, "seed": 7, "duration": 2.5,
                                             "temperature": 0.9, "top_k": 100, "top_p": 0.5})
    assert r.status_code == 202
    job = r.json()
    assert job["status"] == "queued" and job["progress"] == 0 and job["audio_ids"] == [] and job["error"] is None
    assert job["num_samples"] == 3 and job["params"]["seed"] == 7 and job["params"]["duration"] == 2.5
    assert (await client.get(f"/generate/{job['id']}")).json()["status"] == "queued"


async def test_generate_rejects_unknown_and_unusable_adapters(client, settings):
    pid = await _prompt(client)
    assert (await client.post("/generate", json={"prompt_id": 999})).status_code == 404
    assert (await client.post("/generate", json={"prompt_id": pid, "adapter_id": 999})).status_code == 404
    root = settings.resolved_adapter_roots[0]
    make_lora_dir(root, "inactive")
    make_lora_dir(root, "other", base_model="facebook/musicgen-large")
    inactive = (await client.post("/adapters", json={"name": "inactive", "version": "1.0.0",
                                                     "path": str(root / "inactive")})).json()
    r = await client.post("/generate", json={"prompt_id": pid, "adapter_id": inactive["id"]})
    assert r.status_code == 400 and "inactive" in r.json()["detail"]
    other = (await client.post("/adapters", json={"name": "other", "version": "1.0.0", "path": "other",
                                                  "is_active": True})).json()
    r = await client.post("/generate", json={"prompt_id": pid, "adapter_id": other["id"]})
    assert r.status_code == 400 and "musicgen-large" in r.json()["detail"]


async def test_generate_bad_params(client):
    pid = await _prompt(client)
    for extra in ({"num_samples": 0}, {"num_samples": 5}, {"duration": 0}, {"duration": 31}, {"temperature": 0},
                  {"top_p": 1.5}, {"seed": -1}, {"seed": 2**40}, {"num_samples": 2.5}):
        r = await client.post("/generate", json={"prompt_id": pid, **extra})
        assert r.status_code == 422, extra
    r = await client.post("/generate", content=b'{"prompt_id": 1, "temperature": NaN}',
                          headers={"content-type": "application/json"})
    assert r.status_code == 422


async def test_cancel_and_worker_interface(client, db):
    pid = await _prompt(client)
    a = (await client.post("/generate", json={"prompt_id": pid})).json()
    b = (await client.post("/generate", json={"prompt_id": pid})).json()
    r = await client.delete(f"/generate/{a['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await client.delete(f"/generate/{a['id']}")).status_code == 409
    assert (await client.delete("/generate/12345")).status_code == 404
    claimed = jobs.claim_next_job(db)
    assert claimed is not None and claimed.id == b["id"] and claimed.prompt_text == "ambient pads"
    assert jobs.claim_next_job(db) is None
    assert jobs.set_progress(db, b["id"], 0.4) is True
    assert (await client.get(f"/generate/{b['id']}")).json()["progress"] == 0.4
    await client.delete(f"/generate/{b['id']}")  # running: asks the worker to stop
    assert (await client.get(f"/generate/{b['id']}")).json()["status"] == "processing"
    assert jobs.set_progress(db, b["id"], 0.5) is False
    jobs.mark_cancelled(db, b["id"])
    assert (await client.get(f"/generate/{b['id']}")).json()["status"] == "cancelled"


async def test_recover_stuck_jobs(client, db):
    pid = await _prompt(client)
    a = (await client.post("/generate", json={"prompt_id": pid})).json()
    jobs.claim_next_job(db)
    assert jobs.recover_stuck_jobs(db) == 1
    job = (await client.get(f"/generate/{a['id']}")).json()
    assert job["status"] == "queued" and job["progress"] == 0
    jobs.claim_next_job(db)
    assert jobs.recover_stuck_jobs(db, requeue=False) == 1
    job = (await client.get(f"/generate/{a['id']}")).json()
    assert job["status"] == "failed" and "stopped" in job["error"]
