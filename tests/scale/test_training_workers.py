"""Training runs on two Celery worker processes (two simulated machines: own dirs, no database):
a worker SIGKILLed after its first uploaded checkpoint -> the run finishes on the other worker
from that checkpoint, its adapter registered once and its metrics without gaps or duplicates;
a cancel reaches the worker running the run and stops its training child."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.engine.test_runs_crash import _seed_dataset
from tests.hardening.server import ApiServer
from tests.scale.conftest import WorkerProcess, broker_env

pytestmark = pytest.mark.slow
LEASE_S = 4.0
CONFIG = {"epochs": 4, "batch_size": 2, "checkpoint_every": 2, "learning_rate": 1e-2, "max_clip_seconds": 1.0}


@pytest.fixture
def cluster(tmp_path: Path, broker_url: str) -> Iterator[tuple[ApiServer, list[WorkerProcess], int]]:
    data_dir = tmp_path / "app"
    dataset_id = _seed_dataset(data_dir)
    server = ApiServer(data_dir, worker=True)
    env = broker_env(broker_url, server.url, LEASE_S)
    server.extra_env = env
    workers = [WorkerProcess(tmp_path, name, "train", env) for name in ("w1", "w2")]
    server.start()
    try:
        for worker in workers:
            worker.start()
        yield server, workers, dataset_id
    finally:
        for worker in workers:
            worker.kill()
        server.stop()


def _wait(server: ApiServer, workers: list[WorkerProcess], run_id: int, predicate: Callable[[dict, str], bool],
          timeout: float = 300) -> tuple[dict, str]:
    deadline = time.monotonic() + timeout
    run, log = {}, ""
    while time.monotonic() < deadline:
        run = httpx.get(f"{server.url}/runs/{run_id}", timeout=10).json()
        log = httpx.get(f"{server.url}/runs/{run_id}/logs", params={"limit": 1_048_576}, timeout=10).json()["text"]
        if predicate(run, log):
            return run, log
        time.sleep(0.1)
    tails = "\n".join(f"--- {w.name}\n{w.tail()}" for w in workers)
    raise AssertionError(f"run {run_id} never got there: {run}\n{log}\n{tails}")


def _children(run_id: int) -> list[int]:
    """Training children of ``run_id`` alive on this machine (any worker's)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"training_dashboard.training" in args and b"--run-id" in args \
                and args[args.index(b"--run-id") + 1] == str(run_id).encode():
            found.append(int(proc.name))
    return found


def _start(server: ApiServer, dataset_id: int, config: dict = CONFIG) -> dict:
    r = httpx.post(f"{server.url}/runs", timeout=60,
                   json={"dataset_id": dataset_id, "task": "sft", "preset": "quick", "config": config})
    assert r.status_code == 202, r.text
    return r.json()


def _holder(log: str, workers: list[WorkerProcess]) -> WorkerProcess:
    name = re.findall(r"claimed by (\w+)", log)[-1]
    return next(w for w in workers if w.name == name)


def test_killed_worker_run_finishes_on_the_other_from_its_checkpoint(cluster) -> None:  # type: ignore[no-untyped-def]
    server, workers, dataset_id = cluster
    run = _start(server, dataset_id)
    checkpoints = server.data_dir / "runs" / f"run-{run['id']}"
    _wait(server, workers, run["id"], lambda r, _: r["status"] == "running" and any(checkpoints.glob("*.tar")))
    _, log = _wait(server, workers, run["id"], lambda r, lg: "claimed by" in lg)
    first = _holder(log, workers)
    first.kill()  # the whole machine: worker and training child at once
    uploaded = max(int(p.stem.split("-")[1]) for p in checkpoints.glob("checkpoint-*.tar"))
    assert uploaded > 0
    final, log = _wait(server, workers, run["id"], lambda r, _: r["status"] in ("completed", "failed", "cancelled"))
    assert final["status"] == "completed" and final["attempts"] == 2, (final, log)
    other = next(w for w in workers if w is not first)
    assert _holder(log, workers) is other and other.alive()
    assert f"stopped answering for {LEASE_S:.0f} s" in log
    assert f"resumed from step {uploaded} on {other.name}" in log
    adapters = httpx.get(f"{server.url}/adapters", timeout=10).json()["items"]
    assert [a["id"] for a in adapters] == [final["adapter_id"]]  # registered once
    assert adapters[0]["report"]["run_id"] == run["id"] and adapters[0]["is_active"] is False
    assert (Path(final["output_dir"]) / "adapter_model.safetensors").is_file()
    assert not (Path(final["output_dir"]) / "checkpoints").exists()
    series = httpx.get(f"{server.url}/runs/{run['id']}/metrics", params={"max_points": 100_000},
                       timeout=10).json()["series"]
    assert [p[0] for p in series["loss"]] == list(range(1, final["total_steps"] + 1))  # no gap, no duplicate
    assert final["step"] == final["total_steps"] and final["progress"] == 1.0
    assert _children(run["id"]) == []


def test_cancel_reaches_the_running_worker_and_resume_continues(cluster) -> None:  # type: ignore[no-untyped-def]
    server, workers, dataset_id = cluster
    # Long enough that the cancel (seen at the worker's next progress report) lands mid-run:
    # with CONFIG's 24 steps the tiny model sometimes finished first. No early stop.
    run = _start(server, dataset_id, {**CONFIG, "epochs": 16, "patience": 0})
    _wait(server, workers, run["id"], lambda r, _: r["status"] == "running" and r["step"] >= 2)
    assert _children(run["id"])  # the training child runs on a worker
    assert httpx.post(f"{server.url}/runs/{run['id']}/cancel", timeout=10).status_code == 200
    final, log = _wait(server, workers, run["id"], lambda r, _: r["status"] in ("completed", "failed", "cancelled"))
    assert final["status"] == "cancelled" and final["step"] < final["total_steps"], (final, log)
    assert "cancel requested: stopping after the current step" in log
    assert "cancelled; the checkpoint is kept: resume to continue" in log
    deadline = time.monotonic() + 60
    while _children(run["id"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _children(run["id"]) == []  # the child stopped
    assert all(w.alive() for w in workers)
    stopped_at = int(re.findall(r"checkpoint at step (\d+) uploaded", log)[-1])
    assert stopped_at >= 2
    assert httpx.post(f"{server.url}/runs/{run['id']}/resume", timeout=10).status_code == 200
    final, log = _wait(server, workers, run["id"], lambda r, _: r["status"] in ("completed", "failed", "cancelled"))
    assert final["status"] == "completed" and final["attempts"] == 2, (final, log)
    assert f"resumed from step {stopped_at} on " in log
    steps = [p[0] for p in httpx.get(f"{server.url}/runs/{run['id']}/metrics", params={"max_points": 100_000},
                                     timeout=10).json()["series"]["loss"]]
    assert steps == list(range(1, final["total_steps"] + 1))


def test_warm_shutdown_hands_the_run_back_to_continue_elsewhere(cluster) -> None:  # type: ignore[no-untyped-def]
    server, workers, dataset_id = cluster
    run = _start(server, dataset_id)
    _, log = _wait(server, workers, run["id"], lambda r, lg: r["status"] == "running" and r["step"] >= 2
                   and "claimed by" in lg)
    first = _holder(log, workers)
    first.stop()  # SIGTERM: Celery's warm shutdown; the child checkpoints, the run is handed back
    assert not first.alive()
    final, log = _wait(server, workers, run["id"], lambda r, _: r["status"] in ("completed", "failed", "cancelled"))
    assert final["status"] == "completed" and final["attempts"] == 2, (final, log)
    before, after = log.split("attempt 2 claimed by", 1)
    assert "the worker is stopping; the run continues from its checkpoint" in before
    assert "stopped answering" not in log  # handed back at once, not found by the lease watcher
    handed = int(re.findall(r"checkpoint at step (\d+) uploaded", before)[-1])
    other = next(w for w in workers if w is not first)
    assert f"resumed from step {handed} on {other.name}" in after
    steps = [p[0] for p in httpx.get(f"{server.url}/runs/{run['id']}/metrics", params={"max_points": 100_000},
                                     timeout=10).json()["series"]["loss"]]
    assert steps == list(range(1, final["total_steps"] + 1))
    assert len(httpx.get(f"{server.url}/adapters", timeout=10).json()["items"]) == 1
