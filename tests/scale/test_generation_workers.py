"""Generation through Celery: the app in broker mode and two worker processes (two simulated
machines: each its own temp dir, no database URL, only the broker, the API URL and the token).

Every clip must exist exactly once whatever happens: per job, rows == num_samples, and the
app's audio dir holds exactly those files, nothing else (no duplicates, no half uploads).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hardening.server import ApiServer
from tests.scale.conftest import WorkerProcess, broker_env
from training_dashboard.engine.tiny import tiny_model_dir
from training_dashboard.services import adapter_archive
from training_dashboard.worker.celery_app import make_celery

LEASE_S = 4.0
TERMINAL = ("completed", "failed", "cancelled")


@dataclass
class Cluster:
    server: ApiServer
    workers: list[WorkerProcess]
    http: httpx.Client
    broker_url: str

    def diagnostics(self) -> str:
        server_log = self.server.log.read_text(errors="replace")[-3000:] if self.server.log.exists() else ""
        return "\n".join([f"--- app ---\n{server_log}"] + [f"--- {w.name} ---\n{w.tail(40)}" for w in self.workers])

    def wait(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = check()
            except httpx.HTTPError:  # the app may be restarting
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}")
            time.sleep(0.2)

    def job(self, job_id: int) -> dict[str, Any]:
        response = self.http.get(f"/generate/{job_id}")
        response.raise_for_status()
        return response.json()

    def enqueue(self, count: int, **params: Any) -> list[int]:
        prompt = self.http.post("/prompts", json={"text": "warm analog synth", "attributes": {"mood": "calm"}})
        ids = []
        for _ in range(count):
            r = self.http.post("/generate", json={"prompt_id": prompt.json()["id"], **params})
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        return ids

    def finished(self, job_ids: list[int]) -> list[dict[str, Any]] | None:
        jobs = [self.job(j) for j in job_ids]
        return jobs if all(j["status"] in TERMINAL for j in jobs) else None

    def wait_ready(self, timeout: float = 240) -> None:
        """Both workers reported a loaded model and their Celery consumers answer."""
        names = {w.name for w in self.workers}

        def ready() -> bool:
            live = {w["name"] for w in self.http.get("/workers").json() if w["model_status"] == "ready"}
            if not names <= live:
                return False
            replies = make_celery(self.broker_url).control.ping(timeout=1.0)
            return {name.split("@")[0] for reply in replies for name in reply} >= names

        self.wait("both workers to be ready", ready, timeout)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model built once; each worker gets its own copy (as if provisioned on each machine)."""
    from training_dashboard.engine.tiny import ensure_tiny_model

    return ensure_tiny_model(tmp_path_factory.mktemp("tiny-build"))


@pytest.fixture
def cluster(tmp_path: Path, broker_url: str, tiny_model: Path) -> Iterator[Cluster]:
    server = ApiServer(tmp_path / "app", worker=True)
    env = broker_env(broker_url, server.url, LEASE_S)
    server.extra_env.update(env)
    server.start()
    workers = [WorkerProcess(tmp_path, name, "generate", env) for name in ("w1", "w2")]
    for worker in workers:
        shutil.copytree(tiny_model, tiny_model_dir(worker.dir))
        worker.start()
    http = httpx.Client(base_url=server.url, timeout=30, trust_env=False)
    cluster = Cluster(server, workers, http, broker_url)
    try:
        cluster.wait_ready()
        yield cluster
    finally:
        http.close()
        for worker in workers:
            worker.kill()
        server.stop()


def assert_each_clip_once(cluster: Cluster, jobs: list[dict[str, Any]]) -> None:
    """Every job completed with num_samples rows, and the app's audio dir holds exactly their files."""
    audio_dir = cluster.server.data_dir / "audio"
    expected: dict[str, set[str]] = {}
    for job in jobs:
        assert job["status"] == "completed", job
        assert len(job["audio_ids"]) == job["num_samples"], job
        clips = [cluster.http.get(f"/audio/{a}").json() for a in job["audio_ids"]]
        assert all(c["job_id"] == job["id"] for c in clips)
        names = {f"{i}-seed{c['seed']}.wav" for i, c in enumerate(clips)}
        assert len(names) == job["num_samples"]
        expected[f"job-{job['id']}"] = names
    on_disk = {d.name: {f.name for f in d.iterdir()} for d in audio_dir.iterdir()}
    assert on_disk == expected


def make_tiny_adapter(directory: Path, tiny_model: Path) -> Path:
    """A real PEFT LoRA for the tiny model with non-zero LoRA-B weights, wrapped as training wraps it."""
    import torch
    from peft import get_peft_model
    from transformers import MusicgenForConditionalGeneration

    from training_dashboard.training.lora import lora_config

    model = MusicgenForConditionalGeneration.from_pretrained(str(tiny_model))
    peft_model = get_peft_model(model, lora_config(rank=4, alpha=8, dropout=0.0))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    peft_model.peft_config["default"].base_model_name_or_path = "tiny"
    peft_model.save_pretrained(str(directory), save_embedding_layers=False)
    return directory


def test_twelve_jobs_spread_over_two_workers(cluster: Cluster, tiny_model: Path) -> None:
    directory = make_tiny_adapter(cluster.server.data_dir / "adapters" / "warm", tiny_model)
    adapter = cluster.http.post("/adapters", json={"name": "warm", "version": "1.0.0", "path": str(directory),
                                                   "is_active": True})
    assert adapter.status_code == 201, adapter.text
    base_ids = cluster.enqueue(8, num_samples=2, duration=2.0, seed=5)
    lora_ids = cluster.enqueue(4, num_samples=2, duration=2.0, seed=5, adapter_id=adapter.json()["id"])
    jobs = cluster.wait("12 jobs to finish", lambda: cluster.finished(base_ids + lora_ids), 300)
    assert_each_clip_once(cluster, jobs)
    assert {j["worker_name"] for j in jobs} == {"w1", "w2"}

    def first_clip(job: dict[str, Any]) -> bytes:
        response = cluster.http.get(f"/audio/{job['audio_ids'][0]}/stream")
        assert response.status_code == 200 and response.content[:4] == b"RIFF"
        return response.content

    base = {first_clip(j) for j in jobs[:8]}
    lora = {first_clip(j) for j in jobs[8:]}
    # Same seed, whichever worker ran it: one clip; the adapter (fetched by the worker) changes it.
    assert len(base) == 1 and len(lora) == 1 and base != lora
    cached = f"{adapter.json()['id']}-{adapter_archive.adapter_key(directory)}"
    for worker in cluster.workers:
        cache = worker.dir / "adapter-cache"
        entries = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
        ran_lora = any(j["worker_name"] == worker.name for j in jobs[8:])
        assert entries == ([cached] if ran_lora else []), (worker.name, entries)


def test_a_worker_killed_mid_job_loses_no_clip_and_duplicates_none(cluster: Cluster) -> None:
    long_job = cluster.enqueue(1, num_samples=4, duration=30.0, seed=11)[0]
    others = cluster.enqueue(5, num_samples=2, duration=2.0)
    started = cluster.wait("the long job to be generating", lambda: (j := cluster.job(long_job))["status"] ==
                           "processing" and j["progress"] > 0 and j, 120)
    victim = next(w for w in cluster.workers if w.name == started["worker_name"])
    survivor = next(w for w in cluster.workers if w is not victim)
    victim.kill()

    jobs = cluster.wait("every job to finish after the kill", lambda: cluster.finished([long_job, *others]), 300)
    assert_each_clip_once(cluster, jobs)
    final = jobs[0]
    assert final["attempts"] >= 2 and final["worker_name"] == survivor.name
    seeds = sorted(cluster.http.get(f"/audio/{a}").json()["seed"] for a in final["audio_ids"])
    assert seeds == [11, 12, 13, 14]  # the redelivered job made the same clips
    assert survivor.alive()


def test_an_app_restart_during_work_loses_nothing(cluster: Cluster) -> None:
    job_ids = cluster.enqueue(8, num_samples=2, duration=3.0)

    def some_done_some_not() -> bool:
        statuses = [cluster.job(j)["status"] for j in job_ids]
        return "completed" in statuses and any(s not in TERMINAL for s in statuses)

    cluster.wait("work to be under way", some_done_some_not, 180)
    cluster.server.kill()
    cluster.server.start()
    jobs = cluster.wait("every job to finish after the restart", lambda: cluster.finished(job_ids), 300)
    assert_each_clip_once(cluster, jobs)
    assert all(w.alive() for w in cluster.workers)


def test_cancel_reaches_the_running_worker(cluster: Cluster) -> None:
    long_job = cluster.enqueue(1, num_samples=4, duration=30.0)[0]
    cluster.wait("the long job to be generating", lambda: (j := cluster.job(long_job))["status"] == "processing"
                 and j["progress"] > 0, 120)
    r = cluster.http.delete(f"/generate/{long_job}")
    assert r.status_code == 200 and r.json()["status"] == "processing"  # asked; the worker stops it
    later = cluster.enqueue(2, num_samples=1, duration=1.0)
    jobs = cluster.wait("the cancel to land", lambda: cluster.finished([long_job, *later]), 120)
    assert jobs[0]["status"] == "cancelled" and jobs[0]["audio_ids"] == [] and jobs[0]["progress"] < 1
    assert not (cluster.server.data_dir / "audio" / f"job-{long_job}").exists()
    assert_each_clip_once(cluster, jobs[1:])


def test_an_evaluation_is_generated_by_the_workers(cluster: Cluster, tiny_model: Path) -> None:
    """Blind evaluations queue their clips as jobs too (with an adapter not activated yet): the
    workers generate both sides of every pair and the evaluation opens for voting."""
    directory = make_tiny_adapter(cluster.server.data_dir / "adapters" / "candidate", tiny_model)
    adapter = cluster.http.post("/adapters", json={"name": "candidate", "version": "1.0.0", "path": str(directory),
                                                   "is_active": False})
    assert adapter.status_code == 201, adapter.text
    prompt_ids = [cluster.http.post("/prompts", json={"text": f"evaluation prompt {i}"}).json()["id"]
                  for i in range(5)]
    created = cluster.http.post("/evaluations", json={"candidate_id": adapter.json()["id"], "prompt_ids": prompt_ids,
                                                      "duration": 0.5, "seed": 11})
    assert created.status_code == 202, created.text
    evaluation_id = created.json()["id"]
    evaluation = cluster.wait("the evaluation's clips", lambda: (
        e if (e := cluster.http.get(f"/evaluations/{evaluation_id}").json())["status"] != "generating" else None), 300)
    assert evaluation["status"] == "voting", evaluation
    assert evaluation["pairs_ready"] == evaluation["pairs_total"] == 5 and evaluation["pairs_failed"] == 0
    jobs = cluster.http.get("/generate", params={"limit": 50}).json()["items"]
    assert len(jobs) == 10 and {j["status"] for j in jobs} == {"completed"}
    assert_each_clip_once(cluster, [cluster.job(j["id"]) for j in jobs])
