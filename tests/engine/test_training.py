"""The training CLI on exports built through the real API, with the real tiny model."""

from __future__ import annotations

import asyncio
import json
import math
import shlex

import httpx
import pytest

from training_dashboard.training.cli import main
from training_dashboard.worker.embedded import EmbeddedWorker

FAST = ["--epochs", "4", "--lr", "1e-2", "--batch-size", "4", "--lora-rank", "8", "--no-register"]


PAIRS = ((0, 1), (2, 3), (0, 3))


async def build_export(client, settings, db, kind: str = "supervised", fmt: str = "jsonl",
                       pairs: tuple[tuple[int, int], ...] = PAIRS) -> dict:
    """Prompts -> generated clips (tiny model) -> feedback -> dataset snapshot -> export, via the API."""
    worker = EmbeddedWorker(settings, db)
    audio_ids = []
    for text in ("calm piano", "fast drums", "dark synth"):
        pid = (await client.post("/prompts", json={"text": text, "attributes": {"mood": "calm"}})).json()["id"]
        job = (await client.post("/generate", json={"prompt_id": pid, "num_samples": 4, "seed": pid, "duration": 1.0,
                                                    "temperature": 0.7})).json()
        await asyncio.to_thread(worker.process_next_job)
        done = (await client.get(f"/generate/{job['id']}")).json()
        assert done["status"] == "completed", done
        audio_ids.append(done["audio_ids"])
    for ids in audio_ids:
        if kind == "supervised":
            for aid in ids:
                assert (await client.post("/feedback", json={"audio_id": aid, "rating": 5})).status_code == 201
        else:
            for chosen, rejected in pairs:
                r = await client.post("/preferences", json={"chosen_id": ids[chosen], "rejected_id": ids[rejected]})
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
    # the kept adapter is a trained one that beat the untrained baseline, never step 0
    assert report["heldout_improved"] is True and report["adapter"] == "best held-out"
    assert report["best_step"] >= 1 and report["adapter_step"] == report["best_step"] and report["warnings"] == []
    assert not (out / "best_eval.json").exists()
    rows = metrics(out)
    assert {"step", "loss", "lr", "grad_norm"} <= set(rows[1])
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny"
    from training_dashboard.files.adapter_files import verify_adapter_dir

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
    worker = EmbeddedWorker(settings, db)
    clips = {}
    for label, adapter_id in (("base", None), ("lora", adapter["id"])):
        job = (await client.post("/generate", json={"prompt_id": pid, "seed": 3, "duration": 1.0,
                                                    "adapter_id": adapter_id})).json()
        await asyncio.to_thread(worker.process_next_job)
        done = (await client.get(f"/generate/{job['id']}")).json()
        assert done["status"] == "completed", done
        clips[label] = (await client.get(f"/audio/{done['audio_ids'][0]}/stream")).content
    assert clips["base"] != clips["lora"]


CYCLE = ((0, 1), (1, 2), (2, 3), (3, 0))  # 4 intransitive preferences per prompt: 12 in all


def eval_losses(run_dir) -> list[tuple[int, float]]:
    return [(r["step"], r["eval_loss"]) for r in metrics(run_dir) if "eval_loss" in r]


def assert_never_improved(run_dir, report: dict) -> None:
    """The scenario's premise (checked, so the test cannot pass vacuously), then the outcome."""
    evals = eval_losses(run_dir)
    assert evals[0] == (0, pytest.approx(report["initial_eval_loss"])) and len(evals) >= 2
    assert all(loss >= evals[0][1] - 1e-6 for _, loss in evals[1:])
    assert report["heldout_improved"] is False and report["adapter"] == "final"
    assert report["best_step"] is None and report["best_eval_loss"] is None
    assert report["adapter_step"] == report["steps"] >= 1
    assert len(report["warnings"]) == 1 and "held-out loss never improved" in report["warnings"][0]
    assert "--val-fraction 0" in report["warnings"][0] and "more data" in report["warnings"][0]
    from training_dashboard.files.adapter_files import verify_adapter_dir

    verify_adapter_dir(run_dir)  # the final adapter is trained: some LoRA-B is non-zero


async def test_dpo_whose_heldout_loss_never_improves_registers_the_final_adapter_marked(
        client, app, settings, db, monkeypatch, capsys):
    """3 prompts x 4 clips, 12 preferences, export, then the export's own train_command."""
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    monkeypatch.setenv("TD_API_URL", "http://test/api")
    export = await build_export(client, settings, db, kind="preference", fmt="huggingface", pairs=CYCLE)
    assert export["sample_count"] == 12
    code = await asyncio.to_thread(main, shlex.split(export["train_command"])[3:], httpx.ASGITransport(app=app))
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "no-op" not in out.out + out.err and "saved before training" not in out.out + out.err
    assert "warning: The held-out loss never improved" in out.out and "a lower learning rate" in out.out
    adapters = (await client.get("/adapters")).json()["items"]
    assert len(adapters) == 1, out.err
    adapter = adapters[0]
    run_dir = settings.data_dir / "adapters" / "preference-set-dpo-1.0.0"
    report = json.loads((run_dir / "training_report.json").read_text())
    assert_never_improved(run_dir, report)
    assert report["task"] == "dpo" and report["examples_heldout"] == 1 and report["steps"] == 9
    assert report["registered_adapter_id"] == adapter["id"]
    assert "held-out loss did not improve" in adapter["description"]
    assert adapter["report"]["heldout_improved"] is False and adapter["report"]["adapter"] == "final"


async def test_sft_whose_heldout_loss_never_improves_keeps_the_final_adapter(client, app, settings, db, monkeypatch,
                                                                             capsys):
    """A learning rate so low that held-out loss cannot move: the advice is a higher one.
    Registered afterwards with the `register` command."""
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    export = await build_export(client, settings, db)
    out = settings.data_dir / "adapters" / "still"  # registration takes adapters under the adapter roots
    code = await asyncio.to_thread(run_cli, [
        "sft", "--data", export["export_path"], "--output", str(out), "--val-fraction", "0.25", "--epochs", "1",
        "--lr", "1e-7", "--lora-rank", "1", "--lora-alpha", "1", "--target-modules", "fc2", "--no-register"])
    assert code == 0
    report = json.loads((out / "training_report.json").read_text())
    assert_never_improved(out, report)
    assert "a higher learning rate" in report["warnings"][0] and report["registered_adapter_id"] is None
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["register", str(out), "--api-url", "http://test/api"],
                                   httpx.ASGITransport(app=app))
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "marked 'held-out loss did not improve'" in printed.out
    adapter = (await client.get("/adapters")).json()["items"][0]
    assert adapter["report"]["heldout_improved"] is False
    assert json.loads((out / "training_report.json").read_text())["registered_adapter_id"] == adapter["id"]


async def test_a_failed_registration_exits_3_and_register_retries(client, app, settings, db, monkeypatch, capsys):
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    export = await build_export(client, settings, db)
    out = settings.data_dir / "adapters" / "run"
    # port 9 on loopback: nothing listens there, the connection is refused at once
    code = await asyncio.to_thread(run_cli, ["sft", "--data", export["export_path"], "--output", str(out),
                                             "--val-fraction", "0", "--api-url", "http://127.0.0.1:9/api",
                                             *FAST[:-1]])
    err = capsys.readouterr().err
    assert code == 3 and "Not registered" in err and f"training register {out}" in err and "Traceback" not in err
    assert json.loads((out / "training_report.json").read_text())["registered_adapter_id"] is None
    transport = httpx.ASGITransport(app=app)
    assert await asyncio.to_thread(main, ["register", str(out), "--api-url", "http://test/api"], transport) == 0
    capsys.readouterr()
    # the same name and version again: refused, exit 3 with the API's reason
    assert await asyncio.to_thread(main, ["register", str(out), "--api-url", "http://test/api"], transport) == 3
    assert "refused" in capsys.readouterr().err
    assert len((await client.get("/adapters")).json()["items"]) == 1


async def test_register_a_directory_that_is_not_a_finished_run(settings, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    code = await asyncio.to_thread(run_cli, ["register", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "not a finished training run" in err and "Traceback" not in err


async def test_a_run_whose_final_save_fails_exits_1(client, settings, db, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    export = await build_export(client, settings, db)
    out = tmp_path / "run"
    assert await asyncio.to_thread(run_cli, ["sft", "--data", export["export_path"], "--output", str(out),
                                             "--val-fraction", "0", "--max-steps", "2", "--checkpoint-every", "2",
                                             *FAST]) == 0
    (out / "adapter_model.safetensors").unlink()
    (out / "adapter_model.safetensors").mkdir()  # the final adapter cannot be written there
    capsys.readouterr()
    code = await asyncio.to_thread(run_cli, ["sft", "--resume", str(out), "--max-steps", "3"])
    err = capsys.readouterr().err
    assert code == 1 and "saving the adapter or its report" in err and "Traceback" not in err


async def test_resume_keeps_a_best_adapter_saved_after_the_last_checkpoint(client, settings, db, monkeypatch,
                                                                            tmp_path):
    """The interrupted run saved its best adapter (step 3) after its last checkpoint (step 2);
    the resumed run, with a learning rate too low to beat it, must keep it and report it."""
    monkeypatch.setenv("TD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TD_BASE_MODEL", "tiny")
    export = await build_export(client, settings, db)
    out = tmp_path / "run"
    assert await asyncio.to_thread(run_cli, [
        "sft", "--data", export["export_path"], "--output", str(out), "--val-fraction", "0.25", "--eval-every", "1",
        "--checkpoint-every", "2", "--keep-checkpoints", "1", "--max-steps", "3", *FAST]) == 0
    first = json.loads((out / "training_report.json").read_text())
    assert first["best_step"] == 3 and [s for s, _ in eval_losses(out)] == [0, 1, 2, 3]
    losses = [loss for _, loss in eval_losses(out)]
    assert losses == sorted(losses, reverse=True)  # premise: each evaluation improved on the one before
    best_weights = (out / "best" / "adapter_model.safetensors").read_bytes()
    assert await asyncio.to_thread(run_cli, ["sft", "--resume", str(out), "--max-steps", "5", "--lr", "1e-7"]) == 0
    report = json.loads((out / "training_report.json").read_text())
    resumed = eval_losses(out)
    assert [s for s, _ in resumed] == [0, 1, 2, 3, 4, 5] and resumed[3][1] > first["best_eval_loss"]
    assert report["hyperparameters"]["lr"] == 1e-7  # and it is the rate the resumed steps used:
    assert all(r["lr"] <= 1e-7 for r in metrics(out) if "loss" in r and r["step"] > 2)
    assert report["best_step"] == 3 and report["best_eval_loss"] == pytest.approx(first["best_eval_loss"])
    assert report["adapter"] == "best held-out" and report["adapter_step"] == 3
    assert (out / "adapter_model.safetensors").read_bytes() == best_weights
