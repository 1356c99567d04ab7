"""The generation executor of a Celery worker (worker/generation.py), called directly against the
real API in its own process: the outcomes it reports and the ones it must not (no Celery here;
tests/scale runs it inside real worker processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import make_lora_dir
from tests.hardening.server import ApiServer, free_port
from training_dashboard.config import Settings
from training_dashboard.engine.tiny import tiny_model_dir
from training_dashboard.worker.api import WorkerApi
from training_dashboard.worker.context import WorkerContext
from training_dashboard.worker.generation import execute_job, load_model

TOKEN = "executor-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    srv = ApiServer(tmp_path_factory.mktemp("app") / "data", env={"TD_WORKER_TOKEN": TOKEN}).start()
    yield srv
    srv.stop()


@pytest.fixture
def http(server: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as client:
        yield client


def make_ctx(data_dir: Path, api_url: str, base_model: str = "tiny", name: str = "box-t",
             patience_s: float = 30.0) -> WorkerContext:
    settings = Settings(data_dir=data_dir, base_model=base_model, worker=False, api_url=api_url, worker_token=TOKEN)
    settings.ensure_dirs()
    api = WorkerApi(api_url, TOKEN, patience_s=patience_s)
    api.http.headers["X-TD-Worker"] = name
    return WorkerContext(settings=settings, api=api, name=name, queues=("generate",))


@pytest.fixture(scope="module")
def ready(server: ApiServer, tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> WorkerContext:
    data_dir = tmp_path_factory.mktemp("worker")
    tiny_model_dir(data_dir).parent.mkdir(parents=True)
    tiny_model_dir(data_dir).symlink_to(tiny_model_path, target_is_directory=True)
    ctx = make_ctx(data_dir, server.url)
    assert load_model(ctx) is True
    assert ctx.model_status == "ready" and ctx.device == "cpu" and ctx.error is None
    return ctx


def _job(http: httpx.Client, **params: object) -> int:
    prompt = http.post("/prompts", json={"text": "slow strings", "attributes": {"mood": "sad"}}).json()
    r = http.post("/generate", json={"prompt_id": prompt["id"], "duration": 0.5, **params})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def test_a_claimed_job_is_generated_uploaded_and_completed(ready: WorkerContext, http: httpx.Client,
                                                           server: ApiServer) -> None:
    job_id = _job(http, num_samples=2, seed=41)
    execute_job(ready, job_id)
    job = http.get(f"/generate/{job_id}").json()
    assert job["status"] == "completed" and job["worker_name"] == "box-t" and job["attempts"] == 1, job
    clips = [http.get(f"/audio/{a}").json() for a in job["audio_ids"]]
    assert [(c["seed"], c["duration"], c["sample_rate"]) for c in clips] == [(41, 0.5, 32000), (42, 0.5, 32000)]
    assert sorted(p.name for p in (server.data_dir / "audio" / f"job-{job_id}").iterdir()) == \
        ["0-seed41.wav", "1-seed42.wav"]
    assert ready.jobs == {}
    assert not [p for p in ready.settings.resolved_data_dir.iterdir() if p.name.startswith(".job-")]

    execute_job(ready, job_id)  # delivered again: the claim refuses it, nothing changes
    assert http.get(f"/generate/{job_id}").json()["audio_ids"] == job["audio_ids"]


def test_a_model_that_failed_to_load_fails_each_job_with_the_reason(server: ApiServer, http: httpx.Client,
                                                                    tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "w", server.url, base_model=str(tmp_path / "no-such-model"))
    assert load_model(ctx) is False  # reported, never raised
    assert ctx.model_status == "failed" and "no such directory" in (ctx.error or "")
    job_id = _job(http)
    execute_job(ctx, job_id)
    job = http.get(f"/generate/{job_id}").json()
    assert job["status"] == "failed" and "not available on worker box-t" in job["error"]
    assert "no such directory" in job["error"] and ctx.jobs == {}


def test_a_worker_on_another_base_model_refuses_the_job(server: ApiServer, http: httpx.Client,
                                                        tiny_model_path: Path, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "w", server.url, base_model=str(tiny_model_path))
    assert load_model(ctx) is True
    job_id = _job(http)
    execute_job(ctx, job_id)
    job = http.get(f"/generate/{job_id}").json()
    assert job["status"] == "failed" and "but the app runs 'tiny'" in job["error"]
    assert "TD_BASE_MODEL=tiny" in job["error"]


def test_adapter_problems_fail_the_job_with_a_readable_error(ready: WorkerContext, http: httpx.Client,
                                                             server: ApiServer) -> None:
    root = server.data_dir / "adapters"
    # A LoRA for another architecture: the worker downloads it, and the runtime refuses it.
    foreign = make_lora_dir(root, "foreign")
    adapter = http.post("/adapters", json={"name": "foreign", "version": "1.0.0", "path": str(foreign),
                                           "is_active": True}).json()
    job_id = _job(http, adapter_id=adapter["id"])
    execute_job(ready, job_id)
    job = http.get(f"/generate/{job_id}").json()
    assert job["status"] == "failed" and "does not fit this model" in job["error"], job
    assert len(list((ready.settings.resolved_data_dir / "adapter-cache").glob(f"{adapter['id']}-*"))) == 1

    # Files gone on the app: the archive download is refused, and the job says why.
    gone = make_lora_dir(root, "gone")
    adapter = http.post("/adapters", json={"name": "gone", "version": "1.0.0", "path": str(gone),
                                           "is_active": True}).json()
    job_id = _job(http, adapter_id=adapter["id"])
    (gone / "adapter_model.safetensors").unlink()
    execute_job(ready, job_id)
    job = http.get(f"/generate/{job_id}").json()
    assert job["status"] == "failed" and f"could not send adapter {adapter['id']}" in job["error"], job
    assert "adapter_model.safetensors cannot be read" in job["error"]


def test_an_unreachable_app_puts_the_message_back(tmp_path: Path) -> None:
    from celery.exceptions import Reject

    ctx = make_ctx(tmp_path / "w", f"http://127.0.0.1:{free_port()}/api", patience_s=0.5)
    with pytest.raises(Reject) as caught:
        execute_job(ctx, 1)
    assert caught.value.requeue is True and ctx.jobs == {}
