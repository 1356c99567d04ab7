"""Broker mode's registry: the worker heartbeat (worker token only), health and /api/workers
derived from it, and the leases a heartbeat renews."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.factories import run_concurrently
from training_dashboard import schemas
from training_dashboard.api.app import create_app
from training_dashboard.config import Settings
from training_dashboard.db.models import GenerationJob, utcnow
from training_dashboard.services import dispatch, prompts

TOKEN = "registry-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def broker_app(settings: Settings):  # type: ignore[no-untyped-def]
    configured = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0", "worker_token": TOKEN})
    application = create_app(configured, with_worker=False)
    yield application
    application.state.db.dispose()


@pytest.fixture
async def bclient(broker_app):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=broker_app), base_url="http://test/api") as c:
        yield c


def beat(**overrides):  # type: ignore[no-untyped-def]
    return {"name": "gpu-1:42:generate", "queues": ["generate"], "base_model": "tiny", "device": "cuda:0",
            "model_status": "ready", "error": None, "jobs": [], "runs": [], **overrides}


async def test_heartbeat_needs_the_worker_token(bclient: httpx.AsyncClient) -> None:
    missing = await bclient.post("/worker/heartbeat", json=beat())
    assert missing.status_code == 401
    wrong = await bclient.post("/worker/heartbeat", json=beat(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "worker token" in wrong.json()["detail"]


async def test_worker_endpoints_are_off_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/worker/heartbeat", json=beat(), headers=AUTH)
    assert response.status_code == 403 and "TD_WORKER_TOKEN" in response.json()["detail"]


async def test_health_in_broker_mode_follows_the_workers(bclient: httpx.AsyncClient) -> None:
    health = (await bclient.get("/health")).json()
    assert health["mode"] == "broker" and health["workers"] == []
    assert health["model"]["status"] == "not_loaded" and "python -m training_dashboard.worker" in \
        health["model"]["error"]

    assert (await bclient.post("/worker/heartbeat", json=beat(model_status="loading", device=None),
                               headers=AUTH)).status_code == 200
    assert (await bclient.get("/health")).json()["model"]["status"] == "loading"

    await bclient.post("/worker/heartbeat", json=beat(), headers=AUTH)
    await bclient.post("/worker/heartbeat", json=beat(name="gpu-2:7:train", queues=["train"], model_status="not_loaded",
                                                      device=None), headers=AUTH)
    health = (await bclient.get("/health")).json()
    assert health["model"] == {"base_model": "tiny", "status": "ready", "device": "cuda:0", "error": None}
    assert health["worker"] is True and health["status"] == "ok"
    assert sorted(w["name"] for w in health["workers"]) == ["gpu-1:42:generate", "gpu-2:7:train"]
    listed = (await bclient.get("/workers")).json()
    assert {w["name"]: w["queues"] for w in listed} == {"gpu-1:42:generate": ["generate"], "gpu-2:7:train": ["train"]}


async def test_a_worker_on_another_base_model_is_reported(bclient: httpx.AsyncClient) -> None:
    await bclient.post("/worker/heartbeat", json=beat(base_model="facebook/musicgen-small"), headers=AUTH)
    model = (await bclient.get("/health")).json()["model"]
    assert model["status"] == "failed" and "TD_BASE_MODEL=tiny" in model["error"]


async def test_heartbeat_input_is_checked(bclient: httpx.AsyncClient) -> None:
    for bad in (beat(name=""), beat(queues=["gpu"]), beat(queues=[]), beat(jobs=[[0, 1]]), beat(jobs=[[1]]),
                beat(model_status="busy"), beat(name="x" * 300), beat(runs=[["a", 1]])):
        response = await bclient.post("/worker/heartbeat", json=bad, headers=AUTH)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["detail"]


async def test_heartbeat_renews_only_the_leases_it_holds(bclient: httpx.AsyncClient, broker_app) -> None:  # type: ignore[no-untyped-def]
    db = broker_app.state.db
    prompt = prompts.create_prompt(db, schemas.PromptCreate(text="calm piano"))
    old = utcnow() - timedelta(seconds=120)

    def add(session):  # type: ignore[no-untyped-def]
        rows = [GenerationJob(prompt_id=prompt.id, status="processing", attempts=2, worker_name="gpu-1",
                              heartbeat_at=old, dispatched_at=old, updated_at=old) for _ in range(2)]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]

    held, other = db.write(add)
    # The worker names its current attempt of `held`, and a stale attempt of `other`.
    await bclient.post("/worker/heartbeat", json=beat(jobs=[[held, 2], [other, 1]]), headers=AUTH)
    jobs, runs = dispatch.expire_leases(db, lease_s=30, data_dir=broker_app.state.settings.resolved_data_dir)
    assert (jobs, runs) == (1, 0)
    with db.session() as session:
        kept, requeued = session.get(GenerationJob, held), session.get(GenerationJob, other)
        assert kept.status == "processing" and kept.worker_name == "gpu-1"
        assert requeued.status == "queued" and requeued.dispatched_at is None and requeued.worker_name is None
    assert [p.id for p in dispatch.pending(db)] == [other]


def test_first_heartbeats_racing_under_one_name_make_one_worker(broker_app) -> None:  # type: ignore[no-untyped-def]
    db = broker_app.state.db

    def send(_: int) -> None:
        dispatch.record_heartbeat(db, schemas.WorkerHeartbeat(**beat(name="twin")))

    errors = run_concurrently(send, 8, timeout=30)
    assert errors == []
    assert [w.name for w in dispatch.live_workers(db, 30)] == ["twin"]
