"""Deleting a dataset while the embedded worker trains on it, with the real training child and tiny
model: refused while the run is active; with ``cancel_runs`` the child gets its SIGTERM as from the
Cancel button, stops after its step with a checkpoint, and only then does the export go."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.test_run_execution import LONG, done, log_text, runner, seed_dataset, wait_for  # noqa: F401
from training_dashboard.training.layout import latest_checkpoint_step

pytestmark = pytest.mark.slow


async def test_delete_with_cancel_runs_stops_the_child_first(client, settings, db, runner):  # noqa: F811
    dataset_id = await seed_dataset(client, db, settings)
    body = {"dataset_id": dataset_id, "task": "sft", "config": {**LONG, "epochs": 40, "patience": 0,
                                                                 "checkpoint_every": 0}}
    training = (await client.post("/runs", json={**body, "name": "training"})).json()
    waiting = (await client.post("/runs", json={**body, "name": "waiting"})).json()
    export = Path((await client.get(f"/datasets/{dataset_id}")).json()["exports"][0]["export_path"])
    await wait_for(client, training["id"], lambda x: x["status"] == "running" and x["step"] >= 2)

    r = await client.delete(f"/datasets/{dataset_id}")
    assert r.status_code == 409 and f"#{training['id']} (running), #{waiting['id']} (queued)" in r.json()["detail"]
    assert (export / "td_export.json").is_file()

    r = await client.delete(f"/datasets/{dataset_id}", params={"cancel_runs": "true"})
    assert r.status_code == 204, r.text
    a = await wait_for(client, training["id"], done, timeout=5)  # already settled when the delete answered
    b = await wait_for(client, waiting["id"], done, timeout=5)
    assert (a["status"], b["status"]) == ("cancelled", "cancelled"), (a, b)
    assert a["error"] is None and a["step"] < a["total_steps"] and b["attempts"] == 0
    assert latest_checkpoint_step(Path(a["output_dir"])) == a["step"]  # stopped after its step, checkpoint kept
    log = await log_text(client, training["id"])
    assert "cancel requested: stopping after the current step" in log and "missing" not in log
    assert not export.exists() and (await client.get(f"/datasets/{dataset_id}")).status_code == 404
