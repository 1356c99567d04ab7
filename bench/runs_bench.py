"""Training-run figures (issue 10): metrics of a 20,000-step run, the runs list at 1,000 runs, and
how long a logged step takes to reach the API (and from there the browser, which polls every
``state.runs.POLL_S``).

    .venv/bin/python -m bench.runs_bench                    # ~1-2 min on 2 cores
    .venv/bin/python -m bench.runs_bench --skip-live        # without the live training run

The API is the real ``python -m training_dashboard.api`` on 127.0.0.1 (bench/server.py);
rows are written through the same services the worker uses. The live part starts the API
with its worker and the tiny model, launches a real run, and compares the ``time`` each step
was appended to ``metrics.jsonl`` by the trainer with the moment the API first returns it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.load import auth_headers
from bench.server import BENCH_PASSWORD, BENCH_USER, Server, free_port, personal_token
from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.db.migrate import upgrade
from training_dashboard.db.models import TrainingRun
from training_dashboard.services import run_worker

ROOT = Path(__file__).resolve().parent.parent


def seed(data_dir: Path, runs: int, steps: int) -> int:
    """``runs`` finished runs, one of them with ``steps`` logged steps (loss, lr, grad norm, evals)."""
    settings = Settings(data_dir=data_dir, base_model="tiny", worker=False)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    upgrade(db)

    def insert(session):  # type: ignore[no-untyped-def]
        rows = [TrainingRun(name=f"bench-{i}", dataset_id=1 + i % 50, dataset_name=f"ds-{i % 50}", task="sft",
                            status=("completed", "failed", "cancelled")[i % 3], config={"preset": "standard"},
                            export_path="/nonexistent", output_dir=f"/nonexistent/run-{i}", command="python -m ...",
                            total_steps=steps, step=steps) for i in range(runs)]
        session.add_all(rows)
        session.flush()
        return rows[-1].id

    big = db.write(insert)
    run_worker.start_attempt(db, big, total_steps=steps, resumed_step=None)
    batch, t = [], 1_700_000_000.0
    for step in range(1, steps + 1):
        batch.append({"step": step, "loss": 5.0 / (1 + step / 1000), "lr": 1e-4, "grad_norm": 0.5, "time": t + step})
        if step % 200 == 0:
            batch.append({"step": step, "eval_loss": 5.5 / (1 + step / 1000)})
        if len(batch) >= 1000:  # the worker stores what it read since its last look, in one transaction
            run_worker.report_progress(db, big, batch)
            batch = []
    run_worker.report_progress(db, big, batch)
    db.dispose()
    return big


def measure(server: Server, path: str, params: dict, n: int) -> dict:
    with httpx.Client(headers=auth_headers(), base_url=server.base, timeout=30) as http:
        for _ in range(5):
            http.get(path, params=params).raise_for_status()
        cpu0, times = server.cpu_seconds(), []
        for _ in range(n):
            t0 = time.perf_counter()
            r = http.get(path, params=params)
            times.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
        cpu = (server.cpu_seconds() - cpu0) * 1000 / n
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (n - 1))], 2),
            "server_cpu_ms_per_request": round(cpu, 2), "bytes": len(r.content)}


def live_delay(workdir: Path) -> dict:
    """A real run on the tiny model: delay from a step appended to metrics.jsonl to the API returning it."""
    from tests.factories import make_clips
    from training_dashboard import schemas
    from training_dashboard.services.datasets import snapshot_dataset
    from training_dashboard.services.feedback import create_rating
    from training_dashboard.services.prompts import create_prompt

    data_dir = workdir / "live"
    settings = Settings(data_dir=data_dir, base_model="tiny", worker=False)
    settings.ensure_dirs()
    db = Database(settings.db_url)
    upgrade(db)
    prompt = create_prompt(db, schemas.PromptCreate(text="calm piano"))
    for audio_id in make_clips(db, settings, prompt.id or 0, n=8):
        create_rating(db, schemas.FeedbackCreate(audio_id=audio_id, rating=5))
    dataset = snapshot_dataset(db, schemas.DatasetCreate(name="live"))
    db.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TD_")}
    env.update(TD_DATA_DIR=str(data_dir), TD_BASE_MODEL="tiny", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT),
               TD_ADMIN_USER=BENCH_USER, TD_ADMIN_PASSWORD=BENCH_PASSWORD)
    log = open(workdir / "live-server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "training_dashboard.api", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2, headers=auth_headers()).json()["model"]["status"] == "ready":
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        os.environ["TD_API_TOKEN"] = personal_token(base, BENCH_USER, BENCH_PASSWORD)
        run = httpx.post(f"{base}/runs", timeout=60, headers=auth_headers(), json={
            "dataset_id": dataset.id, "task": "sft", "preset": "quick",
            "config": {"epochs": 30, "batch_size": 2, "max_clip_seconds": 0.5}}).json()
        metrics_file = Path(run["output_dir"]) / "metrics.jsonl"
        seen: dict[int, float] = {}
        since = 0
        while time.monotonic() < deadline + 300:
            state = httpx.get(f"{base}/runs/{run['id']}", timeout=10, headers=auth_headers()).json()
            body = httpx.get(f"{base}/runs/{run['id']}/metrics", params={"since_step": since}, timeout=10,
                             headers=auth_headers()).json()
            now = time.time()
            for step, _ in body["series"]["loss"]:
                seen.setdefault(step, now)
            since = body["last_step"]
            if state["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.02)
        written = {r["step"]: r["time"] for r in map(json.loads, metrics_file.read_text().splitlines()) if "loss" in r}
        delays = sorted((seen[s] - written[s]) * 1000 for s in written if s in seen)
        return {"status": state["status"], "steps": len(delays),
                "api_delay_p50_ms": round(statistics.median(delays), 1) if delays else None,
                "api_delay_max_ms": round(delays[-1], 1) if delays else None}
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
        log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.runs_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="td-runs-bench-") as tmp:
        workdir = Path(tmp)
        t0 = time.perf_counter()
        big = seed(workdir / "data", args.runs, args.steps)
        print(f"seeded {args.runs} runs, run {big} with {args.steps} steps in {time.perf_counter() - t0:.1f} s")
        server = Server(workdir / "data", None, workdir / "server.log")
        server.start()
        try:
            results = {
                f"GET /api/runs/{{id}}/metrics ({args.steps} steps, max_points=500)":
                    measure(server, f"/api/runs/{big}/metrics", {"max_points": 500}, args.requests),
                f"GET /api/runs?limit=20 ({args.runs} runs)":
                    measure(server, "/api/runs", {"limit": 20}, args.requests),
                "GET /api/runs?status=failed&limit=20": measure(server, "/api/runs", {"status": "failed", "limit": 20},
                                                                 args.requests),
                "GET /api/runs/{id}": measure(server, f"/api/runs/{big}", {}, args.requests),
            }
        finally:
            server.stop()
        for name, r in results.items():
            print(f"{name:<62} p50 {r['p50_ms']:>7} ms  p95 {r['p95_ms']:>7} ms  "
                  f"server CPU {r['server_cpu_ms_per_request']:>6} ms/req  {r['bytes']} B")
        if not args.skip_live:
            live = live_delay(workdir)
            print(f"live run ({live['status']}, {live['steps']} steps): step written -> returned by the API "
                  f"p50 {live['api_delay_p50_ms']} ms, max {live['api_delay_max_ms']} ms "
                  f"(the browser adds up to its {1.0:.0f} s poll: state/runs.py POLL_S)")
            results["live"] = live
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
