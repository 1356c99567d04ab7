"""Scale-out figures (issue 13): generation throughput on one Celery worker vs two, and the
enqueue-to-start latency through the broker vs the in-process worker. Tiny model, loopback only.

    .venv/bin/python -m bench.scale_bench                      # ~3 min on 2 cores
    .venv/bin/python -m bench.scale_bench --jobs 24 --samples 2 --duration 1.0
    ./scripts/with_redis.sh .venv/bin/python -m bench.scale_bench   # use that Redis (TD_TEST_REDIS_URL)

Throughput: one app in broker mode (``python -m training_dashboard.api``, TD_BROKER_URL) and
worker processes started as on separate machines (own scratch dir, no database URL,
``TD_TORCH_THREADS=1`` each). The same ``--jobs`` jobs (same prompt, params and seeds) run first
with one worker, then with two, in the same run: the ratio is jobs/s(two) / jobs/s(one).

Latency: ``created_at -> started_at`` of each job (both stamped by the app: at enqueue and at
the claim), jobs sent one at a time to idle workers, through the broker and through the
embedded worker thread of a second app without TD_BROKER_URL.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import httpx
import psutil

from tests.hardening.server import ROOT, ApiServer, free_port

TOKEN = "bench-worker-token"
TERMINAL = ("completed", "failed", "cancelled")
PROMPT = "bench: a calm piano loop"


class RedisServer:
    """``TD_TEST_REDIS_URL`` when set (scripts/with_redis.sh), else a redis-server of our own on 127.0.0.1."""

    def __init__(self, work: Path) -> None:
        self.work, self.proc = work, None
        self.url = os.environ.get("TD_TEST_REDIS_URL", "")

    def __enter__(self) -> RedisServer:
        if self.url:
            return self
        server = shutil.which("redis-server")
        if not server:
            raise SystemExit("redis-server is not installed (apt-get install redis-server) and TD_TEST_REDIS_URL unset")
        port = free_port()
        self.proc = subprocess.Popen([server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.work),
                                      "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        import redis

        client, deadline = redis.Redis(host="127.0.0.1", port=port), time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.05)
        self.url = f"redis://127.0.0.1:{port}/0"
        return self

    def database(self, number: int) -> str:
        import redis

        url = f"{self.url.rsplit('/', 1)[0]}/{number}"
        redis.Redis.from_url(url).flushdb()
        return url

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


class Worker:
    """``python -m training_dashboard.worker --queues generate`` as its own machine would run it."""

    def __init__(self, root: Path, name: str, broker: str, api: str) -> None:
        self.name, self.dir, self.log = name, root / f"worker-{name}", root / f"worker-{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TD_")}
        env.update(TD_BROKER_URL=broker, TD_API_URL=api, TD_WORKER_TOKEN=TOKEN, TD_DATA_DIR=str(self.dir),
                   TD_BASE_MODEL="tiny", TD_TORCH_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "training_dashboard.worker", "--queues", "generate",
                                          "--name", name], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def completed(self) -> int:
        """Jobs this worker completed (its log)."""
        return len(re.findall(r"job \d+ attempt \d+ completed", self.log.read_text(errors="replace")))

    def cpu_s(self) -> float:
        try:
            procs = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
            return sum(p.cpu_times().user + p.cpu_times().system for p in procs)
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)


def wait_ready(http: httpx.Client, names: set[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = http.get("workers").raise_for_status().json()
        if names <= {w["name"] for w in workers if w["model_status"] == "ready"}:
            return
        time.sleep(0.2)
    raise SystemExit(f"workers {sorted(names)} not ready within {timeout:.0f} s")


def wait_model_ready(http: httpx.Client, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while http.get("health").json()["model"]["status"] != "ready":
        if time.monotonic() > deadline:
            raise SystemExit("the embedded worker's model did not load")
        time.sleep(0.2)


def enqueue(http: httpx.Client, prompt_id: int, index: int, samples: int, duration: float) -> int:
    body = {"prompt_id": prompt_id, "num_samples": samples, "duration": duration, "seed": 1000 + index}
    return int(http.post("generate", json=body).raise_for_status().json()["id"])


def wait_done(http: httpx.Client, job_ids: list[int], timeout: float) -> list[dict]:
    """Wait for every job, asking about one at a time (oldest first) so the polling itself stays
    a small load on the app (~20 requests/s)."""
    deadline, done = time.monotonic() + timeout, []
    for job_id in job_ids:
        while True:
            job = http.get(f"generate/{job_id}").raise_for_status().json()
            if job["status"] in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"job {job_id} not finished within {timeout:.0f} s: {job}")
            time.sleep(0.05)
        if job["status"] != "completed":
            raise SystemExit(f"job {job_id} did not complete: {job}")
        done.append(job)
    return done


def batch(http: httpx.Client, prompt_id: int, jobs: int, samples: int, duration: float) -> float:
    """Enqueue ``jobs`` at once; seconds until the last one completed."""
    t0 = time.perf_counter()
    ids = [enqueue(http, prompt_id, i, samples, duration) for i in range(jobs)]
    wait_done(http, ids, timeout=900)
    return time.perf_counter() - t0


def start_latencies(http: httpx.Client, prompt_id: int, count: int, duration: float) -> list[float]:
    """One job at a time to an idle worker: created_at -> started_at, in ms."""
    out = []
    for i in range(count):
        job = wait_done(http, [enqueue(http, prompt_id, i, 1, duration)], timeout=300)[0]
        created, started = (datetime.fromisoformat(job[k].replace("Z", "+00:00")) for k in ("created_at",
                                                                                               "started_at"))
        out.append((started - created).total_seconds() * 1000)
        time.sleep(0.3)  # idle again: the next job does not catch a worker mid-poll by luck of timing
    return out


def worker_calls(log: Path) -> dict[str, int]:
    """Worker API calls by kind, from the app's access log (claim, progress, clips, complete...)."""
    counts: dict[str, int] = {}
    for kind in re.findall(r'"(?:POST|PUT|GET) /api/worker/jobs/\d+/(\w+)', log.read_text(errors="replace")):
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def app_cpu_s(server: ApiServer) -> float:
    assert server.proc is not None
    t = psutil.Process(server.proc.pid).cpu_times()
    return t.user + t.system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=12, help="jobs per throughput phase (12)")
    parser.add_argument("--samples", type=int, default=1, help="clips per job (1)")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds of audio per clip (1.0)")
    parser.add_argument("--latency-jobs", type=int, default=10, help="jobs per latency measurement (10)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs of the app and workers)")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="td-scale-bench-"))
    print(f"work dir {root}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[str, str] = {}
    with ExitStack() as stack:
        redis_server = stack.enter_context(RedisServer(root))
        broker = redis_server.database(14)
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        app = ApiServer(root / "app", worker=True, env={"TD_BROKER_URL": broker, "TD_WORKER_TOKEN": TOKEN,
                                                         "TD_API_URL": api, "TD_WORKER_LEASE_S": "30"})
        app.port, app.url = port, api
        app.start(timeout=120)
        stack.callback(app.stop)
        http = stack.enter_context(httpx.Client(base_url=api + "/", timeout=30, headers=app.headers))
        prompt_id = http.post("prompts", json={"text": PROMPT}).raise_for_status().json()["id"]

        w1 = Worker(root, "w1", broker, api)
        stack.callback(w1.stop)
        wait_ready(http, {"w1"})
        wait_done(http, [enqueue(http, prompt_id, 999, args.samples, args.duration)], timeout=300)  # warm-up
        cpu0, w1_cpu0 = app_cpu_s(app), w1.cpu_s()
        one_s = batch(http, prompt_id, args.jobs, args.samples, args.duration)
        one_app_cpu, one_w_cpu = app_cpu_s(app) - cpu0, w1.cpu_s() - w1_cpu0
        print(f"1 worker : {args.jobs} jobs in {one_s:.1f} s ({args.jobs / one_s:.2f} jobs/s); app CPU "
              f"{one_app_cpu:.1f} s, worker CPU {one_w_cpu:.1f} s", flush=True)

        w2 = Worker(root, "w2", broker, api)
        stack.callback(w2.stop)
        wait_ready(http, {"w1", "w2"})
        before = {w.name: w.completed() for w in (w1, w2)}
        cpu0, wc0 = app_cpu_s(app), w1.cpu_s() + w2.cpu_s()
        two_s = batch(http, prompt_id, args.jobs, args.samples, args.duration)
        two_app_cpu, two_w_cpu = app_cpu_s(app) - cpu0, w1.cpu_s() + w2.cpu_s() - wc0
        spread = {w.name: w.completed() - before[w.name] for w in (w1, w2)}
        print(f"2 workers: {args.jobs} jobs in {two_s:.1f} s ({args.jobs / two_s:.2f} jobs/s); app CPU "
              f"{two_app_cpu:.1f} s, workers CPU {two_w_cpu:.1f} s; jobs per worker {spread}", flush=True)
        results["ratio"] = f"{one_s / two_s:.2f}"
        calls = worker_calls(app.log)
        total_jobs = max(1, calls.get("claim", 0))
        print("worker API calls per job: " + ", ".join(f"{k} {v / total_jobs:.1f}" for k, v in sorted(calls.items())),
              flush=True)

        broker_ms = start_latencies(http, prompt_id, args.latency_jobs, args.duration)
        print(f"broker   : enqueue -> start p50 {statistics.median(broker_ms):.0f} ms "
              f"(min {min(broker_ms):.0f}, max {max(broker_ms):.0f}; {len(broker_ms)} jobs)", flush=True)
        for worker in (w2, w1):
            worker.stop()
        app.stop()

        embedded = ApiServer(root / "embedded", worker=True, env={"TD_TORCH_THREADS": "1"})
        embedded.start(timeout=120)
        stack.callback(embedded.stop)
        ehttp = stack.enter_context(httpx.Client(base_url=embedded.url + "/", timeout=30, headers=embedded.headers))
        wait_model_ready(ehttp)
        eprompt = ehttp.post("prompts", json={"text": PROMPT}).raise_for_status().json()["id"]
        wait_done(ehttp, [enqueue(ehttp, eprompt, 999, 1, args.duration)], timeout=300)  # warm-up
        embedded_ms = start_latencies(ehttp, eprompt, args.latency_jobs, args.duration)
        print(f"embedded : enqueue -> start p50 {statistics.median(embedded_ms):.0f} ms "
              f"(min {min(embedded_ms):.0f}, max {max(embedded_ms):.0f}; {len(embedded_ms)} jobs)", flush=True)

    print()
    print("| what | figure |")
    print("|---|---|")
    print(f"| throughput, {args.jobs} jobs × {args.samples} clip(s) × {args.duration:g} s, 1 worker | "
          f"{args.jobs / one_s:.2f} jobs/s ({one_s:.1f} s) |")
    print(f"| same jobs, 2 workers | {args.jobs / two_s:.2f} jobs/s ({two_s:.1f} s), split {spread} |")
    print(f"| ratio 2 workers / 1 worker | **{results['ratio']}×** |")
    print(f"| enqueue → start p50, broker (Celery + Redis) | {statistics.median(broker_ms):.0f} ms |")
    print(f"| enqueue → start p50, embedded worker thread | {statistics.median(embedded_ms):.0f} ms |")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
