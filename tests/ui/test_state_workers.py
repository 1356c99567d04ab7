"""Broker mode in the UI: the studio's model line and the Runs tab's worker list, from /api/health."""

from __future__ import annotations

import pytest

from tests.ui.conftest import run
from training_dashboard import schemas
from training_dashboard.state import workers as workers_state
from training_dashboard.state.model import NO_GENERATE_WORKER, broker_model_text
from training_dashboard.state.workers import WorkersState, seen_text, worker_row


def _worker(name: str, queues: list[str], status: str | None = "ready", **kw: object) -> schemas.WorkerInfo:
    return schemas.WorkerInfo(name=name, queues=queues, base_model="tiny", device="cpu", model_status=status,
                              last_seen_s=kw.pop("last_seen_s", 2.0), **kw)  # type: ignore[arg-type]


def _health(*workers: schemas.WorkerInfo, status: str = "not_loaded") -> schemas.Health:
    return schemas.Health(status="ok", version="x", database=True, worker=False, mode="broker",
                          model=schemas.ModelStatus(base_model="tiny", status=status),  # type: ignore[arg-type]
                          workers=list(workers))


def test_broker_model_text() -> None:
    assert broker_model_text(_health()).startswith(NO_GENERATE_WORKER)
    assert "python -m training_dashboard.worker --queues generate" in broker_model_text(_health())
    trainer = _worker("t1", ["train"])
    assert broker_model_text(_health(trainer)).startswith(NO_GENERATE_WORKER)  # a trainer cannot generate
    two = _health(_worker("g1", ["generate"]), _worker("g2", ["generate", "train"]), trainer, status="ready")
    assert broker_model_text(two) == "2 generation workers ready (tiny, cpu)"
    one = _health(_worker("g1", ["generate"]), _worker("g2", ["generate"], "loading"), status="ready")
    assert broker_model_text(one) == "1 generation worker ready (tiny, cpu)"
    assert "is loading the base model tiny" in broker_model_text(_health(_worker("g", ["generate"], "loading")))
    failed = broker_model_text(_health(_worker("g1", ["generate"], "failed", error="No such model."),
                                       _worker("g2", ["generate"], "failed", error="CUDA out of memory"),
                                       status="failed"))
    assert "No generation worker could load the base model tiny" in failed
    assert "CUDA out of memory; No such model" in failed and "TD_BASE_MODEL" in failed


def test_worker_row() -> None:
    busy = worker_row(_worker("gpu-1:12:generate", ["generate"], jobs=[7, 9], runs=[3], last_seen_s=0.4))
    assert (busy.queues, busy.status, busy.color) == ("generate", "ready (tiny, cpu)", "green")
    assert (busy.doing, busy.last_seen) == ("job 7, job 9, run 3", "just now")
    broken = worker_row(_worker("g", ["generate"], "failed", error="boom", last_seen_s=42))
    assert (broken.color, broken.error, broken.doing, broken.last_seen) == ("red", "boom", "idle", "42 s ago")
    trainer = worker_row(_worker("t", ["train"], None))
    assert (trainer.status, trainer.color) == ("ready (cpu)", "green")
    assert seen_text(600) == "10 min ago"


@pytest.fixture
def workers_api(transport, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from training_dashboard.client import ApiClient

    monkeypatch.setattr(workers_state, "api_client", lambda: ApiClient("http://test/api", transport=transport))
    return transport


async def test_embedded_mode_shows_no_worker_list(root, workers_api) -> None:  # type: ignore[no-untyped-def]
    state = await root.get_state(WorkersState)
    assert state.mode == "" and not state.broker
    await run(WorkersState.load_workers, state)
    assert state.mode == "embedded" and not state.broker and state.workers == [] and state.problem == ""
    assert "GET /api/health" in workers_api.paths
