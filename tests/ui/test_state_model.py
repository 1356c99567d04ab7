"""The studio shows the base model's state as soon as it opens, from /api/health (a real worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.api.app import create_app, start_worker, stop_worker
from training_dashboard.config import Settings
from training_dashboard.state import model as model_state
from training_dashboard.state.model import ModelState, model_text
from training_dashboard.state.studio import StudioState


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The real API with its generation worker, told to load a model that does not exist."""
    monkeypatch.setattr(model_state, "POLL_S", 0.2)
    settings = Settings(data_dir=tmp_path / "data", base_model=str(tmp_path / "no-such-model"), worker=True,
                        readiness_threshold=5)
    application = create_app(settings)
    start_worker(application)
    yield application
    stop_worker(application)
    application.state.db.dispose()


async def test_failed_model_is_shown_and_generate_refused(root, transport, api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = await root.get_state(ModelState)
    assert model.status == "" and not model.failed  # nothing claimed before the API answered
    await run(ModelState.watch_model, model)  # polls until the worker gave up on the model
    assert model.status == "failed" and model.failed
    assert "no-such-model" in model.text and "no such directory" in model.text
    assert "TD_BASE_MODEL" in model.text and "restart the app" in model.text  # what to do

    studio = await root.get_state(StudioState)
    studio.text, studio.duration = "calm piano", "0.5"
    assert studio.can_generate  # the form is fine: the page disables Generate because of the model
    events = await run(StudioState.generate, studio)
    assert "could not be loaded" in str(events[0])
    assert studio.job_status == "" and (await api.search_prompts(schemas.PromptQuery())).total == 0  # nothing was sent


def test_model_text() -> None:
    def status(state: str, **kw: str) -> schemas.ModelStatus:
        return schemas.ModelStatus(base_model="tiny", status=state, **kw)  # type: ignore[arg-type]

    assert model_text(status("ready", device="cpu"), worker=True) == "Base model tiny is ready on cpu"
    assert model_text(status("loading"), worker=True).startswith("Loading the base model tiny")
    assert "separate worker" in model_text(status("not_loaded"), worker=False)
    failed = model_text(status("failed", error="Boom."), worker=True)
    assert "could not be loaded" in failed and ": Boom. Fix TD_BASE_MODEL" in failed
