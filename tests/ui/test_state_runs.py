"""RunsState against the real in-process API: the launch form validates like the CLI and queues a run;
the watched run's charts grow from incremental metrics."""

from __future__ import annotations

import pytest

from tests.factories import make_clips
from tests.ui.conftest import CountingTransport, run
from training_dashboard import schemas
from training_dashboard.client import ApiClient
from training_dashboard.services import run_metrics, run_worker
from training_dashboard.state import run_form
from training_dashboard.state import runs as runs_state
from training_dashboard.state.run_form import RunFormState, validate_option
from training_dashboard.state.runs import RunsState, chart_rows, eta_text, merge_points


@pytest.fixture
def runs_transport(app, monkeypatch: pytest.MonkeyPatch) -> CountingTransport:  # type: ignore[no-untyped-def]
    counting = CountingTransport(app)
    for module in (runs_state, run_form):
        monkeypatch.setattr(module, "api_client", lambda *_: ApiClient("http://test/api", transport=counting))
    return counting


async def _dataset(api, db, settings) -> int:  # type: ignore[no-untyped-def]
    prompt = await api.create_prompt(schemas.PromptCreate(text="calm piano"))
    for audio_id in make_clips(db, settings, prompt.id, n=4):
        await api.submit_feedback(schemas.FeedbackCreate(audio_id=audio_id, rating=5))
    return (await api.create_dataset(schemas.DatasetCreate(name="good"))).id


def test_option_validation_uses_the_cli_ranges() -> None:
    lr = schemas.RunOption(name="learning_rate", flag="--lr", kind="float", default=1e-4, minimum=1e-7, maximum=1.0,
                           help="", tasks=["sft"])
    epochs = schemas.RunOption(name="epochs", flag="--epochs", kind="int", default=3, minimum=1, maximum=1000,
                               help="", tasks=["sft"])
    targets = schemas.RunOption(name="target_modules", flag="--target-modules", kind="list", default=["q_proj"],
                                help="", tasks=["sft"], choices=["q_proj", "v_proj"])
    assert validate_option(lr, "0.01") == "" and validate_option(lr, "5") == "--lr must be between 1e-07 and 1"
    assert validate_option(lr, "abc") == "--lr must be a number"
    assert validate_option(epochs, "2.5") == "--epochs must be an integer" and validate_option(epochs, "3") == ""
    assert validate_option(targets, "q_proj, v_proj") == "" and "unknown module(s) fc9" in validate_option(targets,
                                                                                                          "fc9")
    assert eta_text(75) == "ETA 1m 15s" and eta_text(3 * 3600 + 120) == "ETA 3h 02m" and eta_text(None) == ""


def test_points_merge_by_step() -> None:
    points: dict = {}
    merge_points(points, {"loss": [(1, 5.0), (2, 4.0)], "eval_loss": [(0, 6.0)]}, ("loss", "eval_loss"))
    merge_points(points, {"loss": [(2, 4.0), (3, 3.5)], "eval_loss": [(3, 4.5)]}, ("loss", "eval_loss"))
    assert chart_rows(points, ("loss", "eval_loss")) == [
        {"step": 0, "eval_loss": 6.0}, {"step": 1, "loss": 5.0}, {"step": 2, "loss": 4.0},
        {"step": 3, "loss": 3.5, "eval_loss": 4.5}]
    assert chart_rows(points, ("learning_rate",)) == []


async def test_form_fills_from_presets_validates_and_queues(root, runs_transport, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    dataset_id = await _dataset(api, db, settings)
    state = await root.get_state(RunFormState)
    await run(RunFormState.open_train_form, state, dataset_id)
    assert state.form_open and state.form_task == "sft" and state.form_dataset == "good"
    values = {f.name: f.value for f in state.fields}
    assert values["epochs"] == "1" and values["lora_r"] == "8" and "beta" not in values  # quick, sft options
    assert [p.name for p in state.presets] == ["quick", "standard", "thorough"]
    await run(RunFormState.set_form_preset, state, "thorough")
    assert {f.name: f.value for f in state.fields}["epochs"] == "10"
    await run(RunFormState.set_field, state, "learning_rate", "7")
    assert state.form_problem == "learning_rate: --lr must be between 1e-07 and 1"
    await run(RunFormState.submit_run, state)
    assert not [p for p in runs_transport.paths if p == "POST /api/runs"]  # refused before any request
    await run(RunFormState.set_field, state, "learning_rate", "0.001")
    await run(RunFormState.set_form_name, state, "mine")
    assert state.form_problem == ""
    await run(RunFormState.submit_run, state)
    assert not state.form_open and state.form_error == ""
    created = (await api.list_runs()).items[0]
    assert created.name == "mine" and created.config["preset"] == "thorough"
    assert created.config["learning_rate"] == 0.001 and created.config["epochs"] == 10
    listed = (await root.get_state(RunsState)).runs
    assert listed[0].id == created.id and listed[0].status == "queued"


async def test_watching_a_run_grows_its_charts(root, runs_transport, api, db, settings) -> None:  # type: ignore[no-untyped-def]
    dataset_id = await _dataset(api, db, settings)
    created = await api.create_run(schemas.RunCreate(dataset_id=dataset_id, task="sft"))
    run_worker.claim_next_run(db, "host", 1)
    run_worker.start_attempt(db, created.id, total_steps=10, resumed_step=None)
    run_worker.report_progress(db, created.id, [{"step": 0, "eval_loss": 6.0}, {"step": 1, "loss": 5.0, "lr": 1e-4}])
    run_metrics.append_log(settings.resolved_data_dir, created.id, "step 1 | loss 5.0")
    state = await root.get_state(RunsState)
    state.selected_id, state.view = created.id, []
    state._poll_seq = 1
    async with ApiClient("http://test/api", transport=runs_transport) as client:
        first = (await client.get_run(created.id), await client.run_metrics(created.id),
                 await client.run_logs(created.id, tail=1000))
    state._apply(*first)
    assert [p["step"] for p in state.loss_points] == [0, 1] and state.view[0].step_text == "step 1 / 10"
    run_worker.report_progress(db, created.id, [{"step": 2, "loss": 4.0, "lr": 1e-4}, {"step": 2, "eval_loss": 5.5}])
    run_metrics.append_log(settings.resolved_data_dir, created.id, "step 2 | loss 4.0")
    async with ApiClient("http://test/api", transport=runs_transport) as client:
        second = (await client.get_run(created.id), await client.run_metrics(created.id, since_step=1),
                  await client.run_logs(created.id, offset=state._log_offset))
    state._apply(*second)
    assert state.loss_points[-1] == {"step": 2, "loss": 4.0, "eval_loss": 5.5}
    assert len(state.lr_points) == 2 and state.log_text.splitlines() == ["step 1 | loss 5.0", "step 2 | loss 4.0"]
