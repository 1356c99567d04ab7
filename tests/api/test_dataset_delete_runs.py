"""Deleting a dataset that training runs still use: refused with 409 naming them, or with
``?cancel_runs=true`` the runs are cancelled as the Cancel button does it and the delete waits until
they have stopped, so no run fails later with "export missing". SQLite and PostgreSQL
(``./scripts/with_postgres.sh``). Real DB, real API in-process; the worker's side is played through
its own API (/api/worker/runs, as a Celery worker) or its own service calls (as the embedded one);
the real training child is in tests/engine/test_dataset_delete_run.py."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.api.test_evaluations import finish_jobs, rater, register, vote_for
from tests.factories import make_clips
from training_dashboard.db.models import Adapter
from training_dashboard.services import dataset_runs, run_worker

TOKEN = "worker-secret"
H = {"Authorization": f"Bearer {TOKEN}", "X-TD-Worker": "box-1"}


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"worker_token": TOKEN})


async def _dataset_with_runs(client, db, settings, runs: int = 2) -> tuple[dict, list[dict]]:
    pid = (await client.post("/prompts", json={"text": "calm piano"})).json()["id"]
    for aid in make_clips(db, settings, pid, n=4):
        assert (await client.post("/feedback", json={"audio_id": aid, "rating": 5})).status_code == 201
    ds = (await client.post("/datasets", json={"name": "good", "type": "supervised"})).json()
    made = []
    for i in range(runs):
        r = await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft", "preset": "quick",
                                             "name": f"run-{i}", "config": {"epochs": 2, "batch_size": 1}})
        assert r.status_code == 202, r.text
        made.append(r.json())
    return ds, made


async def _status(client, run_id: int) -> dict:
    return (await client.get(f"/runs/{run_id}")).json()


async def test_delete_is_refused_naming_the_active_runs(client, db, settings):
    ds, (first, second) = await _dataset_with_runs(client, db, settings)
    claim = await client.post(f"/worker/runs/{first['id']}/claim", json={}, headers=H)
    assert claim.status_code == 200, claim.text
    r = await client.delete(f"/datasets/{ds['id']}")
    assert r.status_code == 409
    assert r.json()["detail"] == (f"Dataset {ds['id']} has active training runs: #{first['id']} (running), "
                                  f"#{second['id']} (queued); cancel them first or delete with ?cancel_runs=true")
    # nothing was touched: the dataset, its export and both runs are as they were
    export = (await client.get(f"/datasets/{ds['id']}")).json()["exports"][0]["export_path"]
    assert (Path(export) / "td_export.json").is_file()
    assert [(await _status(client, x["id"]))["status"] for x in (first, second)] == ["running", "queued"]
    assert not (await _status(client, first["id"]))["cancel_requested"]
    # once they are finished, the delete goes through
    for x in (first, second):
        assert (await client.post(f"/runs/{x['id']}/cancel")).status_code == 200
    r = await client.post(f"/worker/runs/{first['id']}/finish", headers=H, json={"attempt": 1, "status": "cancelled"})
    assert r.status_code == 200, r.text
    assert (await client.delete(f"/datasets/{ds['id']}")).status_code == 204


async def test_cancel_runs_stops_a_run_on_a_worker_then_deletes(client, db, settings):
    ds, (running, queued) = await _dataset_with_runs(client, db, settings)
    export = Path((await client.get(f"/datasets/{ds['id']}")).json()["exports"][0]["export_path"])
    assert (await client.post(f"/worker/runs/{running['id']}/claim", json={}, headers=H)).status_code == 200
    seen_export_while_cancelling = []

    async def worker() -> None:
        """The Celery worker's side: report progress until told to cancel, then stop after the step."""
        for _ in range(400):
            r = await client.post(f"/worker/runs/{running['id']}/progress", headers=H,
                                  json={"attempt": 1, "records": [], "log": ""})
            assert r.status_code == 200, r.text
            if r.json()["cancel"]:
                seen_export_while_cancelling.append((export / "td_export.json").is_file())
                await asyncio.sleep(0.3)  # the step in progress ends, a checkpoint is saved
                r = await client.post(f"/worker/runs/{running['id']}/finish", headers=H,
                                      json={"attempt": 1, "status": "cancelled"})
                assert r.status_code == 200, r.text
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the worker was never told to cancel")

    deleted, _ = await asyncio.gather(client.delete(f"/datasets/{ds['id']}", params={"cancel_runs": "true"}),
                                      worker())
    assert deleted.status_code == 204, deleted.text
    assert seen_export_while_cancelling == [True]  # the export stayed while the run was still stopping
    assert (await client.get(f"/datasets/{ds['id']}")).status_code == 404 and not export.exists()
    a, b = await _status(client, running["id"]), await _status(client, queued["id"])
    assert (a["status"], a["cancel_requested"], b["status"], b["cancel_requested"]) == \
        ("cancelled", True, "cancelled", True)
    assert a["error"] is None and b["error"] is None  # cancelled, not failed with "export missing"
    # the runs' history stays; a resume is refused with the reason instead of failing later
    r = await client.post(f"/runs/{running['id']}/resume")
    assert r.status_code == 409 and "was deleted with its export" in r.json()["detail"]
    r = await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft"})
    assert r.status_code == 404


async def test_cancel_runs_stops_a_run_of_the_embedded_worker(client, db, settings):
    ds, (only,) = await _dataset_with_runs(client, db, settings, runs=1)
    claimed = run_worker.claim_next_run(db, "this-host", os.getpid())
    assert claimed is not None and claimed.id == only["id"]
    stopped = threading.Event()

    def embedded() -> None:
        """The embedded runner's side: poll the cancel flag, then settle the attempt as cancelled."""
        for _ in range(400):
            if run_worker.cancel_requested(db, only["id"]):
                run_worker.finish_run(db, only["id"], "cancelled")
                stopped.set()
                return
            threading.Event().wait(0.05)

    thread = threading.Thread(target=embedded)
    thread.start()
    r = await client.delete(f"/datasets/{ds['id']}", params={"cancel_runs": "true"})
    thread.join(30)
    assert r.status_code == 204, r.text
    assert stopped.is_set() and (await _status(client, only["id"]))["status"] == "cancelled"


async def test_a_run_that_does_not_stop_in_time_is_a_409_and_a_later_delete_succeeds(client, db, settings,
                                                                                      monkeypatch):
    monkeypatch.setattr(dataset_runs, "RUN_STOP_WAIT_S", 0.5)
    ds, (running,) = await _dataset_with_runs(client, db, settings, runs=1)
    assert (await client.post(f"/worker/runs/{running['id']}/claim", json={}, headers=H)).status_code == 200
    r = await client.delete(f"/datasets/{ds['id']}", params={"cancel_runs": "true"})
    assert r.status_code == 409
    detail = r.json()["detail"]
    assert f"#{running['id']} (running, cancel requested)" in detail and "delete the dataset again" in detail
    assert (await client.get(f"/datasets/{ds['id']}")).status_code == 200
    assert (await _status(client, running["id"]))["cancel_requested"] is True
    r = await client.post(f"/worker/runs/{running['id']}/progress", headers=H,
                          json={"attempt": 1, "records": [], "log": ""})
    assert r.json()["cancel"] is True
    await client.post(f"/worker/runs/{running['id']}/finish", headers=H, json={"attempt": 1, "status": "cancelled"})
    assert (await client.delete(f"/datasets/{ds['id']}")).status_code == 204


async def test_a_run_that_completes_instead_keeps_its_dataset(client, db, settings, tmp_path):
    """The cancel came after the last step: the run completes and registers its adapter, and the
    dataset it was trained on is then kept like any adapter's."""
    from tests.api.test_worker_runs import _result

    ds, (running,) = await _dataset_with_runs(client, db, settings, runs=1)
    assert (await client.post(f"/worker/runs/{running['id']}/claim", json={}, headers=H)).status_code == 200

    async def worker() -> None:
        for _ in range(400):
            r = await client.post(f"/worker/runs/{running['id']}/progress", headers=H,
                                  json={"attempt": 1, "records": [], "log": ""})
            if r.json()["cancel"]:
                r = await client.put(f"/worker/runs/{running['id']}/result", params={"attempt": 1}, headers=H,
                                     content=_result(tmp_path))
                assert r.status_code == 200, r.text
                return
            await asyncio.sleep(0.05)

    deleted, _ = await asyncio.gather(client.delete(f"/datasets/{ds['id']}", params={"cancel_runs": "true"}),
                                      worker())
    assert deleted.status_code == 409 and "training data of adapter(s)" in deleted.json()["detail"]
    assert (await _status(client, running["id"]))["status"] == "completed"
    assert (await client.get(f"/datasets/{ds['id']}")).status_code == 200


async def test_no_runs_and_finished_runs_do_not_block(client, db, settings):
    ds, (run,) = await _dataset_with_runs(client, db, settings, runs=1)
    assert (await client.post(f"/runs/{run['id']}/cancel")).json()["status"] == "cancelled"
    assert (await client.delete(f"/datasets/{ds['id']}", params={"cancel_runs": "true"})).status_code == 204
    assert (await client.delete(f"/datasets/{ds['id']}", params={"cancel_runs": "maybe"})).status_code == 422


async def test_client_passes_cancel_runs(api, client, db, settings):
    from training_dashboard.client import ApiError

    ds, (run,) = await _dataset_with_runs(client, db, settings, runs=1)
    with pytest.raises(ApiError) as refused:
        await api.delete_dataset(ds["id"])
    assert refused.value.status == 409 and f"#{run['id']} (queued)" in refused.value.message
    await api.delete_dataset(ds["id"], cancel_runs=True)
    assert (await _status(client, run["id"]))["status"] == "cancelled"


async def test_an_evaluation_keeps_working_when_its_candidates_dataset_is_gone(client, db, settings):
    """An evaluation needs only the adapters. A dataset an adapter names stays (409); one whose
    adapter no longer names it (as a run that completes after its dataset's delete leaves it) goes,
    and the evaluation of that adapter votes and concludes as before."""
    pid = (await client.post("/prompts", json={"text": "training prompt"})).json()["id"]
    for aid in make_clips(db, settings, pid, n=2):
        await client.post("/feedback", json={"audio_id": aid, "rating": 5})
    ds = (await client.post("/datasets", json={"name": "train", "filter": {"min_rating": 4}})).json()
    candidate = await register(client, settings, "cand", dataset_id=ds["id"])
    for i in range(6):
        await client.post("/prompts", json={"text": f"held-out {i}"})
    ev = (await client.post("/evaluations", json={"candidate_id": candidate, "num_prompts": 5, "seed": 1})).json()
    assert pid not in ev["prompt_ids"]
    r = await client.delete(f"/datasets/{ds['id']}")
    assert r.status_code == 409 and "cand@1.0.0" in r.json()["detail"]
    with db.session() as session:  # the adapter's link to its dataset is gone (its report keeps the name)
        session.execute(update(Adapter).where(Adapter.id == candidate).values(dataset_id=None))
        session.commit()
    assert (await client.delete(f"/datasets/{ds['id']}")).status_code == 204
    assert finish_jobs(db, settings) == 10
    ana = await rater(client, "ana")
    for _ in range(5):
        await vote_for(client, db, ev["id"], ana, "candidate")
    done = (await client.get(f"/evaluations/{ev['id']}")).json()
    assert done["status"] == "completed" and done["result"]["candidate_wins"] == 5, done
    again = await client.post("/evaluations", json={"candidate_id": candidate, "num_prompts": 5, "seed": 2})
    assert again.status_code == 202, again.text
