"""SIGKILL the app (and with it the training child) in the middle of a run, start it again:
the run continues from its last checkpoint by itself, and its adapter is registered once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.factories import make_clips
from tests.hardening.server import ApiServer
from training_dashboard import schemas
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade
from training_dashboard.training.layout import latest_checkpoint_step

pytestmark = pytest.mark.slow


def _seed_dataset(data_dir: Path) -> int:
    from training_dashboard.services.datasets import snapshot_dataset
    from training_dashboard.services.feedback import create_rating
    from training_dashboard.services.prompts import create_prompt

    settings = Settings(data_dir=data_dir, base_model="tiny", worker=False)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    upgrade(db)
    for text in ("calm piano", "fast drums", "dark synth"):
        prompt = create_prompt(db, schemas.PromptCreate(text=text))
        for audio_id in make_clips(db, settings, prompt.id or 0, n=4, seed=prompt.id or 0):
            create_rating(db, schemas.FeedbackCreate(audio_id=audio_id, rating=5))
    dataset = snapshot_dataset(db, schemas.DatasetCreate(name="good"))
    db.dispose()
    return dataset.id or 0


def _wait(server: ApiServer, run_id: int, predicate, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    run: dict = {}
    while time.monotonic() < deadline:
        run = httpx.get(f"{server.url}/runs/{run_id}", timeout=10).json()
        if predicate(run):
            return run
        time.sleep(0.1)
    log = httpx.get(f"{server.url}/runs/{run_id}/logs", timeout=10).json()["text"]
    raise AssertionError(f"run {run_id} never got there: {run}\n{log}")


def test_kill_app_mid_run_resumes_by_itself_after_restart(tmp_path):
    data_dir = tmp_path / "data"
    dataset_id = _seed_dataset(data_dir)
    server = ApiServer(data_dir, worker=True).start()
    try:
        run = httpx.post(f"{server.url}/runs", timeout=60, json={
            "dataset_id": dataset_id, "task": "sft", "preset": "quick",
            "config": {"epochs": 4, "batch_size": 2, "checkpoint_every": 2, "learning_rate": 1e-2,
                       "max_clip_seconds": 1.0}}).json()
        out = Path(run["output_dir"])
        _wait(server, run["id"], lambda r: r["status"] == "running" and r["step"] >= 3
              and latest_checkpoint_step(out) is not None)
    finally:
        server.kill()  # SIGKILL to the app's process group: the app and the training child die at once
    checkpoint = latest_checkpoint_step(out)
    assert checkpoint is not None and not (out / "training_report.json").exists()
    server = ApiServer(data_dir, worker=True).start()
    try:
        final = _wait(server, run["id"], lambda r: r["status"] in ("completed", "failed", "cancelled"))
        assert final["status"] == "completed" and final["attempts"] == 2, final
        log = httpx.get(f"{server.url}/runs/{run['id']}/logs", timeout=10).json()["text"]
        assert f"resumed from step {checkpoint}" in log
        adapters = httpx.get(f"{server.url}/adapters", timeout=10).json()["items"]
        assert [a["id"] for a in adapters] == [final["adapter_id"]]  # registered once
        assert adapters[0]["report"]["run_id"] == run["id"]
        steps = [p[0] for p in httpx.get(f"{server.url}/runs/{run['id']}/metrics", timeout=10).json()
                 ["series"]["loss"]]
        assert steps == list(range(1, final["total_steps"] + 1))
    finally:
        server.stop()
