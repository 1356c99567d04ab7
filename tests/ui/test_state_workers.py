"""Broker mode in the UI: the studio's model line and the Runs tab's worker list, from /api/health
of the real API in broker mode, fed by real worker heartbeats."""

from __future__ import annotations

import httpx
import pytest

from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.api.app import create_app
from training_dashboard.client import ApiClient
from training_dashboard.config import Settings
from training_dashboard.state import model as model_state
from training_dashboard.state import workers as workers_state
from training_dashboard.state.model import NO_GENERATE_WORKER, ModelState
from training_dashboard.state.workers import WorkersState, seen_text, worker_row

TOKEN = "ui-worker-token"


@pytest.fixture
def broker_app(settings: Settings):  # type: ignore[no-untyped-def]
    # the broker is never reached here: nothing is enqueued, and the dispatcher only runs with the app's lifespan
    configured = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0", "worker_token": TOKEN})
    application = create_app(configured, with_worker=False)
    yield application
    application.state.db.dispose()


@pytest.fixture
def beat(broker_app, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Point the model and workers states at the broker-mode API; return a heartbeat sender."""
    transport = httpx.ASGITransport(app=broker_app)
    monkeypatch.setattr(model_state, "MAX_POLLS", 1)  # one look per watch: in broker mode it would keep asking
    for module in (model_state, workers_state):
        monkeypatch.setattr(module, "api_client", lambda *_: ApiClient("http://test/api", transport=transport))

    async def send(name: str, queues: list[str], status: str = "ready", **extra: object) -> None:
        body = {"name": name, "queues": queues, "base_model": "tiny", "device": "cpu", "model_status": status,
                "error": None, "jobs": [], "runs": [], **extra}
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api") as http:
            response = await http.post("/worker/heartbeat", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 200, response.text

    return send


async def test_studio_model_line_counts_generation_workers(root, beat) -> None:  # type: ignore[no-untyped-def]
    model = await root.get_state(ModelState)
    await run(ModelState.watch_model, model)  # no worker: says so and how to start one
    assert model.status == "not_loaded" and model.text.startswith(NO_GENERATE_WORKER)
    assert "python -m training_dashboard.worker --queues generate" in model.text and not model.failed

    await beat("box-a:1:train", ["train"], "not_loaded")  # a trainer cannot generate
    await beat("box-b:2:generate", ["generate"], "loading", device=None)
    await run(ModelState.watch_model, model)
    assert model.status == "loading" and "A generation worker is loading the base model tiny" in model.text

    await beat("box-b:2:generate", ["generate"])
    await beat("box-c:3:generate", ["generate"])
    await run(ModelState.watch_model, model)
    assert model.status == "ready" and model.text == "2 generation workers ready (tiny, cpu)"

    await beat("box-b:2:generate", ["generate"], "failed", error="CUDA out of memory.")
    await beat("box-c:3:generate", ["generate"], "failed", error="CUDA out of memory.")
    await run(ModelState.watch_model, model)
    assert model.failed and model.text == "No generation worker can generate with the base model tiny: " \
                                          "CUDA out of memory."


async def test_runs_tab_lists_the_workers(root, beat) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(WorkersState)
    await run(WorkersState.load_workers, state)
    assert state.broker and state.workers == [] and state.problem == ""

    await beat("gpu-2:7:generate", ["generate"], jobs=[[5, 1]])
    await beat("gpu-1:9:train", ["train"], "not_loaded", device="cuda:0", runs=[[3, 2]])
    await run(WorkersState.load_workers, state)
    assert [w.name for w in state.workers] == ["gpu-1:9:train", "gpu-2:7:generate"]
    trainer, generator = state.workers
    assert (trainer.queues, trainer.status, trainer.doing) == ("train", "trains (cuda:0)", "run 3")
    assert (generator.queues, generator.status, generator.color, generator.doing) == \
        ("generate", "ready (tiny, cpu)", "green", "job 5")
    assert generator.last_seen in ("just now", "1 s ago", "2 s ago")


async def test_embedded_mode_shows_no_worker_list(root, app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    monkeypatch.setattr(workers_state, "api_client", lambda *_: ApiClient("http://test/api", transport=transport))
    state = await root.get_state(WorkersState)
    assert state.mode == "" and not state.broker
    await run(WorkersState.load_workers, state)
    assert state.mode == "embedded" and not state.broker and state.workers == [] and state.problem == ""


def test_worker_row_texts() -> None:
    failed = worker_row(schemas.WorkerInfo(name="g", queues=["generate"], base_model="tiny", device=None,
                                           model_status="failed", error="boom", current=None, last_seen_s=42))
    assert (failed.status, failed.color, failed.error, failed.doing, failed.last_seen) == \
        ("failed (tiny)", "red", "boom", "idle", "42 s ago")
    assert (seen_text(0.3), seen_text(600)) == ("just now", "10 min ago")
