"""Training runs API: contract and validation (the execution itself is in tests/engine/test_run_execution.py)."""

from __future__ import annotations

import math
import shlex

import pytest

from tests.factories import make_clips
from training_dashboard.services import run_metrics, run_worker
from training_dashboard.training import options as cli_options
from training_dashboard.training.cli import build_parser


async def _dataset(client, db, settings, kind: str = "supervised", name: str = "good") -> dict:
    pid = (await client.post("/prompts", json={"text": "calm piano"})).json()["id"]
    ids = make_clips(db, settings, pid, n=4)
    if kind == "supervised":
        for aid in ids:
            assert (await client.post("/feedback", json={"audio_id": aid, "rating": 5})).status_code == 201
    else:
        for chosen, rejected in ((ids[0], ids[1]), (ids[2], ids[3])):
            r = await client.post("/preferences", json={"chosen_id": chosen, "rejected_id": rejected})
            assert r.status_code == 201
    r = await client.post("/datasets", json={"name": name, "type": kind})
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_run_exports_resolves_and_lists(client, db, settings):
    ds = await _dataset(client, db, settings)
    assert ds["exports"] == []
    r = await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft", "preset": "quick",
                                         "config": {"learning_rate": 0.01, "target_modules": "q_proj,fc1"}})
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "queued" and run["progress"] == 0 and run["step"] == 0 and run["adapter_id"] is None
    assert run["name"] == "good-sft" and run["dataset_name"] == "good" and run["task"] == "sft"
    config = run["config"]
    assert config["preset"] == "quick" and config["learning_rate"] == 0.01 and config["lora_r"] == 8
    assert config["epochs"] == 1 and config["target_modules"] == ["q_proj", "fc1"]
    assert "beta" not in config and config["cond_dropout"] == 0.1  # sft options only
    exports = (await client.get(f"/datasets/{ds['id']}")).json()["exports"]
    assert [e["format"] for e in exports] == ["jsonl"]  # exported first, because there was no export
    argv = shlex.split(run["command"])
    assert argv[:4] == ["python", "-m", "training_dashboard.training", "sft"]
    assert argv[argv.index("--data") + 1] == exports[0]["export_path"]
    # The command is equivalent: the CLI's own parser and merge give back the resolved config.
    parsed = vars(build_parser().parse_args(argv[3:]))
    for key in ("command", "data", "name"):
        parsed.pop(key)
    resolved = cli_options.merge(None, None, parsed)
    assert resolved["lr"] == 0.01 and resolved["lora_rank"] == 8 and resolved["target_modules"] == ["q_proj", "fc1"]
    assert {k: v for k, v in resolved.items() if k != "beta"} == {
        {"learning_rate": "lr", "lora_r": "lora_rank", "eval_fraction": "val_fraction"}.get(k, k): v
        for k, v in config.items() if k != "preset"}

    second = (await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft", "name": "my run"})).json()
    assert second["config"]["preset"] == "standard" and second["config"]["epochs"] == 3
    assert second["output_dir"] != run["output_dir"]
    assert [e["format"] for e in (await client.get(f"/datasets/{ds['id']}")).json()["exports"]] == ["jsonl"]
    listed = (await client.get("/runs")).json()
    assert listed["total"] == 2 and [x["id"] for x in listed["items"]] == [second["id"], run["id"]]
    assert (await client.get("/runs", params={"status": "running"})).json()["total"] == 0
    assert (await client.get("/runs", params={"dataset_id": ds["id"], "limit": 1})).json()["items"][0]["id"] == \
        second["id"]
    assert (await client.get(f"/runs/{run['id']}")).json() == run


async def test_dpo_run_on_a_preference_dataset_keeps_beta(client, db, settings):
    ds = await _dataset(client, db, settings, kind="preference", name="prefs")
    r = await client.post("/runs", json={"dataset_id": ds["id"], "task": "dpo", "config": {"beta": 0.5}})
    assert r.status_code == 202, r.text
    assert r.json()["config"]["beta"] == 0.5 and "cond_dropout" not in r.json()["config"]
    assert "--beta 0.5" in r.json()["command"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"task": "dpo"}, 400, "needs a preference one"),
    ({"task": "sft", "config": {"lr": 0.1}}, 400, "unknown option(s) lr"),
    ({"task": "sft", "config": {"learning_rate": 5}}, 400, "learning_rate (--lr) must be between"),
    ({"task": "sft", "config": {"epochs": 1.5}}, 400, "epochs (--epochs) must be an integer"),
    ({"task": "sft", "config": {"epochs": "many"}}, 400, "must be an integer"),
    ({"task": "sft", "config": {"batch_size": None}}, 400, "must be an integer"),
    ({"task": "sft", "config": {"beta": 0.1}}, 400, "beta applies to dpo runs only"),
    ({"task": "sft", "config": {"target_modules": ["lm_head"]}}, 400, "unknown module"),
    ({"task": "sft", "config": {"target_modules": []}}, 400, "comma-separated list"),
    ({"task": "sft", "config": {"seed": -1}}, 400, "seed (--seed) must be between"),
    ({"task": "sft", "preset": "huge"}, 422, "preset"),
    ({"task": "ppo"}, 422, "task"),
    ({"task": "sft", "name": "../etc"}, 422, "name"),
    ({"task": "sft", "config": "fast"}, 422, "config"),
])
async def test_bad_runs_are_refused_with_a_message(client, db, settings, body, status, message):
    ds = await _dataset(client, db, settings)
    r = await client.post("/runs", json={"dataset_id": ds["id"], **body})
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]
    assert (await client.get("/runs")).json()["total"] == 0


async def test_unknown_or_empty_dataset(client, db, settings):
    r = await client.post("/runs", json={"dataset_id": 999, "task": "sft"})
    assert r.status_code == 404 and "Dataset 999 not found" in r.json()["detail"]
    empty = (await client.post("/datasets", json={"name": "nothing", "filter": {"min_rating": 5}})).json()
    r = await client.post("/runs", json={"dataset_id": empty["id"], "task": "sft"})
    assert r.status_code == 400 and "is empty" in r.json()["detail"]
    for path in ("/runs/0", "/runs/abc", "/runs/99/metrics?max_points=5", "/runs/1/logs?offset=-1"):
        assert (await client.get(path)).status_code == 422, path
    for method, path in (("GET", "/runs/99"), ("GET", "/runs/99/metrics"), ("GET", "/runs/99/logs"),
                         ("POST", "/runs/99/cancel"), ("POST", "/runs/99/resume"), ("DELETE", "/runs/99")):
        r = await client.request(method, path)
        assert r.status_code == 404 and r.json()["detail"] == "Run 99 not found", (method, path)


async def test_lifecycle_cancel_resume_delete(client, db, settings):
    ds = await _dataset(client, db, settings)
    run = (await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft"})).json()
    rid = run["id"]
    assert (await client.post(f"/runs/{rid}/resume")).status_code == 409  # queued: nothing to resume
    assert (await client.delete(f"/runs/{rid}")).status_code == 409  # not finished
    cancelled = (await client.post(f"/runs/{rid}/cancel")).json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] is not None
    again = await client.post(f"/runs/{rid}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    resumed = (await client.post(f"/runs/{rid}/resume")).json()
    assert resumed["status"] == "queued" and resumed["finished_at"] is None and resumed["id"] == rid
    claimed = run_worker.claim_next_run(db, "test-host", 1)
    assert claimed is not None and claimed.id == rid and claimed.resume
    assert (await client.get(f"/runs/{rid}")).json()["status"] == "running"
    assert (await client.delete(f"/runs/{rid}")).status_code == 409
    assert (await client.post(f"/runs/{rid}/cancel")).json()["cancel_requested"] is True
    run_worker.finish_run(db, rid, "cancelled")
    assert (await client.delete(f"/runs/{rid}")).status_code == 204
    assert (await client.get(f"/runs/{rid}")).status_code == 404
    nxt = (await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft"})).json()
    assert nxt["id"] > rid  # ids are never reused


async def test_metrics_downsampled_keeping_extremes(client, db, settings):
    ds = await _dataset(client, db, settings)
    rid = (await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft"})).json()["id"]
    run_worker.claim_next_run(db, "test-host", 1)
    run_worker.start_attempt(db, rid, total_steps=3000, resumed_step=None, child_pid=1)
    records = [{"step": 0, "eval_loss": 6.0}]
    for step in range(1, 3001):
        records.append({"step": step, "epoch": 1, "loss": 5 - step / 1000 + (3.0 if step == 1234 else 0.0)
                        - (2.0 if step == 2345 else 0.0), "lr": 1e-4, "grad_norm": 0.5, "time": 1000 + step * 0.1})
        if step % 100 == 0:
            records.append({"step": step, "eval_loss": 6 - step / 1000})
    for start in range(0, len(records), 700):  # arrives in pieces, as the worker reads it
        assert run_worker.report_progress(db, rid, records[start:start + 700]) is False
    run = (await client.get(f"/runs/{rid}")).json()
    assert run["step"] == 3000 and run["best_eval_loss"] == pytest.approx(3.0) and 0.98 < run["progress"] < 1
    assert run["eta_seconds"] == 0
    full = (await client.get(f"/runs/{rid}/metrics", params={"max_points": 100000})).json()
    assert full["points"] == 3001 and full["last_step"] == 3000
    assert len(full["series"]["loss"]) == 3000 and len(full["series"]["eval_loss"]) == 31
    assert set(full["series"]) == {"loss", "eval_loss", "learning_rate", "grad_norm"}
    small = (await client.get(f"/runs/{rid}/metrics", params={"max_points": 100})).json()["series"]
    for name, points in small.items():
        assert len(points) <= 100, name
        assert [p[0] for p in points] == sorted({p[0] for p in points})
    losses = dict(map(tuple, small["loss"]))
    assert losses[1234] == pytest.approx(5 - 1.234 + 3) and losses[2345] == pytest.approx(5 - 2.345 - 2)
    assert 1 in losses and 3000 in losses
    assert small["eval_loss"] == full["series"]["eval_loss"]  # fewer than max_points: all of them
    since = (await client.get(f"/runs/{rid}/metrics", params={"since_step": 2900})).json()
    assert [p[0] for p in since["series"]["loss"]] == list(range(2900, 3001))
    assert since["series"]["eval_loss"] == [[2900, pytest.approx(3.1)], [3000, pytest.approx(3.0)]]
    # A resumed attempt forgets what was logged after its checkpoint.
    run_worker.start_attempt(db, rid, total_steps=3000, resumed_step=1500, child_pid=2)
    after = (await client.get(f"/runs/{rid}/metrics", params={"max_points": 100000})).json()
    assert after["last_step"] == 1500 and len(after["series"]["loss"]) == 1500
    assert (await client.get(f"/runs/{rid}")).json()["step"] == 1500


async def test_non_finite_metrics_are_left_out(client, db, settings):
    ds = await _dataset(client, db, settings)
    rid = (await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft"})).json()["id"]
    run_worker.report_progress(db, rid, [{"step": 1, "loss": math.inf, "lr": 1e-4}, {"step": 2, "loss": 1.0},
                                         {"step": 3, "loss": math.nan}])
    r = await client.get(f"/runs/{rid}/metrics")
    assert r.status_code == 200 and r.json()["series"]["loss"] == [[2, 1.0]]


async def test_logs_from_offsets_and_tail(client, db, settings):
    ds = await _dataset(client, db, settings)
    rid = (await client.post("/runs", json={"dataset_id": ds["id"], "task": "sft"})).json()["id"]
    empty = (await client.get(f"/runs/{rid}/logs")).json()
    assert empty == {"text": "", "next_offset": 0, "complete": False}
    lines = [f"step {i} | loss {5 - i / 10:.4f} | é" for i in range(50)]
    run_metrics.append_log(settings.resolved_data_dir, rid, "\n".join(lines))
    text, offset = "", 0
    for _ in range(100):
        page = (await client.get(f"/runs/{rid}/logs", params={"offset": offset, "limit": 100})).json()
        if page["next_offset"] == offset:
            break
        assert page["text"].endswith("\n")  # whole lines only
        text, offset = text + page["text"], page["next_offset"]
    assert text.splitlines() == lines and not page["complete"]
    tail = (await client.get(f"/runs/{rid}/logs", params={"tail": 120})).json()
    assert tail["text"].splitlines() == lines[-len(tail["text"].splitlines()):] and tail["next_offset"] == offset
    assert (await client.get(f"/runs/{rid}/logs", params={"offset": 10**9})).json()["next_offset"] == offset
    await client.post(f"/runs/{rid}/cancel")
    assert (await client.get(f"/runs/{rid}/logs", params={"offset": offset})).json()["complete"] is True


async def test_options_list_presets_and_ranges(client):
    body = (await client.get("/runs/options")).json()
    assert [p["name"] for p in body["presets"]] == ["quick", "standard", "thorough"]
    assert all(p["description"] for p in body["presets"])
    options = {o["name"]: o for o in body["options"]}
    assert options["learning_rate"]["flag"] == "--lr" and options["learning_rate"]["maximum"] == 1.0
    assert options["beta"]["tasks"] == ["dpo"] and options["target_modules"]["kind"] == "list"
