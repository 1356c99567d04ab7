"""Worker API for training runs (/api/worker/runs/*): auth, the claim/lease contract, checkpoints,
results, idempotency and hostile archives. Real DB, real API in-process; the training itself runs
in tests/scale/test_training_workers.py."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.factories import make_clips, make_lora_dir
from training_dashboard.api.app import create_app
from training_dashboard.db.models import TrainingRun
from training_dashboard.training.layout import planned_steps

TOKEN = "worker-secret"
H = {"Authorization": f"Bearer {TOKEN}", "X-TD-Worker": "box-1"}


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"worker_token": TOKEN})


async def _queued_run(client, db, settings, epochs: int = 4) -> dict:
    pid = (await client.post("/prompts", json={"text": "calm piano"})).json()["id"]
    for aid in make_clips(db, settings, pid, n=4):
        assert (await client.post("/feedback", json={"audio_id": aid, "rating": 5})).status_code == 201
    ds = (await client.post("/datasets", json={"name": "good", "type": "supervised"})).json()
    r = await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft", "preset": "quick",
                                         "config": {"epochs": epochs, "batch_size": 1}})
    assert r.status_code == 202, r.text
    return r.json()


def _tar(files: dict[str, bytes] | None = None, special: list[tarfile.TarInfo] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (files or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in special or []:
            tar.addfile(info)
    return buf.getvalue()


def _checkpoint(step: int) -> bytes:
    return _tar({"train_config.json": b"{}", f"checkpoints/step-{step:06d}/trainer_state.pt": b"state",
                 f"checkpoints/step-{step:06d}/adapter_model.safetensors": b"w" * 100,
                 "best/best_eval.json": b'{"step": 1, "eval_loss": 1.0}',
                 "metrics.jsonl": b'{"step": 1, "loss": 1.0}\n'})


def _result(tmp_path: Path) -> bytes:
    lora = make_lora_dir(tmp_path / "made", "lora")
    files = {p.name: p.read_bytes() for p in lora.iterdir()}
    files["training_report.json"] = json.dumps({"task": "sft", "steps": 8, "base_model": "tiny",
                                                "best_eval_loss": 1.25, "hyperparameters": {"lr": 0.01}}).encode()
    files["metrics.jsonl"] = b'{"step": 1, "loss": 1.0}\n'
    return _tar(files)


async def _claim(client, run_id: int, status: int = 200) -> dict:
    r = await client.post(f"/worker/runs/{run_id}/claim", json={}, headers=H)
    assert r.status_code == status, r.text
    return r.json()


async def _progress(client, run_id: int, attempt: int, records: list | None = None, log: str = "") -> httpx.Response:
    return await client.post(f"/worker/runs/{run_id}/progress", headers=H,
                             json={"attempt": attempt, "records": records or [], "log": log})


async def test_worker_token_is_required(client, db, settings):
    run = await _queued_run(client, db, settings)
    url = f"/worker/runs/{run['id']}/claim"
    assert (await client.post(url, json={})).status_code == 401
    assert (await client.post(url, json={}, headers={"Authorization": "Bearer nope"})).status_code == 401
    assert (await client.get(f"/runs/{run['id']}")).json()["status"] == "queued"  # nothing claimed
    off = create_app(settings.model_copy(update={"worker_token": None}), with_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=off), base_url="http://test/api") as other:
        r = await other.post(url, json={}, headers=H)
        assert r.status_code == 403 and "TD_WORKER_TOKEN" in r.json()["detail"]
    off.state.db.dispose()


async def test_claim_progress_checkpoint_hand_back_and_result(client, db, settings, tmp_path):
    run = await _queued_run(client, db, settings)
    rid = run["id"]
    claim = await _claim(client, rid)
    assert claim["attempt"] == 1 and claim["run_id"] == rid and claim["task"] == "sft"
    assert claim["name"] == run["name"] and claim["base_model"] == "tiny"
    assert claim["config"] == {k: v for k, v in run["config"].items() if k != "preset"}
    assert claim["sample_count"] == 4 and claim["checkpoint_step"] is None
    assert claim["total_steps"] == planned_steps(4, run["config"]) == 16
    now = (await client.get(f"/runs/{rid}")).json()
    assert now["status"] == "running" and now["attempts"] == 1 and now["total_steps"] == 16
    assert (await _claim(client, rid, 409))["detail"].startswith(f"Run {rid} is already running")

    # the export, as a tar of the run's export directory
    r = await client.get(f"/worker/runs/{rid}/export", headers=H)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        names = set(tar.getnames())
    export = Path(run["command"].split("--data ")[1].split(" ")[0])
    assert names == {p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file()}
    assert "td_export.json" in names
    assert (await client.get(f"/worker/runs/{rid}/checkpoint", headers=H)).status_code == 404

    # progress: metrics stored like the embedded worker's, log text appended, lease renewed
    records = [{"step": 0, "eval_loss": 2.0}, *({"step": s, "loss": 2.0 - s / 10, "lr": 0.01, "time": s}
                                                for s in range(1, 6))]
    r = await _progress(client, rid, 1, records, "step 1 loss 1.9\nstep 5 loss 1.5\n")
    assert r.status_code == 200 and r.json() == {"cancel": False}
    metrics = (await client.get(f"/runs/{rid}/metrics")).json()
    assert [p[0] for p in metrics["series"]["loss"]] == [1, 2, 3, 4, 5]
    assert (await client.get(f"/runs/{rid}")).json()["step"] == 5
    log = (await client.get(f"/runs/{rid}/logs")).json()["text"]
    assert "attempt 1 claimed by box-1" in log and "step 5 loss 1.5\n" in log

    # checkpoints: stored atomically, only the newest kept, downloadable as sent
    for step in (2, 4):
        r = await client.put(f"/worker/runs/{rid}/checkpoint", params={"attempt": 1, "step": step}, headers=H,
                             content=_checkpoint(step))
        assert r.status_code == 200 and r.json() == {"checkpoint_step": step}, r.text
    stored = settings.resolved_data_dir / "runs" / f"run-{rid}"
    assert sorted(p.name for p in stored.iterdir()) == ["checkpoint-4.tar"]
    r = await client.put(f"/worker/runs/{rid}/checkpoint", params={"attempt": 1, "step": 2}, headers=H,
                         content=_checkpoint(2))  # a late re-send of an older one changes nothing
    assert r.json() == {"checkpoint_step": 4}
    r = await client.get(f"/worker/runs/{rid}/checkpoint", headers=H)
    assert r.status_code == 200 and r.content == _checkpoint(4) and r.headers["x-td-checkpoint-step"] == "4"

    # handed back (warm shutdown): queued again, resumable, the next claim continues from step 4
    r = await client.post(f"/worker/runs/{rid}/finish", headers=H, json={"attempt": 1, "status": "queued"})
    assert r.status_code == 200
    now = (await client.get(f"/runs/{rid}")).json()
    assert now["status"] == "queued"
    with db.session() as session:
        row = session.get(TrainingRun, rid)
        assert row.resume is True and row.dispatched_at is None and row.worker_host is None  # sent again
    second = await _claim(client, rid)
    assert second["attempt"] == 2 and second["checkpoint_step"] == 4
    metrics = (await client.get(f"/runs/{rid}/metrics")).json()
    assert [p[0] for p in metrics["series"]["loss"]] == [1, 2, 3, 4]  # step 5 came after the checkpoint

    # the first attempt is stale now: every lease-holding call is refused
    assert (await _progress(client, rid, 1, [{"step": 5, "loss": 1.0}])).status_code == 409
    r = await client.put(f"/worker/runs/{rid}/checkpoint", params={"attempt": 1, "step": 6}, headers=H,
                         content=_checkpoint(6))
    assert r.status_code == 409
    assert (await client.put(f"/worker/runs/{rid}/result", params={"attempt": 1}, headers=H,
                             content=_result(tmp_path))).status_code == 409
    r = await client.post(f"/worker/runs/{rid}/finish", headers=H, json={"attempt": 1, "status": "failed"})
    assert r.status_code == 409 and "no longer holds" in r.json()["detail"]
    assert (await client.get(f"/runs/{rid}")).json()["status"] == "running"

    # the result: unpacked into output_dir, adapter registered once; a re-sent upload returns the same id
    r = await client.put(f"/worker/runs/{rid}/result", params={"attempt": 2}, headers=H, content=_result(tmp_path))
    assert r.status_code == 200, r.text
    adapter_id = r.json()["adapter_id"]
    done = (await client.get(f"/runs/{rid}")).json()
    assert done["status"] == "completed" and done["adapter_id"] == adapter_id and done["step"] == 8
    out = Path(done["output_dir"])
    assert (out / "adapter_model.safetensors").is_file() and (out / "training_report.json").is_file()
    r = await client.put(f"/worker/runs/{rid}/result", params={"attempt": 2}, headers=H, content=_result(tmp_path))
    assert r.status_code == 200 and r.json() == {"adapter_id": adapter_id}
    adapters = (await client.get("/adapters")).json()["items"]
    assert [a["id"] for a in adapters] == [adapter_id] and adapters[0]["report"]["run_id"] == rid
    assert not list(stored.glob("checkpoint-*.tar"))
    assert "completed; registered adapter" in (await client.get(f"/runs/{rid}/logs")).json()["text"]
    assert (await _claim(client, rid, 409))["detail"] == f"Run {rid} is already completed"
    assert (await _progress(client, rid, 2)).status_code == 409


async def test_cancel_reaches_the_worker_and_finishes_cancelled(client, db, settings):
    run = await _queued_run(client, db, settings)
    rid = run["id"]
    await _claim(client, rid)
    assert (await _progress(client, rid, 1)).json() == {"cancel": False}
    assert (await client.post(f"/runs/{rid}/cancel")).status_code == 200
    assert (await _progress(client, rid, 1)).json() == {"cancel": True}
    r = await client.post(f"/worker/runs/{rid}/finish", headers=H, json={"attempt": 1, "status": "cancelled"})
    assert r.status_code == 200
    now = (await client.get(f"/runs/{rid}")).json()
    assert now["status"] == "cancelled" and now["finished_at"] is not None
    # resumed by the user: queued again, claimable as a new attempt
    assert (await client.post(f"/runs/{rid}/resume")).status_code == 200
    assert (await _claim(client, rid))["attempt"] == 2
    r = await client.put(f"/worker/runs/{rid}/checkpoint", params={"attempt": 2, "step": 2}, headers=H,
                         content=_checkpoint(2))
    assert r.status_code == 200
    r = await client.post(f"/worker/runs/{rid}/finish", headers=H,
                          json={"attempt": 2, "status": "failed", "error": "boom"})
    assert r.status_code == 200 and (await client.get(f"/runs/{rid}")).json()["error"] == "boom"
    stored = settings.resolved_data_dir / "runs" / f"run-{rid}"
    assert [p.name for p in stored.iterdir()] == ["checkpoint-2.tar"]  # kept: a resume continues from it
    assert (await client.delete(f"/runs/{rid}")).status_code == 204
    assert not stored.exists()  # deleting the run takes its uploaded checkpoints with it


def _special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


BAD_ARCHIVES = {
    "absolute path": (_tar({"/tmp/td-escaped-abs": b"x"}), "absolute"),
    "dot-dot": (_tar({"../../escaped": b"x"}), "'..'"),
    "symlink": (_tar(special=[_special("train_config.json", tarfile.SYMTYPE, "/etc/passwd")]), "regular files"),
    "hard link": (_tar(special=[_special("metrics.jsonl", tarfile.LNKTYPE, "/etc/passwd")]), "regular files"),
    "device": (_tar(special=[_special("best/dev", tarfile.CHRTYPE)]), "regular files"),
    "fifo": (_tar(special=[_special("best/fifo", tarfile.FIFOTYPE)]), "regular files"),
    "not a tar": (b"this is not an archive" * 40, "not a readable tar"),
}


@pytest.mark.parametrize("kind", list(BAD_ARCHIVES))
async def test_hostile_archives_are_refused(client, db, settings, tmp_path, kind):
    body, message = BAD_ARCHIVES[kind]
    run = await _queued_run(client, db, settings)
    rid = run["id"]
    await _claim(client, rid)
    r = await client.put(f"/worker/runs/{rid}/checkpoint", params={"attempt": 1, "step": 2}, headers=H, content=body)
    assert r.status_code == 400 and message in r.json()["detail"], r.text
    r = await client.put(f"/worker/runs/{rid}/result", params={"attempt": 1}, headers=H, content=body)
    assert r.status_code == 400 and message in r.json()["detail"], r.text
    now = (await client.get(f"/runs/{rid}")).json()
    assert now["status"] == "running" and now["adapter_id"] is None
    assert not Path("/tmp/td-escaped-abs").exists() and not (settings.resolved_data_dir.parent / "escaped").exists()
    assert not Path(run["output_dir"]).exists()
    assert (await client.get(f"/worker/runs/{rid}/checkpoint", headers=H)).status_code == 404
    leftovers = [p.name for p in (settings.resolved_data_dir / "runs" / f"run-{rid}").iterdir()]
    assert leftovers == []  # no spool or scratch files left behind


async def test_bad_checkpoints_results_and_progress(client, db, settings, tmp_path):
    run = await _queued_run(client, db, settings)
    rid = run["id"]
    await _claim(client, rid)
    url = f"/worker/runs/{rid}/checkpoint"
    cases = [
        ({"attempt": 1, "step": 2}, _tar({"train_config.json": b"{}"}), 400, "no checkpoints/step-000002"),
        ({"attempt": 1, "step": 2}, _tar({"train_config.json": b"{}", "etc/passwd": b"x",
                                          "checkpoints/step-000002/trainer_state.pt": b"s"}), 400, "got etc"),
        ({"attempt": 1, "step": 99}, _checkpoint(99), 400, "past the run's 16 planned steps"),
        ({"attempt": 1, "step": 0}, _checkpoint(2), 422, "step"),
        ({"attempt": 0, "step": 2}, _checkpoint(2), 422, "attempt"),
        ({"step": 2}, _checkpoint(2), 422, "attempt"),
        ({"attempt": 1, "step": 2}, b"", 400, "Empty upload"),
    ]
    for params, body, status, message in cases:
        r = await client.put(url, params=params, headers=H, content=body)
        assert r.status_code == status and message in r.text, (params, r.text)
    r = await client.put(f"/worker/runs/{rid}/result", params={"attempt": 1}, headers=H,
                         content=_tar({"adapter_config.json": b"{}"}))
    assert r.status_code == 400 and "no training_report.json" in r.json()["detail"]
    r = await client.put(f"/worker/runs/{rid}/result", params={"attempt": 1}, headers=H,
                         content=_tar({"training_report.json": b"{}", "checkpoints/step-000002/x": b"x"}))
    assert r.status_code == 400 and "checkpoints/" in r.json()["detail"]
    r = await client.put(f"/worker/runs/{rid}/result", params={"attempt": 1}, headers=H,
                         content=_tar({"training_report.json": b"{}"}))  # finished, but no adapter in it
    assert r.status_code == 400 and (await client.get(f"/runs/{rid}")).json()["adapter_id"] is None
    for records, message in (([{"loss": 1.0}], "records[0].step"), ([{"step": "1"}], "records[0].step"),
                             ([{"step": -1}], "records[0].step"), ([{"step": 1, "loss": "low"}], "number or null"),
                             ([{"step": 1, **{f"k{i}": 1 for i in range(30)}}], "more than 20 fields")):
        r = await _progress(client, rid, 1, records)
        assert r.status_code == 400 and message in r.json()["detail"], r.text
    r = await client.post(f"/worker/runs/{rid}/progress", headers=H, json={"attempt": 1, "extra": 1})
    assert r.status_code == 422
    r = await client.post(f"/worker/runs/{rid}/finish", headers=H, json={"attempt": 1, "status": "completed"})
    assert r.status_code == 422
    assert (await client.get(f"/runs/{rid}")).json()["status"] == "running"


async def test_unknown_runs_are_404(client):
    for method, path, kwargs in (
        ("POST", "/worker/runs/999999/claim", {"json": {}}),
        ("GET", "/worker/runs/999999/export", {}),
        ("GET", "/worker/runs/999999/checkpoint", {}),
        ("PUT", "/worker/runs/999999/checkpoint?attempt=1&step=2", {"content": _checkpoint(2)}),
        ("POST", "/worker/runs/999999/progress", {"json": {"attempt": 1}}),
        ("PUT", "/worker/runs/999999/result?attempt=1", {"content": b"x" * 10}),
        ("POST", "/worker/runs/999999/finish", {"json": {"attempt": 1, "status": "failed"}}),
    ):
        r = await client.request(method, path, headers=H, **kwargs)
        assert r.status_code == 404 and "Run 999999 not found" in r.json()["detail"], (method, path, r.text)
    assert (await client.post("/worker/runs/0/claim", json={}, headers=H)).status_code == 422


async def test_export_gone_fails_the_run_with_a_clear_message(client, db, settings):
    import shutil

    first = await _queued_run(client, db, settings)
    await _claim(client, first["id"])
    export = Path(first["command"].split("--data ")[1].split(" ")[0])
    second = (await client.post("/runs", json={"dataset_id": first["dataset_id"], "task": "sft"})).json()
    shutil.rmtree(export)
    r = await client.get(f"/worker/runs/{first['id']}/export", headers=H)
    assert r.status_code == 410 and "Start a new run" in r.json()["detail"]
    r = await client.post(f"/worker/runs/{second['id']}/claim", json={}, headers=H)
    assert r.status_code == 410 and "Start a new run from the dataset" in r.json()["detail"]
    failed = (await client.get(f"/runs/{second['id']}")).json()
    assert failed["status"] == "failed" and "Start a new run" in failed["error"] and failed["attempts"] == 0
