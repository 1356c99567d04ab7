"""The training CLI on exports built through the real API, with the real tiny model."""

from __future__ import annotations

import asyncio
import json
import math
import shlex

import httpx
import pytest

from training_dashboard.engine import Engine
from training_dashboard.training.cli import main

FAST = ["--epochs", "4", "--lr", "1e-2", "--batch-size", "4", "--lora-rank", "8", "--no-register"]


async def build_export(client, settings, db, kind: str = "supervised", fmt: str = "jsonl") -> dict:
    """Prompts -> generated clips (tiny model) -> feedback -> dataset snapshot -> export, via the API."""
    engine = Engine(settings, db)
    audio_ids = []
    for text in ("calm piano", "fast drums", "dark synth"):
        pid = (await client.post("/prompts", json={"text": text, "attributes": {"mood": "calm"}})).json()["id"]
        job = (await client.post("/generate", json={"prompt_id": pid, "num_samples": 4, "seed": pid, "duration": 1.0,
                                                    "temperature": 0.7})).json()
        await asyncio.to_thread(engine.process_next_job)
        done = (await client.get(f"/generate/{job['id']}")).json()
        assert done["status"] == "completed", done
        audio_ids.append(done["audio_ids"])
    for ids in audio_ids:
        if kind == "supervised":
            for aid in ids:
                assert (await client.post("/feedback", json={"audio_id": aid, "rating": 5})).status_code == 201
        else:
            for chosen, rejected in ((ids[0], ids[1]), (ids[2], ids[3]), (ids[0], ids[3])):
                r = await client.post("/preferences", json={"chosen_id": chosen, "rejected_id": rejected})
                assert r.status_code == 201, r.text
    ds = (await client.post("/datasets", json={"name": f"{kind}-set", "type": kind})).json()
    export = await client.post(f"/datasets/{ds['id']}/export", json={"format": fmt})
    assert export.status_code in (200, 201), export.text
    return export.json()


def metrics(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def run_cli(argv: list[str]) -> int:
    return main(argv)


async def test_sft_lowers_the_heldout_loss(client, settings, db, monkeypatch, tmp_path):
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    export = await build_export(client, settings, db)
    out = tmp_path / "run"
    code = await asyncio.to_thread(run_cli, ["sft", "--data", export["export_path"], "--output", str(out),
                                             "--val-fraction", "0.25", "--checkpoint-every", "0", *FAST])
    assert code == 0
    report = json.loads((out / "training_report.json").read_text())
    assert report["best_eval_loss"] < report["initial_eval_loss"]
    assert report["manifest_sha256"] == export["manifest_sha256"] and report["base_model"] == "tiny"
    assert report["examples_heldout"] == 3 and report["steps"] > 0
    rows = metrics(out)
    assert {"step", "loss", "lr", "grad_norm"} <= set(rows[1])
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny"
    from training_dashboard.engine import verify_adapter_dir

    verify_adapter_dir(out)


async def test_dpo_starts_at_ln2_and_decreases(client, settings, db, monkeypatch, tmp_path):
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    export = await build_export(client, settings, db, kind="preference", fmt="huggingface")
    out = tmp_path / "dpo"
    code = await asyncio.to_thread(run_cli, ["dpo", "--data", export["export_path"], "--output", str(out),
                                             "--val-fraction", "0", "--epochs", "10", "--lr", "1e-2",
                                             "--batch-size", "9", "--beta", "0.1", "--no-register"])
    assert code == 0
    train = [r for r in metrics(out) if "loss" in r]
    assert train[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert train[0]["reward_margin"] == pytest.approx(0.0, abs=1e-6)
    assert train[-1]["loss"] < train[0]["loss"] - 0.05 and train[-1]["reward_accuracy"] > 0.5


async def test_resume_continues_exactly_from_the_checkpoint(client, settings, db, monkeypatch, tmp_path):
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    export = await build_export(client, settings, db)
    common = ["--data", export["export_path"], "--checkpoint-every", "2", "--keep-checkpoints", "1",
              "--batch-size", "2", "--val-fraction", "0", *FAST[:4]]
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    assert await asyncio.to_thread(run_cli, ["sft", *common, "--output", str(straight), "--max-steps", "6",
                                             "--no-register"]) == 0
    assert await asyncio.to_thread(run_cli, ["sft", *common, "--output", str(interrupted), "--max-steps", "4",
                                             "--no-register"]) == 0
    assert [p.name for p in (interrupted / "checkpoints").iterdir()] == ["step-000004"]
    assert await asyncio.to_thread(run_cli, ["sft", "--resume", str(interrupted), "--max-steps", "6",
                                             "--no-register"]) == 0
    a, b = metrics(straight), metrics(interrupted)
    assert [r["step"] for r in b] == [1, 2, 3, 4, 5, 6]
    for x, y in zip(a, b, strict=True):
        assert x["loss"] == pytest.approx(y["loss"], rel=1e-5) and x["lr"] == pytest.approx(y["lr"])


@pytest.mark.parametrize("problem", ["missing", "not_export", "wrong_task", "empty", "bad_option"])
async def test_bad_inputs_exit_cleanly(client, settings, db, monkeypatch, tmp_path, capsys, problem):
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    data = tmp_path / "export"
    argv = ["sft", "--data", str(data), "--no-register"]
    if problem == "not_export":
        data.mkdir()
    elif problem in ("wrong_task", "empty"):
        data.mkdir()
        kind = "preference" if problem == "wrong_task" else "supervised"
        (data / "td_export.json").write_text(json.dumps({"type": kind, "format": "jsonl", "dataset_id": 1}))
        (data / "manifest.jsonl").write_text("")
    elif problem == "bad_option":
        argv += ["--lr", "5"]
    code = await asyncio.to_thread(run_cli, argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    expected = {"missing": "not found", "not_export": "td_export.json is missing",
                "wrong_task": "train this one with `dpo`", "empty": "no samples",
                "bad_option": "--lr must be between"}[problem]
    assert expected in err


async def test_export_to_generation_with_the_trained_adapter(client, app, settings, db, monkeypatch):
    """export -> train_command -> registered adapter -> activate -> generate, all through the API."""
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    monkeypatch.setenv("TD_API_URL", "http://test/api")
    export = await build_export(client, settings, db)
    argv = shlex.split(export["train_command"])[3:] + ["--epochs", "3", "--lr", "1e-2", "--batch-size", "4"]
    code = await asyncio.to_thread(main, argv, httpx.ASGITransport(app=app))
    assert code == 0
    adapters = (await client.get("/adapters")).json()["items"]
    assert len(adapters) == 1
    adapter = adapters[0]
    assert adapter["manifest_sha256"] == export["manifest_sha256"] and adapter["base_model"] == "tiny"
    assert adapter["dataset_id"] == export["dataset_id"] and not adapter["is_active"]
    assert (await client.post(f"/adapters/{adapter['id']}/activate")).status_code == 200
    pid = (await client.post("/prompts", json={"text": "calm piano"})).json()["id"]
    engine = Engine(settings, db)
    clips = {}
    for label, adapter_id in (("base", None), ("lora", adapter["id"])):
        job = (await client.post("/generate", json={"prompt_id": pid, "seed": 3, "duration": 1.0,
                                                    "adapter_id": adapter_id})).json()
        await asyncio.to_thread(engine.process_next_job)
        done = (await client.get(f"/generate/{job['id']}")).json()
        assert done["status"] == "completed", done
        clips[label] = (await client.get(f"/audio/{done['audio_ids'][0]}/stream")).content
    assert clips["base"] != clips["lora"]
