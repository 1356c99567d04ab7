"""Training runs executed by the worker: the CLI in a child process, with the real tiny model."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from safetensors.numpy import load_file

from tests.factories import make_clips
from training_dashboard.training.layout import latest_checkpoint_step
from training_dashboard.worker.embedded import EmbeddedWorker
from training_dashboard.worker.training_runner import TrainingRunner

pytestmark = pytest.mark.slow
RUN_TIMEOUT_S = 240
# 12 clips, one held out, batch 2: 6 steps per epoch.
LONG = {"learning_rate": 1e-2, "batch_size": 2, "epochs": 4, "lora_r": 4, "lora_alpha": 8, "max_clip_seconds": 1.0}


async def wait_for(client, run_id: int, predicate, timeout: float = RUN_TIMEOUT_S) -> dict:
    deadline = time.monotonic() + timeout
    run: dict = {}
    while time.monotonic() < deadline:
        run = (await client.get(f"/runs/{run_id}")).json()
        if predicate(run):
            return run
        if run["status"] in ("failed",) and not predicate(run):
            log = (await client.get(f"/runs/{run_id}/logs")).json()["text"]
            raise AssertionError(f"run failed: {run['error']}\n{log}")
        await asyncio.sleep(0.1)
    log = (await client.get(f"/runs/{run_id}/logs")).json()["text"]
    raise AssertionError(f"run {run_id} never got there: {run}\n{log}")


async def seed_dataset(client, db, settings) -> int:
    """3 prompts x 4 clips (real WAV files through the job queue), all rated 5, as a supervised dataset."""
    for text in ("calm piano", "fast drums", "dark synth"):
        pid = (await client.post("/prompts", json={"text": text, "attributes": {"mood": "calm"}})).json()["id"]
        for aid in make_clips(db, settings, pid, n=4, seed=pid):
            assert (await client.post("/feedback", json={"audio_id": aid, "rating": 5})).status_code == 201
    return (await client.post("/datasets", json={"name": "good", "type": "supervised"})).json()["id"]


def done(run: dict) -> bool:
    return run["status"] in ("completed", "failed", "cancelled")


async def log_text(client, run_id: int) -> str:
    return (await client.get(f"/runs/{run_id}/logs")).json()["text"]


def adapter_weights(path: str) -> dict:
    return load_file(str(Path(path) / "adapter_model.safetensors"))


@pytest.fixture
def runner(settings, db):
    runner = TrainingRunner(settings, db, poll_interval=0.1)
    runner.start()
    yield runner
    runner.stop(timeout=60)


async def test_quick_run_completes_registers_and_generation_goes_on(client, settings, db):
    dataset_id = await seed_dataset(client, db, settings)
    worker = EmbeddedWorker(settings, db, poll_interval=0.05)  # the whole worker: generation thread + training runner
    worker.start()
    try:
        r = await client.post("/runs", json={"dataset_id": dataset_id, "task": "sft", "preset": "quick",
                                             "config": {"epochs": 6, "batch_size": 2, "max_clip_seconds": 1.0}})
        assert r.status_code == 202, r.text
        run = r.json()
        await wait_for(client, run["id"], lambda x: x["status"] == "running" and x["step"] >= 1)
        # Generation is served while the run trains.
        pid = (await client.post("/prompts", json={"text": "during training"})).json()["id"]
        job = (await client.post("/generate", json={"prompt_id": pid, "duration": 0.5, "seed": 1})).json()
        deadline = time.monotonic() + 120
        while (await client.get(f"/generate/{job['id']}")).json()["status"] != "completed":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert (await client.get(f"/runs/{run['id']}")).json()["status"] == "running"
        final = await wait_for(client, run["id"], done)
    finally:
        await asyncio.to_thread(worker.stop)
    assert final["status"] == "completed", final
    assert final["progress"] == 1 and final["step"] == final["total_steps"] == 36 and final["error"] is None
    assert final["best_eval_loss"] is not None and final["finished_at"] and final["attempts"] == 1
    adapter = (await client.get(f"/adapters/{final['adapter_id']}")).json()
    assert adapter["is_active"] is False and adapter["report"]["run_id"] == run["id"]
    export = (await client.get(f"/datasets/{dataset_id}")).json()["exports"][0]
    assert adapter["dataset_id"] == dataset_id and adapter["manifest_sha256"] == export["manifest_sha256"]
    assert adapter["path"] == final["output_dir"] and adapter["name"] == final["name"]
    assert adapter["training_config"]["lr"] == pytest.approx(3e-4)
    metrics = (await client.get(f"/runs/{run['id']}/metrics")).json()
    assert [p[0] for p in metrics["series"]["loss"]] == list(range(1, 37))
    assert metrics["series"]["eval_loss"][0][0] == 0 and len(metrics["series"]["eval_loss"]) == 7
    assert all(v > 0 for _, v in metrics["series"]["learning_rate"])
    log = await log_text(client, run["id"])
    assert "starting" in log and "--run-id" in log and "step 36" in log and "registered adapter" in log
    assert (await client.get(f"/runs/{run['id']}/logs")).json()["complete"] is True
    # Deleting the run keeps its adapter and the adapter's files.
    assert (await client.delete(f"/runs/{run['id']}")).status_code == 204
    assert (await client.get(f"/adapters/{final['adapter_id']}")).status_code == 200
    assert (Path(adapter["path"]) / "adapter_model.safetensors").is_file()


async def test_cancel_then_resume_gives_the_uninterrupted_weights(client, settings, db, runner):
    dataset_id = await seed_dataset(client, db, settings)
    # Long enough that the cancel lands mid-run on a fast machine too (4 epochs finished before
    # it did on an idle CI machine); no early stop, so both runs take the same steps.
    body = {"dataset_id": dataset_id, "task": "sft",
            "config": {**LONG, "epochs": 40, "patience": 0, "checkpoint_every": 0}}
    straight = (await client.post("/runs", json={**body, "name": "straight"})).json()
    interrupted = (await client.post("/runs", json={**body, "name": "interrupted"})).json()
    a = await wait_for(client, straight["id"], done)
    assert a["status"] == "completed", a
    await wait_for(client, interrupted["id"], lambda x: x["status"] == "running" and x["step"] >= 3)
    r = await client.post(f"/runs/{interrupted['id']}/cancel")
    assert r.status_code == 200 and r.json()["cancel_requested"]
    b = await wait_for(client, interrupted["id"], done)
    assert b["status"] == "cancelled" and b["adapter_id"] is None and b["step"] < b["total_steps"], b
    stopped_at = latest_checkpoint_step(Path(b["output_dir"]))
    assert stopped_at == b["step"]  # the stop saved a checkpoint at the step it stopped after
    assert (await client.post(f"/runs/{interrupted['id']}/resume")).json()["status"] == "queued"
    b = await wait_for(client, interrupted["id"], done)
    assert b["status"] == "completed", b
    assert f"resumed from step {stopped_at}" in await log_text(client, interrupted["id"])
    wa, wb = adapter_weights(a["output_dir"]), adapter_weights(b["output_dir"])
    assert wa.keys() == wb.keys()
    for key in wa:
        assert (wa[key] == wb[key]).all(), key
    steps = [p[0] for p in (await client.get(f"/runs/{interrupted['id']}/metrics")).json()["series"]["loss"]]
    assert steps == list(range(1, b["total_steps"] + 1))  # no gap, nothing twice
    assert len((await client.get("/adapters")).json()["items"]) == 2


async def test_killed_child_fails_with_its_last_lines_then_resumes(client, settings, db, runner):
    dataset_id = await seed_dataset(client, db, settings)
    run = (await client.post("/runs", json={"dataset_id": dataset_id, "task": "sft",
                                            "config": {**LONG, "checkpoint_every": 2}})).json()
    out = Path(run["output_dir"])
    await wait_for(client, run["id"], lambda x: x["status"] == "running" and x["step"] >= 4
                   and latest_checkpoint_step(out) is not None)
    child = db_child_pid(db, run["id"])
    os.kill(child, signal.SIGKILL)
    failed = await wait_for(client, run["id"], done)
    assert failed["status"] == "failed" and "killed by SIGKILL" in failed["error"], failed
    assert "Last log lines:" in failed["error"] and "step " in failed["error"]
    checkpoint = latest_checkpoint_step(out)
    assert checkpoint is not None
    assert (await client.post(f"/runs/{run['id']}/resume")).status_code == 200
    final = await wait_for(client, run["id"], done)
    assert final["status"] == "completed" and final["error"] is None and final["attempts"] == 2, final
    assert f"resumed from step {checkpoint}" in await log_text(client, run["id"])
    assert len((await client.get("/adapters")).json()["items"]) == 1


def db_child_pid(db, run_id: int) -> int:
    from training_dashboard.db.models import TrainingRun

    with db.session() as session:
        pid = session.get(TrainingRun, run_id).child_pid
    assert pid
    return pid
